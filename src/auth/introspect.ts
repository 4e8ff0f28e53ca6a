/**
 * POST /auth/introspect (RFC 7662; SMART token-introspection.html). The caller authenticates as a
 * confidential client (may introspect any token: resource servers) or presents a live SMART bearer
 * token or a public client_id (may introspect only its own client's tokens). An inactive, foreign
 * or unknown token is `200 {"active": false}` (RFC 7662 §2.2), never an error that leaks why.
 */
import type { Request, Response } from 'express';
import type { Config } from '../config/config.js';
import type { Db } from '../db/db.js';
import type { JwksFetcher } from './client-assertion.js';
import { authenticateClient } from './client-auth.js';
import { findRefreshToken, getGrant, isLive, liveGrantForToken } from './grants.js';
import type { KeyStore } from './keys.js';
import { noStore, OAuthError, param } from './oauth-errors.js';
import { verifyAccessToken } from './tokens.js';

export interface IntrospectDeps {
  config: Config;
  db: Db;
  keys: KeyStore;
  jwks: JwksFetcher;
}

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
  return { clientId: client.clientId, any: method !== 'none' };
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
  if (!grant) return null;
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
  if (!isLive(grant)) return null;
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
