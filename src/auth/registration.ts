/**
 * POST /auth/register: dynamic client registration (RFC 7591). Open in development; in production
 * it needs the initial access token from REGISTRATION_TOKEN (RFC 7591 §3, "Authorization: Bearer"),
 * and without one configured registration is closed. Metadata is validated strictly: exact
 * redirect URIs, one authentication method, keys with kty + kid (backend-services §registration).
 */
import { timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import type { JWK } from 'jose';
import type { Config } from '../config/config.js';
import type { Queryable } from '../db/db.js';
import { DEFAULT_APP_SCOPE, randomToken, saveClient, type AuthMethod, type ClientType, type GrantType, type NewClient } from './clients.js';
import { noStore, OAuthError } from './oauth-errors.js';
import { INTROSPECTION_SCOPE } from './introspect.js';
import { formatScopes, parseScopes } from '../identity/scopes.js';

const METHODS: AuthMethod[] = ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'];
const GRANTS: GrantType[] = ['authorization_code', 'refresh_token', 'client_credentials'];

const bad = (what: string) => new OAuthError('invalid_client_metadata', what);

export function registrationAllowed(config: Config, req: Request): boolean {
  if (!config.production) return true;
  if (!config.registrationToken) return false;
  const presented = req.get('authorization')?.replace(/^Bearer\s+/i, '') ?? '';
  const a = Buffer.from(presented);
  const b = Buffer.from(config.registrationToken);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function handleRegister(db: Queryable, config: Config, req: Request, res: Response): Promise<void> {
  noStore(res);
  if (!registrationAllowed(config, req)) {
    res.setHeader('WWW-Authenticate', 'Bearer error="invalid_token"');
    throw new OAuthError('invalid_token', 'Registration needs a valid initial access token', 401);
  }
  if (!req.is('application/json')) throw bad('Send the client metadata as application/json');
  const client = parseMetadata(req.body, config);
  const secret = client.clientType === 'confidential-symmetric' ? randomToken(32) : undefined;
  await saveClient(db, { ...client, secret });
  res.status(201).json({
    client_id: client.clientId,
    ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
    client_id_issued_at: Math.floor(Date.now() / 1000),
    client_name: client.clientName,
    redirect_uris: client.redirectUris,
    grant_types: client.grantTypes,
    response_types: client.grantTypes.includes('authorization_code') ? ['code'] : [],
    token_endpoint_auth_method: client.authMethod,
    scope: client.scope,
    ...(client.jwksUri ? { jwks_uri: client.jwksUri } : {}),
    ...(client.jwks ? { jwks: client.jwks } : {}),
    ...(client.launchUris.length ? { launch_uri: client.launchUris[0] } : {}),
  });
}

export function parseMetadata(body: unknown, config: Config): NewClient {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw bad('The body must be a JSON object');
  const m = body as Record<string, unknown>;
  const method = (m.token_endpoint_auth_method ?? 'client_secret_basic') as AuthMethod;
  if (!METHODS.includes(method)) throw bad(`token_endpoint_auth_method must be one of ${METHODS.join(', ')}`);
  const grantTypes = stringList(m.grant_types ?? ['authorization_code'], 'grant_types') as GrantType[];
  if (grantTypes.length === 0 || grantTypes.some((g) => !GRANTS.includes(g))) throw bad(`grant_types must be drawn from ${GRANTS.join(', ')}`);
  if (grantTypes.includes('client_credentials') && method !== 'private_key_jwt') {
    throw bad('client_credentials needs token_endpoint_auth_method private_key_jwt (SMART Backend Services)');
  }
  if (grantTypes.includes('client_credentials') && grantTypes.includes('authorization_code')) throw bad('Register backend services and user-facing apps as separate clients');

  const redirectUris = stringList(m.redirect_uris ?? [], 'redirect_uris');
  if (grantTypes.includes('authorization_code') && redirectUris.length === 0) throw new OAuthError('invalid_redirect_uri', 'redirect_uris is required');
  for (const uri of redirectUris) checkUri(uri, config, 'invalid_redirect_uri');
  const launchUri = typeof m.launch_uri === 'string' ? m.launch_uri : undefined;
  if (launchUri) checkUri(launchUri, config, 'invalid_client_metadata');

  const jwksUri = typeof m.jwks_uri === 'string' ? m.jwks_uri : null;
  const jwks = m.jwks === undefined ? null : parseJwks(m.jwks);
  if (method === 'private_key_jwt') {
    if (!jwksUri === !jwks) throw bad('private_key_jwt needs exactly one of jwks_uri or jwks');
    if (jwksUri) checkUri(jwksUri, config, 'invalid_client_metadata');
  } else if (jwksUri || jwks) {
    throw bad('jwks and jwks_uri are only for private_key_jwt');
  }

  const backend = grantTypes.includes('client_credentials');
  const requested = parseScopes(typeof m.scope === 'string' ? m.scope : backend ? 'system/*.rs' : DEFAULT_APP_SCOPE);
  // A backend gets system/ scopes only; a user-facing app never does. user/ scopes are for apps
  // used by clinicians (HelseID login); a citizen's grant never contains them whatever the client holds.
  const scopes = requested.filter((s) => (backend ? s.kind === 'resource' && s.context === 'system' : !(s.kind === 'resource' && s.context === 'system')));
  if (scopes.length === 0) throw bad('scope contains nothing this server grants to this kind of client');

  // A resource server (confidential) may be registered to introspect every token (introspect.ts).
  const introspects = method !== 'none' && typeof m.scope === 'string' && m.scope.split(/\s+/).includes(INTROSPECTION_SCOPE);

  const clientType: ClientType = method === 'none' ? 'public' : method === 'private_key_jwt' ? 'confidential-asymmetric' : 'confidential-symmetric';
  const name = typeof m.client_name === 'string' && m.client_name.trim() ? m.client_name.trim().slice(0, 100) : 'Unnamed app';
  return {
    clientId: `app-${randomToken(12)}`,
    clientName: name,
    clientType,
    authMethod: method,
    redirectUris,
    launchUris: launchUri ? [launchUri] : [],
    grantTypes,
    scope: introspects ? `${formatScopes(scopes)} ${INTROSPECTION_SCOPE}` : formatScopes(scopes),
    jwksUri,
    jwks,
    firstParty: false,
    metadata: pick(m, ['client_uri', 'logo_uri', 'contacts', 'tos_uri', 'policy_uri', 'software_id', 'software_version']),
  };
}

function stringList(v: unknown, name: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(`${name} must be an array of strings`);
  return [...new Set(v as string[])];
}

/** Absolute http(s) URL without fragment; plain http only for loopback hosts or outside production. */
function checkUri(uri: string, config: Config, code: 'invalid_redirect_uri' | 'invalid_client_metadata'): void {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new OAuthError(code, `Not an absolute URL: ${uri.slice(0, 200)}`);
  }
  if (url.hash || uri.includes('#')) throw new OAuthError(code, 'URLs must not contain a fragment');
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol === 'https:' || (url.protocol === 'http:' && (loopback || !config.production))) return;
  // Native apps may use private-use URI schemes for redirects (RFC 8252 §7.1).
  if (code === 'invalid_redirect_uri' && /^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+:$/.test(url.protocol)) return;
  throw new OAuthError(code, `URL scheme not allowed: ${url.protocol}`);
}

function parseJwks(v: unknown): { keys: JWK[] } {
  const keys = (v as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw bad('jwks must be {"keys": [...]}');
  for (const k of keys as Array<Record<string, unknown>>) {
    if (typeof k.kty !== 'string' || typeof k.kid !== 'string') throw bad('Every key needs kty and kid');
    if ('d' in k || 'p' in k || 'k' in k) throw bad('Register public keys only');
    if (k.kty === 'RSA' && (typeof k.n !== 'string' || typeof k.e !== 'string')) throw bad('RSA keys need n and e');
    if (k.kty === 'EC' && (typeof k.crv !== 'string' || typeof k.x !== 'string' || typeof k.y !== 'string')) throw bad('EC keys need crv, x and y');
  }
  return { keys: keys as JWK[] };
}

function pick(m: Record<string, unknown>, names: string[]): Record<string, unknown> {
  return Object.fromEntries(names.filter((n) => m[n] !== undefined).map((n) => [n, m[n]]));
}
