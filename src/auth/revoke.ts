/**
 * POST /auth/revoke (RFC 7009). A refresh token revokes its whole grant, so every access token
 * issued under it stops working on the next request (§2.1; access-spec §1.9); an access token is
 * revoked on its own. The answer is 200 whether or not the token was valid or known (§2.2), and a
 * token of another client is left alone.
 */
import type { Request, Response } from 'express';
import type { SecurityEvents } from '../audit/security-events.js';
import type { Config } from '../config/config.js';
import type { Db } from '../db/db.js';
import type { JwksFetcher } from './client-assertion.js';
import { authenticateClient } from './client-auth.js';
import { findRefreshToken, revokeAccessToken, revokeGrant } from './grants.js';
import type { KeyStore } from './keys.js';
import { noStore, OAuthError, param } from './oauth-errors.js';
import { verifyAccessToken } from './tokens.js';

export interface RevokeDeps {
  config: Config;
  db: Db;
  keys: KeyStore;
  jwks: JwksFetcher;
  events: SecurityEvents;
}

export async function handleRevoke(deps: RevokeDeps, req: Request, res: Response): Promise<void> {
  noStore(res);
  const { client } = await authenticateClient(deps.db, req, `${deps.config.baseUrl}/auth/token`, deps.jwks);
  const token = param(req.body, 'token');
  if (!token) throw new OAuthError('invalid_request', 'token is required');
  const hint = param(req.body, 'token_type_hint');
  if (hint !== undefined && hint !== 'access_token' && hint !== 'refresh_token') {
    throw new OAuthError('unsupported_token_type', 'Only access_token and refresh_token can be revoked');
  }
  if (token.split('.').length === 3) {
    // An expired or forged token needs no revocation: it already does not work.
    const claims = await verifyAccessToken(deps.keys, deps.config, token).catch(() => null);
    if (claims && claims.client_id === client.clientId) {
      await revokeAccessToken(deps.db, claims.jti, claims.exp);
      await deps.events.record({ kind: 'revocation', clientId: client.clientId, patientId: claims.patient ?? null, actor: fhirRef(claims.fhirUser), grantId: claims.grant_id, reason: 'access token revoked by client' });
    }
  } else {
    const rec = await findRefreshToken(deps.db, token);
    const ended = rec && rec.clientId === client.clientId ? await revokeGrant(deps.db, rec.grantId, 'refresh token revoked by client') : null;
    if (ended) {
      await deps.events.record({ kind: 'revocation', clientId: client.clientId, patientId: ended.patientId, actor: ended.fhirUser, grantId: ended.grantId, reason: 'refresh token revoked by client' });
      await deps.events.record({ kind: 'grant-revoked', clientId: client.clientId, patientId: ended.patientId, actor: ended.fhirUser, grantId: ended.grantId, reason: 'refresh token revoked by client' });
    }
  }
  res.status(200).end();
}

/** The relative reference in a token's absolute `fhirUser` claim (`…/fhir/Patient/1` → `Patient/1`). */
function fhirRef(url: string | undefined): string | null {
  const m = url ? /([A-Za-z]+\/[^/]+)$/.exec(url) : null;
  return m ? m[1]! : null;
}
