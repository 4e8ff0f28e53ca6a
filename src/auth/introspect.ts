/**
 * POST /auth/introspect (RFC 7662; SMART token-introspection.html). The caller authenticates as a
 * client (any registered method) or presents a live SMART bearer token. Who may look at what
 * (issue 10 hole 10): a token's own client may introspect it; a registered resource server (a
 * confidential client whose registered scope includes `helsebro:token.introspection`, like
 * ID-porten's `idporten:token.introspection`) may introspect any token; everyone else gets
 * `200 {"active": false}`, exactly as for an unknown token (RFC 7662 §2.2 and §4: the answer
 * must not tell a foreign client that the token exists). A failed client authentication is
 * 401 invalid_client. Active means what the resource server would accept now: the grant live,
 * the token not revoked, and the eligibility gates (access-spec §4.2; a proxy whose grant was
 * revoked, a deactivated patient, an inactive Practitioner) still passing.
 */
import type { Request, Response } from 'express';
import type { Config } from '../config/config.js';
import type { Db } from '../db/db.js';
import type { JwksFetcher } from './client-assertion.js';
import { authenticateClient } from './client-auth.js';
import type { GrantGate } from './gates.js';
import { findRefreshToken, getGrant, isLive, liveGrantForToken, type Grant } from './grants.js';
import type { KeyStore } from './keys.js';
import { noStore, OAuthError, param } from './oauth-errors.js';
import { verifyAccessToken } from './tokens.js';

export interface IntrospectDeps {
  config: Config;
  db: Db;
  keys: KeyStore;
  jwks: JwksFetcher;
  /** The same gates as the resource server and the refresh (engine gates + clinician check). */
  gate: GrantGate;
}

/** The registered scope that makes a confidential client a resource server allowed to introspect any token. */
export const INTROSPECTION_SCOPE = 'helsebro:token.introspection';

/** The caller: a client id and whether it may look at other clients' tokens. */
async function caller(deps: IntrospectDeps, req: Request): Promise<{ clientId: string; any: boolean }> {
  const authorization = req.get('authorization');
  if (authorization?.startsWith('Bearer ')) {
    try {
      const claims = await verifyAccessToken(deps.keys, deps.config, authorization.slice(7).trim());
      if (await liveGrantForToken(deps.db, claims.grant_id, claims.jti)) return { clientId: claims.client_id, any: false };
    } catch {
      // fall through to the error below
    }
    throw new OAuthError('invalid_client', 'The bearer token is not valid', 401, 'Bearer error="invalid_token"');
  }
  const { client, method } = await authenticateClient(deps.db, req, `${deps.config.baseUrl}/auth/token`, deps.jwks);
  const resourceServer = method !== 'none' && client.clientType !== 'public' && client.scope.split(/\s+/).includes(INTROSPECTION_SCOPE);
  return { clientId: client.clientId, any: resourceServer };
}

export async function handleIntrospect(deps: IntrospectDeps, req: Request, res: Response): Promise<void> {
  noStore(res);
  const who = await caller(deps, req);
  const token = param(req.body, 'token');
  if (!token) throw new OAuthError('invalid_request', 'token is required');
  const result = token.split('.').length === 3 ? await introspectAccessToken(deps, token) : await introspectRefreshToken(deps, token);
  if (!result || (!who.any && result.client_id !== who.clientId)) {
    res.json({ active: false });
    return;
  }
  res.json(result);
}

async function introspectAccessToken(deps: IntrospectDeps, token: string): Promise<Record<string, unknown> | null> {
  const claims = await verifyAccessToken(deps.keys, deps.config, token).catch(() => null);
  if (!claims) return null;
  const grant = await liveGrantForToken(deps.db, claims.grant_id, claims.jti);
  if (!grant || grant.clientId !== claims.client_id || !(await passesGates(deps, grant))) return null;
  return {
    active: true,
    scope: claims.scope,
    client_id: claims.client_id,
    token_type: 'Bearer',
    exp: claims.exp,
    iat: claims.iat,
    iss: claims.iss,
    aud: claims.aud,
    ...(claims.sub ? { sub: claims.sub } : {}),
    ...(claims.patient ? { patient: claims.patient, need_patient_banner: grant.context.need_patient_banner ?? false } : {}),
    ...(claims.fhirUser ? { fhirUser: claims.fhirUser } : {}),
  };
}

async function introspectRefreshToken(deps: IntrospectDeps, token: string): Promise<Record<string, unknown> | null> {
  const rec = await findRefreshToken(deps.db, token);
  if (!rec || rec.used) return null;
  const grant = await getGrant(deps.db, rec.grantId);
  if (!isLive(grant) || !(await passesGates(deps, grant))) return null;
  return {
    active: true,
    scope: rec.scope,
    client_id: rec.clientId,
    token_type: 'refresh_token',
    exp: Math.floor(grant.expiresAt.getTime() / 1000),
    iss: deps.config.baseUrl,
    ...(grant.sub ? { sub: grant.sub } : {}),
    ...(grant.patientId ? { patient: grant.patientId } : {}),
    ...(grant.fhirUser ? { fhirUser: `${deps.config.fhirBase}/${grant.fhirUser}` } : {}),
  };
}

async function passesGates(deps: IntrospectDeps, grant: Grant): Promise<boolean> {
  return grant.kind === 'system' || deps.gate(grant);
}
