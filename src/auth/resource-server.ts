/**
 * Bearer-token authentication for the FHIR API (app-launch §access-fhir-api; access-spec §1.7,
 * §1.12). Every request: our alg allow-list, signature, `exp`, `iss`, `aud` = FHIR base (the
 * signature check remembered per token string, verified-tokens.ts; `exp` compared every time), the grant
 * still live and the token not revoked (revocation, logout and deactivation act on the next
 * request), a coarse type/interaction scope check from the URL, then the access engine (whose
 * eligibility gates run on every request).
 * Failures: 401 + `WWW-Authenticate: Bearer error="invalid_token"` + OperationOutcome `login`
 * (`expired` for an expired token); the reason is never echoed.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { AccessContext, LivenessGuard } from '../access/access-context.js';
import type { Config } from '../config/config.js';
import type { Db } from '../db/db.js';
import { isResourceType } from '../fhir/definitions/registry.js';
import { FhirError, unauthorized } from '../fhir/errors.js';
import { plainReadType } from '../fhir/interactions/instance.js';
import { plainSearchType } from '../fhir/interactions/search-history.js';
import type { Repository } from '../fhir/repository/repository.js';
import type { Logger } from '../log.js';
import { requireScope } from '../access/scope-access.js';
import { ClinicianChecks } from './clinician-check.js';
import { requireFirstParty } from './first-party.js';
import { liveGrantForToken, liveGrantVersionSql, type Grant } from './grants.js';
import { KeyStore } from './keys.js';
import type { Principal } from '../identity/principal.js';
import { parseScopes, type Interaction, type Scope } from '../identity/scopes.js';
import { TokenError, type AccessTokenClaims } from './tokens.js';
import { VerifiedTokens } from './verified-tokens.js';

export interface ResourceServerDeps {
  config: Config;
  db: Db;
  logger: Logger;
  repo: Repository;
  keys?: KeyStore;
  /** Principal → AccessContext: the access engine, which also re-checks the eligibility gates (401 when one fails). */
  toAccess: (principal: Principal, req: Request, res: Response, liveness?: LivenessGuard) => AccessContext | Promise<AccessContext>;
}

export { unauthorized };

/**
 * A token's scope string parsed once: an app sends the same string on every request, and parsing it
 * was a visible share of a read's CPU. Frozen, so no request can change what another sees; its
 * identity also lets decide.ts sign the filters it makes from it without serialising it again.
 */
const parsedScopes = new Map<string, readonly Scope[]>();
function scopesOf(scope: string): readonly Scope[] {
  let hit = parsedScopes.get(scope);
  if (!hit) {
    if (parsedScopes.size >= 1_000) parsedScopes.delete(parsedScopes.keys().next().value as string);
    hit = Object.freeze(parseScopes(scope).map((s) => Object.freeze(s)));
    parsedScopes.set(scope, hit);
  }
  return hit;
}

/** Closing or reopening the account (S13, S14): the portal's operations only (first-party.ts). */
const ACCOUNT_OPERATION = /^\/Patient\/[^/]+\/(\$deactivate|\$reactivate)$/;

/** Whether the grant check may ride in the request's own statement: a plain read by id (instance.ts). */
export function isDeferrableRead(req: { method: string; path: string }): boolean {
  return plainReadType(req) !== null;
}

/**
 * Whether the grant check may ride in the statement of a plain search (search-history.ts
 * `plainSearchType`): the search handler answers it with ONE statement (search/execute.ts), which
 * carries the check as the read's does (issue 11 §2). Not AuditEvent: the access log has its own
 * routes, which take only a fully checked context (audit-routes.ts).
 */
export function isDeferrableSearch(req: { method: string; path: string }): boolean {
  return plainSearchType(req) !== null;
}

/** What a token's last full check established: its live grant and the access version it was decided under. */
interface Known {
  grant: Grant;
  version: number;
}
const KNOWN_MAX = 10_000;

export function authenticateFhir(deps: ResourceServerDeps): RequestHandler {
  const keys = deps.keys ?? new KeyStore(deps.db);
  const { toAccess } = deps;
  const clinicians = new ClinicianChecks();
  // Signature and claims checks are remembered per token string; the grant below is checked every time.
  const verified = new VerifiedTokens(keys, deps.config);
  // Per token id: what its last full check found, so a read by id can check the grant in its own statement.
  const known = new Map<string, Known>();

  /** The principal of a token under a live grant, after the checks that need no database. */
  const admit = async (req: Request, claims: AccessTokenClaims, grant: Grant, accessVersion: number, readType: string | null): Promise<Principal> => {
    if (grant.clientId !== claims.client_id) throw unauthorized('login');
    // A clinician's Practitioner must still be active (issue 10 hole 10); remembered per access version.
    if (!(await clinicians.stillActive(deps.repo, { ...grant, accessVersion }))) throw unauthorized('login');
    const principal: Principal = {
      kind: grant.kind,
      clientId: grant.clientId,
      ...(grant.sub ? { sub: grant.sub } : {}),
      scopes: scopesOf(claims.scope),
      ...(grant.patientId ? { patientId: grant.patientId } : {}),
      ...(grant.fhirUser ? { fhirUser: grant.fhirUser } : {}),
      grantId: grant.grantId,
      tokenId: claims.jti,
      accessVersion,
    };
    const wanted = readType !== null ? { type: readType, interaction: 'r' as const } : interactionOf(req);
    if (wanted) requireScope(principal, wanted.type, wanted.interaction);
    const accountOp = ACCOUNT_OPERATION.exec(req.path)?.[1];
    if (accountOp) requireFirstParty(principal, accountOp);
    return principal;
  };

  /** The full check: the live grant and access version (one statement), then the access engine. */
  const authorise = async (req: Request, res: Response, claims: AccessTokenClaims, readType: string | null): Promise<AccessContext> => {
    const grant = await liveGrantForToken(deps.db, claims.grant_id, claims.jti);
    if (!grant) {
      known.delete(claims.jti);
      throw unauthorized('login');
    }
    const principal = await admit(req, claims, grant, grant.accessVersion, readType);
    res.locals.principal = principal;
    const access = await toAccess(principal, req, res);
    res.locals.access = access;
    known.delete(claims.jti);
    if (known.size >= KNOWN_MAX) known.delete(known.keys().next().value as string);
    known.set(claims.jti, { grant, version: grant.accessVersion });
    return access;
  };

  /**
   * A read by id or a plain search of a token whose last full check passed: decided under the access
   * version found then, with the grant check left to the request's own statement (issue 11 §2: one
   * round trip instead of two). The context is put where only the read and search handlers take it
   * (`res.locals.guardedAccess`, interactions/context.ts), so any other handler finds no context and
   * refuses (deny by default). Whatever cannot be decided from what is known — a gate now failing, e.g.
   * after the Oslo day turned — goes through the full check instead, so no refusal rests on an old version.
   */
  const deferred = async (req: Request, res: Response, claims: AccessTokenClaims, hit: Known, readType: string | null): Promise<boolean> => {
    let decided: AccessContext | null = null;
    const guard: LivenessGuard = {
      version: hit.version,
      sql: (params) => liveGrantVersionSql(params, claims.grant_id, claims.jti, claims.client_id),
      settle: async (version) => {
        if (version === null) {
          known.delete(claims.jti);
          throw unauthorized('login');
        }
        if (version === hit.version) {
          res.locals.access = decided;
          return null;
        }
        // An access fact changed since: decided afresh, as if nothing were known.
        delete res.locals.guardedAccess;
        return authorise(req, res, claims, readType);
      },
    };
    try {
      const principal = await admit(req, claims, hit.grant, hit.version, readType);
      res.locals.principal = principal;
      decided = await toAccess(principal, req, res, guard);
    } catch (err) {
      // A refusal (a gate, a scope) is given by the full check, which checks the grant first.
      if (!(err instanceof FhirError)) throw err;
      return false;
    }
    res.locals.guardedAccess = decided;
    return true;
  };

  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    try {
      const header = req.get('authorization');
      const match = header ? /^Bearer\s+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header) : null;
      if (!match) throw unauthorized('login');
      let claims;
      try {
        claims = await verified.verify(match[1]!);
      } catch (err) {
        if (err instanceof TokenError) throw unauthorized(err.reason === 'expired' ? 'expired' : 'login');
        throw err;
      }
      const readType = plainReadType(req);
      const hit = readType !== null || isDeferrableSearch(req) ? known.get(claims.jti) : undefined;
      if (!(hit && hit.grant.grantId === claims.grant_id && (await deferred(req, res, claims, hit, readType)))) await authorise(req, res, claims, readType);
      next();
    } catch (err) {
      next(err);
    }
  };
}

/**
 * The type-level interaction a FHIR URL asks for (scopes §v2: r = read/vread/instance history;
 * s = search and type history; u = update, patch and update-as-create). Operations get a scope
 * check like every other interaction (issue 10 hole 5): `Patient/{id}/$everything` needs read on
 * Patient and shows only the types the token may read (the access filters); `$deactivate` and
 * `$reactivate` need update on Patient (and the portal, first-party.ts); `$validate` reads no
 * patient data and needs no resource scope. System-level requests and batches are authorised per
 * entry and by the access filters instead.
 */
export function interactionOf(req: Request): { type: string; interaction: Interaction } | null {
  const parts = req.path.split('/').filter(Boolean);
  const type = parts[0];
  if (!type || !isResourceType(type)) return null;
  const m = req.method;
  const op = parts.find((p) => p.startsWith('$'));
  if (op !== undefined) {
    if (op === '$everything') return { type, interaction: 'r' };
    if (op === '$deactivate' || op === '$reactivate') return { type, interaction: 'u' };
    return null; // $validate; unknown operations are 404 in the router
  }
  if (parts.length === 1) {
    if (m === 'GET' || m === 'HEAD') return { type, interaction: 's' };
    if (m === 'POST') return { type, interaction: 'c' };
    if (m === 'PUT' || m === 'PATCH') return { type, interaction: 'u' }; // conditional update/patch
    if (m === 'DELETE') return { type, interaction: 'd' }; // conditional delete
    return null;
  }
  if (parts.length === 2 && parts[1] === '_search' && m === 'POST') return { type, interaction: 's' };
  if (parts.length === 2 && parts[1] === '_history') return { type, interaction: 's' };
  // Compartment search Patient/{id}/{type}: a search of that type (`*`: filtered per type).
  if (parts.length === 3 && parts[2] !== '_history' && (m === 'GET' || m === 'HEAD')) {
    return isResourceType(parts[2]!) ? { type: parts[2]!, interaction: 's' } : null;
  }
  if (m === 'GET' || m === 'HEAD') return { type, interaction: 'r' };
  if (parts.length === 2 && (m === 'PUT' || m === 'PATCH')) return { type, interaction: 'u' };
  if (parts.length === 2 && m === 'DELETE') return { type, interaction: 'd' };
  return null;
}
