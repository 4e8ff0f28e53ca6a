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
import type { AccessContext } from '../access/access-context.js';
import type { Config } from '../config/config.js';
import type { Db } from '../db/db.js';
import { isResourceType } from '../fhir/definitions/registry.js';
import { unauthorized } from '../fhir/errors.js';
import type { Repository } from '../fhir/repository/repository.js';
import type { Logger } from '../log.js';
import { requireScope } from '../access/scope-access.js';
import { ClinicianChecks } from './clinician-check.js';
import { requireFirstParty } from './first-party.js';
import { liveGrantForToken } from './grants.js';
import { KeyStore } from './keys.js';
import type { Principal } from '../identity/principal.js';
import { parseScopes, type Interaction, type Scope } from '../identity/scopes.js';
import { TokenError } from './tokens.js';
import { VerifiedTokens } from './verified-tokens.js';

export interface ResourceServerDeps {
  config: Config;
  db: Db;
  logger: Logger;
  repo: Repository;
  keys?: KeyStore;
  /** Principal → AccessContext: the access engine, which also re-checks the eligibility gates (401 when one fails). */
  toAccess: (principal: Principal, req: Request, res: Response) => AccessContext | Promise<AccessContext>;
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

export function authenticateFhir(deps: ResourceServerDeps): RequestHandler {
  const keys = deps.keys ?? new KeyStore(deps.db);
  const { toAccess } = deps;
  const clinicians = new ClinicianChecks();
  // Signature and claims checks are remembered per token string; the grant below is checked every time.
  const verified = new VerifiedTokens(keys, deps.config);

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
      const grant = await liveGrantForToken(deps.db, claims.grant_id, claims.jti);
      if (!grant || grant.clientId !== claims.client_id) throw unauthorized('login');
      // A clinician's Practitioner must still be active (issue 10 hole 10).
      if (!(await clinicians.stillActive(deps.repo, grant))) throw unauthorized('login');
      const principal: Principal = {
        kind: grant.kind,
        clientId: grant.clientId,
        ...(grant.sub ? { sub: grant.sub } : {}),
        scopes: scopesOf(claims.scope),
        ...(grant.patientId ? { patientId: grant.patientId } : {}),
        ...(grant.fhirUser ? { fhirUser: grant.fhirUser } : {}),
        grantId: grant.grantId,
        tokenId: claims.jti,
        accessVersion: grant.accessVersion,
      };
      const wanted = interactionOf(req);
      if (wanted) requireScope(principal, wanted.type, wanted.interaction);
      const accountOp = ACCOUNT_OPERATION.exec(req.path)?.[1];
      if (accountOp) requireFirstParty(principal, accountOp);
      res.locals.principal = principal;
      res.locals.access = await toAccess(principal, req, res);
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
