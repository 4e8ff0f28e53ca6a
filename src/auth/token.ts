/**
 * POST /auth/token: authorization_code (PKCE S256 always; app-launch §obtain-access-token),
 * refresh_token (bound to the client, never wider, rotated for public clients, reuse revokes the
 * family; app-launch §refresh) and client_credentials (SMART Backend Services). Errors per
 * RFC 6749 §5.2 and access-spec §1.12; every response `Cache-Control: no-store`.
 */
import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import type { SecurityEvents } from '../audit/security-events.js';
import type { Config } from '../config/config.js';
import type { Db } from '../db/db.js';
import type { JwksFetcher } from './client-assertion.js';
import { authenticateClient } from './client-auth.js';
import type { Client } from './clients.js';
import type { GrantGate } from './gates.js';
import {
  createGrant,
  extendGrant,
  findRefreshToken,
  getGrant,
  isLive,
  issueRefreshToken,
  redeemCode,
  REFRESH_TTL_SECONDS,
  revokeGrant,
  useRefreshToken,
  type Grant,
} from './grants.js';
import type { KeyStore } from './keys.js';
import { noStore, OAuthError, param } from './oauth-errors.js';
import { formatScopes, hasScope, intersectScopes, isSubsetOf, parseScopes } from '../identity/scopes.js';
import { signAccessToken, signIdToken } from './tokens.js';

export interface TokenDeps {
  config: Config;
  db: Db;
  keys: KeyStore;
  jwks: JwksFetcher;
  /** Eligibility re-checked at refresh: the access engine's gates and the clinician check. */
  gate: GrantGate;
  events: SecurityEvents;
}

const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/; // RFC 7636 §4.1
/** Backend services: expires_in SHOULD NOT exceed 300 (backend-services §response). */
const SYSTEM_TOKEN_MAX_TTL = 300;

export async function handleToken(deps: TokenDeps, req: Request, res: Response): Promise<void> {
  noStore(res);
  if (!req.is('application/x-www-form-urlencoded')) throw new OAuthError('invalid_request', 'The token request must be application/x-www-form-urlencoded');
  const { client } = await authenticateClient(deps.db, req, `${deps.config.baseUrl}/auth/token`, deps.jwks);
  const grantType = param(req.body, 'grant_type');
  let body: Record<string, unknown>;
  switch (grantType) {
    case 'authorization_code':
      body = await authorizationCode(deps, client, req.body);
      break;
    case 'refresh_token':
      body = await refresh(deps, client, req.body);
      break;
    case 'client_credentials':
      body = await clientCredentials(deps, client, req.body);
      break;
    case undefined:
      throw new OAuthError('invalid_request', 'grant_type is required');
    default:
      throw new OAuthError('unsupported_grant_type', 'Supported grant types: authorization_code, refresh_token, client_credentials');
  }
  res.status(200).json(body);
}

async function authorizationCode(deps: TokenDeps, client: Client, body: unknown): Promise<Record<string, unknown>> {
  const { db } = deps;
  if (!client.grantTypes.includes('authorization_code')) throw new OAuthError('unauthorized_client', 'This client may not use the authorization code grant');
  const code = param(body, 'code');
  const redirectUri = param(body, 'redirect_uri');
  const verifier = param(body, 'code_verifier');
  if (!code || !redirectUri) throw new OAuthError('invalid_request', 'code and redirect_uri are required');
  const redemption = await redeemCode(db, code);
  if (!redemption.ok) {
    // A second redemption means the code leaked: end what was issued from it (RFC 6749 §4.1.2).
    if (redemption.replayOfGrant) {
      const ended = await revokeGrant(db, redemption.replayOfGrant, 'authorization code reused');
      const g = ended ?? (await getGrant(db, redemption.replayOfGrant));
      await deps.events.record({ kind: 'code-replay', clientId: client.clientId, patientId: g?.patientId, actor: g?.fhirUser, grantId: redemption.replayOfGrant, reason: 'authorization code presented twice' });
      if (ended) await grantRevokedEvent(deps, ended, 'authorization code reused');
    }
    throw new OAuthError('invalid_grant', 'The code is invalid, expired or already used');
  }
  const rec = redemption.record;
  // The code is spent from here on; any mismatch also ends its grant.
  const reject = async (why: string) => {
    const ended = await revokeGrant(db, rec.grantId, why);
    if (ended) await grantRevokedEvent(deps, ended, why);
    return new OAuthError('invalid_grant', why);
  };
  if (rec.clientId !== client.clientId) throw await reject('The code was issued to another client');
  if (rec.redirectUri !== redirectUri) throw await reject('redirect_uri does not match the authorization request');
  if (!verifier || !VERIFIER.test(verifier)) throw await reject('A valid code_verifier is required');
  if (createHash('sha256').update(verifier).digest('base64url') !== rec.codeChallenge) throw await reject('code_verifier does not match the code_challenge');
  const grant = await getGrant(db, rec.grantId);
  if (!isLive(grant)) throw new OAuthError('invalid_grant', 'The authorization is no longer valid');

  // The grant becomes real with its first exchanged code (issue 16 §3), so this is where it is logged as created.
  await deps.events.record({ kind: 'grant-created', clientId: grant.clientId, patientId: grant.patientId, actor: grant.fhirUser, grantId: grant.grantId, reason: grant.scope.includes('offline_access') ? 'offline grant' : 'session grant' });
  const scopes = parseScopes(grant.scope);
  const out = await tokenResponse(deps, grant, grant.scope, true);
  const refreshAllowed = client.grantTypes.includes('refresh_token') && (hasScope(scopes, 'offline_access') || hasScope(scopes, 'online_access'));
  if (refreshAllowed) out.refresh_token = await issueRefreshToken(db, grant.grantId, client.clientId, grant.scope);
  await deps.events.record({ kind: 'token-issued', clientId: client.clientId, patientId: grant.patientId, actor: grant.fhirUser, grantId: grant.grantId, reason: refreshAllowed ? 'authorization_code with refresh token' : 'authorization_code' });
  return out;
}

async function refresh(deps: TokenDeps, client: Client, body: unknown): Promise<Record<string, unknown>> {
  const { db, config } = deps;
  if (!client.grantTypes.includes('refresh_token')) throw new OAuthError('unauthorized_client', 'This client may not use refresh tokens');
  const token = param(body, 'refresh_token');
  if (!token) throw new OAuthError('invalid_request', 'refresh_token is required');
  const found = await findRefreshToken(db, token);
  if (!found || found.clientId !== client.clientId) throw new OAuthError('invalid_grant', 'The refresh token is invalid, expired or was issued to another client');
  // Ends the grant and says why, in the security log and the patient's access log.
  const refuse = async (grantId: string, kind: 'refresh-token-reuse' | 'refresh-refused', why: string) => {
    const ended = await revokeGrant(db, grantId, why);
    const g = ended ?? (await getGrant(db, grantId));
    await deps.events.record({ kind, clientId: client.clientId, patientId: g?.patientId, actor: g?.fhirUser, grantId, reason: why });
    if (ended) await grantRevokedEvent(deps, ended, why);
  };
  // Reuse of a rotated token: someone holds a copy; revoke the whole family (OAuth 2.1 §6.1).
  if (found.used) {
    await refuse(found.grantId, 'refresh-token-reuse', 'refresh token reused');
    throw new OAuthError('invalid_grant', 'The refresh token was already used');
  }
  // Checked before the token is spent, so a refused narrowing does not cost the client its token.
  const requested = param(body, 'scope');
  let scope = found.scope;
  if (requested !== undefined) {
    const asked = parseScopes(requested);
    if (asked.length === 0 || !isSubsetOf(asked, parseScopes(found.scope))) throw new OAuthError('invalid_scope', 'A refresh may only narrow the granted scopes');
    scope = formatScopes(asked);
  }
  // What the client is registered for now: a scope removed from the registration is dropped (issue 10 hole 10).
  scope = withinClient(scope, client);
  const grant = await getGrant(db, found.grantId);
  if (!isLive(grant)) throw new OAuthError('invalid_grant', 'The authorization has been revoked or has expired');
  // Offline grants have an absolute lifetime from the login: refreshing never extends it.
  if (grant.createdAt.getTime() + config.offlineGrantMaxDays * 86_400_000 <= Date.now()) {
    await refuse(grant.grantId, 'refresh-refused', 'offline grant reached its absolute lifetime');
    throw new OAuthError('invalid_grant', `The authorization is older than ${config.offlineGrantMaxDays} days; log in again`);
  }
  if (!(await deps.gate(grant))) {
    await refuse(grant.grantId, 'refresh-refused', 'eligibility gate failed at refresh');
    throw new OAuthError('invalid_grant', 'The authorization is no longer valid');
  }
  const rotate = client.clientType === 'public';
  if (rotate) {
    const use = await useRefreshToken(db, token);
    if (!use.ok) {
      if (use.reuseOfGrant) await refuse(use.reuseOfGrant, 'refresh-token-reuse', 'refresh token reused');
      throw new OAuthError('invalid_grant', 'The refresh token was already used');
    }
  }
  const out = await tokenResponse(deps, grant, scope, false);
  if (hasScope(parseScopes(found.scope), 'offline_access')) await extendGrant(db, grant.grantId, REFRESH_TTL_SECONDS, config.offlineGrantMaxDays);
  // RFC 6749 §6: a new refresh token keeps the scope of the one presented (within the client's registration).
  if (rotate) out.refresh_token = await issueRefreshToken(db, grant.grantId, client.clientId, withinClient(found.scope, client));
  await deps.events.record({ kind: 'refresh', clientId: client.clientId, patientId: grant.patientId, actor: grant.fhirUser, grantId: grant.grantId });
  return out;
}

/** `scope` cut to the client's current registration; unchanged (same spelling) when nothing is cut. */
export function withinClient(scope: string, client: Pick<Client, 'scope'>): string {
  const scopes = parseScopes(scope);
  const ceiling = parseScopes(client.scope);
  return isSubsetOf(scopes, ceiling) ? scope : formatScopes(intersectScopes(scopes, ceiling));
}

async function grantRevokedEvent(deps: Pick<TokenDeps, 'events'>, g: Grant, why: string): Promise<void> {
  await deps.events.record({ kind: 'grant-revoked', clientId: g.clientId, patientId: g.patientId, actor: g.fhirUser, grantId: g.grantId, reason: why });
}

async function clientCredentials(deps: TokenDeps, client: Client, body: unknown): Promise<Record<string, unknown>> {
  if (client.clientType === 'public' || !client.grantTypes.includes('client_credentials')) {
    throw new OAuthError('unauthorized_client', 'This client may not use the client credentials grant');
  }
  const requested = parseScopes(param(body, 'scope')).filter((s) => s.kind === 'resource' && s.context === 'system');
  const granted = intersectScopes(requested, parseScopes(client.scope));
  if (granted.length === 0) throw new OAuthError('invalid_scope', 'Request system/ scopes within the client registration');
  const ttl = Math.min(deps.config.accessTokenTtl, SYSTEM_TOKEN_MAX_TTL);
  const grant = await createGrant(deps.db, {
    clientId: client.clientId,
    kind: 'system',
    sub: null,
    patientId: null,
    fhirUser: null,
    scope: formatScopes(granted),
    context: {},
    sessionId: null,
    authTime: null,
    ttlSeconds: ttl,
  });
  const token = await signAccessToken(deps.keys, deps.config, { grantId: grant.grantId, clientId: client.clientId, scope: grant.scope, ttl });
  await deps.events.record({ kind: 'token-issued', clientId: client.clientId, grantId: grant.grantId, reason: 'client_credentials' });
  return { access_token: token.token, token_type: 'bearer', expires_in: ttl, scope: grant.scope };
}

/** Access token (+ id_token when openid was granted) and the launch context of the grant. */
async function tokenResponse(deps: TokenDeps, grant: Grant, scope: string, withNonce: boolean): Promise<Record<string, unknown>> {
  const { config, keys } = deps;
  const ttl = config.accessTokenTtl;
  const scopes = parseScopes(scope);
  const token = await signAccessToken(keys, config, {
    grantId: grant.grantId,
    clientId: grant.clientId,
    sub: grant.sub,
    scope,
    patientId: grant.patientId,
    fhirUser: hasScope(scopes, 'fhirUser') ? grant.fhirUser : null,
    ttl,
  });
  const out: Record<string, unknown> = { access_token: token.token, token_type: 'Bearer', expires_in: ttl, scope };
  if (grant.patientId) {
    out.patient = grant.patientId;
    out.need_patient_banner = grant.context.need_patient_banner ?? false;
  }
  if (hasScope(scopes, 'openid') && grant.sub) {
    out.id_token = await signIdToken(keys, config, {
      clientId: grant.clientId,
      sub: grant.sub,
      // OIDC Core §12.2: an id_token from a refresh carries no nonce.
      nonce: withNonce ? grant.context.nonce : null,
      fhirUser: hasScope(scopes, 'fhirUser') ? grant.fhirUser : null,
      authTime: grant.authTime,
      ttl: 3600,
    });
  }
  return out;
}
