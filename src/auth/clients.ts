/**
 * The client registry (app-launch §registering a SMART app; client types in access-spec §1.11).
 * Secrets and registration tokens are stored as SHA-256 digests of high-entropy random values and
 * compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { JWK } from 'jose';
import type { Config } from '../config/config.js';
import type { Queryable } from '../db/db.js';

export type ClientType = 'public' | 'confidential-symmetric' | 'confidential-asymmetric';
export type AuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
export type GrantType = 'authorization_code' | 'refresh_token' | 'client_credentials';

export interface Client {
  clientId: string;
  clientName: string;
  clientType: ClientType;
  authMethod: AuthMethod;
  secretHash: string | null;
  /** Exact-match list (RFC 9700 §2.1). */
  redirectUris: string[];
  launchUris: string[];
  grantTypes: GrantType[];
  /** The most this client may ever be granted (its pre-authorisation). */
  scope: string;
  jwksUri: string | null;
  jwks: { keys: JWK[] } | null;
  /** Our own portal: consent is implied by using it, terms still apply. */
  firstParty: boolean;
  metadata: Record<string, unknown>;
}

export type NewClient = Omit<Client, 'secretHash' | 'metadata'> & { secret?: string; metadata?: Record<string, unknown>; registrationToken?: string };

export const DEV_SYSTEM_CLIENT_ID = 'dev-system';
export const PORTAL_CLIENT_ID = 'helsebro-portal';

interface ClientRow {
  client_id: string;
  client_name: string;
  client_type: ClientType;
  token_endpoint_auth_method: AuthMethod;
  secret_hash: string | null;
  redirect_uris: string[];
  launch_uris: string[];
  grant_types: GrantType[];
  scope: string;
  jwks_uri: string | null;
  jwks: { keys: JWK[] } | null;
  first_party: boolean;
  metadata: Record<string, unknown>;
  [k: string]: unknown;
}

export function digest(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** Constant-time comparison of a presented secret with a stored digest. */
export function matchesDigest(presented: string, storedDigest: string | null): boolean {
  if (!storedDigest) return false;
  const a = Buffer.from(digest(presented), 'hex');
  const b = Buffer.from(storedDigest, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export async function getClient(db: Queryable, clientId: string): Promise<Client | null> {
  if (!/^[\w.:-]{1,128}$/.test(clientId)) return null;
  const rows = await db.query<ClientRow>('SELECT * FROM auth_clients WHERE client_id = $1', [clientId]);
  const r = rows[0];
  if (!r) return null;
  return {
    clientId: r.client_id,
    clientName: r.client_name,
    clientType: r.client_type,
    authMethod: r.token_endpoint_auth_method,
    secretHash: r.secret_hash,
    redirectUris: r.redirect_uris,
    launchUris: r.launch_uris,
    grantTypes: r.grant_types,
    scope: r.scope,
    jwksUri: r.jwks_uri,
    jwks: r.jwks,
    firstParty: r.first_party,
    metadata: r.metadata,
  };
}

/** Inserts or replaces a client (replacing keeps the registry idempotent for the dev clients and the CLI). */
export async function saveClient(db: Queryable, c: NewClient): Promise<void> {
  await db.query(
    `INSERT INTO auth_clients (client_id, client_name, client_type, token_endpoint_auth_method, secret_hash, redirect_uris, launch_uris,
       grant_types, scope, jwks_uri, jwks, first_party, registration_token_hash, metadata)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     ON CONFLICT (client_id) DO UPDATE SET client_name = EXCLUDED.client_name, client_type = EXCLUDED.client_type,
       token_endpoint_auth_method = EXCLUDED.token_endpoint_auth_method, secret_hash = EXCLUDED.secret_hash,
       redirect_uris = EXCLUDED.redirect_uris, launch_uris = EXCLUDED.launch_uris, grant_types = EXCLUDED.grant_types,
       scope = EXCLUDED.scope, jwks_uri = EXCLUDED.jwks_uri, jwks = EXCLUDED.jwks, first_party = EXCLUDED.first_party,
       registration_token_hash = EXCLUDED.registration_token_hash, metadata = EXCLUDED.metadata`,
    [
      c.clientId,
      c.clientName,
      c.clientType,
      c.authMethod,
      c.secret ? digest(c.secret) : null,
      JSON.stringify(c.redirectUris),
      JSON.stringify(c.launchUris),
      JSON.stringify(c.grantTypes),
      c.scope,
      c.jwksUri,
      c.jwks ? JSON.stringify(c.jwks) : null,
      c.firstParty,
      c.registrationToken ? digest(c.registrationToken) : null,
      JSON.stringify(c.metadata ?? {}),
    ],
  );
}

/** The origins of every registered redirect URI: the browser apps CORS lets in (src/http/cors.ts). */
export async function registeredOrigins(db: Queryable): Promise<string[]> {
  const rows = await db.query<{ redirect_uris: string[]; [k: string]: unknown }>('SELECT redirect_uris FROM auth_clients');
  const origins = new Set<string>();
  for (const r of rows) {
    for (const uri of r.redirect_uris ?? []) {
      try {
        const u = new URL(uri);
        if (u.protocol === 'http:' || u.protocol === 'https:') origins.add(u.origin);
      } catch {
        // a custom-scheme redirect (native app) has no browser origin
      }
    }
  }
  return [...origins];
}

/** Scopes the first-party portal may receive; the patient's own ceiling narrows them further. */
export const PORTAL_SCOPE = 'openid fhirUser profile launch launch/patient offline_access patient/*.cruds';
/** Scopes a third-party app may ask for unless registered narrower: never Consent administration (access-spec §4.5). */
export const DEFAULT_APP_SCOPE = 'openid fhirUser launch launch/patient offline_access online_access patient/*.rs';

/**
 * Clients every installation has: the citizen portal (first-party, public, PKCE) and — outside
 * production only — the `dev-system` backend client (issue 4 §8).
 */
export async function ensureBuiltInClients(db: Queryable, config: Config): Promise<void> {
  await saveClient(db, {
    clientId: PORTAL_CLIENT_ID,
    clientName: 'Helsebro',
    clientType: 'public',
    authMethod: 'none',
    redirectUris: [`${config.baseUrl}/portal/callback`],
    launchUris: [],
    grantTypes: ['authorization_code', 'refresh_token'],
    scope: PORTAL_SCOPE,
    jwksUri: null,
    jwks: null,
    firstParty: true,
  });
  if (config.production) {
    await db.query('DELETE FROM auth_clients WHERE client_id = $1', [DEV_SYSTEM_CLIENT_ID]);
    return;
  }
  await saveClient(db, {
    clientId: DEV_SYSTEM_CLIENT_ID,
    clientName: 'Development system client',
    clientType: 'confidential-symmetric',
    authMethod: 'client_secret_basic',
    secret: config.devSystemClientSecret,
    redirectUris: [],
    launchUris: [],
    grantTypes: ['client_credentials'],
    scope: 'system/*.*',
    jwksUri: null,
    jwks: null,
    firstParty: false,
  });
}
