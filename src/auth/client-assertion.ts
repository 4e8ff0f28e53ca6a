/**
 * private_key_jwt client authentication as SMART Backend Services requires
 * (backend-services.html, client-confidential-asymmetric.html; access-spec §1.10):
 * RS384/ES384 only, iss = sub = client_id, aud = the token URL, exp at most 5 minutes ahead,
 * a jti never seen before for this client, and the key found by the spec's algorithm
 * (jku must equal the registered JWKS URL; kid + kty must match exactly one key).
 * Every failure is `invalid_client`.
 */
import { decodeJwt, decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';
import { isUniqueViolation, type Queryable } from '../db/db.js';
import { getClient, type Client } from './clients.js';
import { OAuthError } from './oauth-errors.js';

export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
export const ASSERTION_ALGS = ['RS384', 'ES384'];
const MAX_LIFETIME_SECONDS = 300;
const CLOCK_SKEW_SECONDS = 30;

const fail = (why: string) => new OAuthError('invalid_client', why);

export async function verifyClientAssertion(db: Queryable, assertion: string, tokenUrl: string, jwksFetcher: JwksFetcher): Promise<Client> {
  let header;
  let unverified;
  try {
    header = decodeProtectedHeader(assertion);
    unverified = decodeJwt(assertion);
  } catch {
    throw fail('client_assertion is not a JWT');
  }
  if (!header.alg || !ASSERTION_ALGS.includes(header.alg)) throw fail('client_assertion must be signed with RS384 or ES384');
  if (typeof header.kid !== 'string') throw fail('client_assertion header needs a kid');
  if (typeof unverified.iss !== 'string' || unverified.iss !== unverified.sub) throw fail('client_assertion iss and sub must both be the client_id');
  const client = await getClient(db, unverified.iss);
  if (!client || client.authMethod !== 'private_key_jwt') throw fail('Unknown client or client not registered for private_key_jwt');

  const keys = await registeredKeys(client, header.jku, jwksFetcher);
  const kty = header.alg.startsWith('RS') ? 'RSA' : 'EC';
  const candidates = keys.filter((k) => k.kty === kty && k.kid === header.kid);
  if (candidates.length !== 1) throw fail('No single registered key matches the assertion kid and key type');

  let payload;
  try {
    const key = await importJWK(candidates[0]!, header.alg);
    ({ payload } = await jwtVerify(assertion, key, {
      algorithms: ASSERTION_ALGS,
      issuer: client.clientId,
      subject: client.clientId,
      audience: tokenUrl,
      clockTolerance: CLOCK_SKEW_SECONDS,
      requiredClaims: ['exp', 'jti'],
    }));
  } catch {
    throw fail('client_assertion signature or claims are not valid');
  }
  const now = Math.floor(Date.now() / 1000);
  if (payload.exp! > now + MAX_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS) throw fail('client_assertion exp is more than 5 minutes ahead');
  if (typeof payload.jti !== 'string' || payload.jti.length === 0 || payload.jti.length > 256) throw fail('client_assertion needs a jti');
  try {
    await db.query('INSERT INTO auth_assertion_jtis (client_id, jti, expires_at) VALUES ($1, $2, to_timestamp($3))', [client.clientId, payload.jti, payload.exp]);
  } catch (err) {
    if (isUniqueViolation(err)) throw fail('client_assertion jti was already used');
    throw err;
  }
  return client;
}

async function registeredKeys(client: Client, jku: string | undefined, fetcher: JwksFetcher): Promise<JWK[]> {
  if (jku !== undefined && jku !== client.jwksUri) throw fail('client_assertion jku does not match the registered JWKS URL');
  if (client.jwksUri) return fetcher.keys(client.jwksUri);
  if (client.jwks) return client.jwks.keys;
  throw fail('Client has no registered keys');
}

/**
 * Fetches a client's JWKS, caching it no longer than its `Cache-Control: max-age` allows
 * (backend-services: "never cache a JWKS longer than the client's Cache-Control allows"); no header
 * or `no-store`/`no-cache` → no caching.
 */
export class JwksFetcher {
  private readonly cache = new Map<string, { until: number; keys: JWK[] }>();

  constructor(private readonly fetchImpl: typeof fetch = fetch) {}

  async keys(url: string): Promise<JWK[]> {
    const hit = this.cache.get(url);
    if (hit && hit.until > Date.now()) return hit.keys;
    let res: Response;
    try {
      res = await this.fetchImpl(url, { headers: { accept: 'application/json' }, redirect: 'error', signal: AbortSignal.timeout(5000) });
    } catch {
      throw fail('The registered JWKS URL could not be fetched');
    }
    if (!res.ok) throw fail('The registered JWKS URL could not be fetched');
    const text = await res.text();
    if (text.length > 100_000) throw fail('The registered JWKS is too large');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw fail('The registered JWKS is not JSON');
    }
    // `null`, a number or an array is JSON but no JWKS (issue 10 hole 8: a null body was a 500).
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw fail('The registered JWKS URL did not return a JWKS object');
    const keys = (body as { keys?: unknown }).keys;
    if (!Array.isArray(keys) || !keys.every((k) => k !== null && typeof k === 'object' && !Array.isArray(k))) throw fail('The registered JWKS has no keys array of key objects');
    const maxAge = cacheSeconds(res.headers.get('cache-control'));
    if (maxAge > 0) this.cache.set(url, { until: Date.now() + maxAge * 1000, keys: keys as JWK[] });
    else this.cache.delete(url);
    return keys as JWK[];
  }
}

function cacheSeconds(header: string | null): number {
  if (!header || /no-store|no-cache/i.test(header)) return 0;
  const m = /max-age\s*=\s*(\d+)/i.exec(header);
  return m ? Math.min(Number(m[1]), 3600) : 0;
}
