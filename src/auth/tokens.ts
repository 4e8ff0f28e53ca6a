/**
 * Our JWTs. Access tokens follow RFC 9068 (`typ: at+jwt`), `aud` = the FHIR base URL (app-launch
 * §access-fhir-api), and carry the scopes, client, launch patient and fhirUser; `grant_id` ties
 * them to the live grant the resource server checks on every request. id_tokens are RS256
 * (sso-openid-connect) with `fhirUser` as an absolute URL.
 */
import { randomUUID } from 'node:crypto';
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { Config } from '../config/config.js';
import { ACCEPTED_TOKEN_ALGS, type KeyStore } from './keys.js';

export interface AccessTokenInput {
  grantId: string;
  clientId: string;
  sub?: string | null;
  scope: string;
  patientId?: string | null;
  fhirUser?: string | null;
  ttl: number;
}

export interface AccessTokenClaims {
  iss: string;
  aud: string;
  sub?: string;
  client_id: string;
  scope: string;
  patient?: string;
  fhirUser?: string;
  grant_id: string;
  jti: string;
  iat: number;
  exp: number;
}

export async function signAccessToken(keys: KeyStore, config: Config, input: AccessTokenInput): Promise<{ token: string; jti: string; exp: number }> {
  const { kid, alg, key } = await keys.signingKey();
  const jti = randomUUID();
  const now = Math.floor(Date.now() / 1000);
  const exp = now + input.ttl;
  const claims: Record<string, unknown> = { client_id: input.clientId, scope: input.scope, grant_id: input.grantId };
  if (input.patientId) claims.patient = input.patientId;
  if (input.fhirUser) claims.fhirUser = `${config.fhirBase}/${input.fhirUser}`;
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg, kid, typ: 'at+jwt' })
    .setIssuer(config.baseUrl)
    .setAudience(config.fhirBase)
    .setJti(jti)
    .setIssuedAt(now)
    .setExpirationTime(exp);
  if (input.sub) jwt.setSubject(input.sub);
  return { token: await jwt.sign(key), jti, exp };
}

export interface IdTokenInput {
  clientId: string;
  sub: string;
  nonce?: string | null;
  fhirUser?: string | null;
  authTime?: Date | null;
  ttl: number;
}

export async function signIdToken(keys: KeyStore, config: Config, input: IdTokenInput): Promise<string> {
  const { kid, alg, key } = await keys.signingKey();
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {};
  if (input.nonce) claims.nonce = input.nonce;
  if (input.fhirUser) claims.fhirUser = `${config.fhirBase}/${input.fhirUser}`;
  if (input.authTime) claims.auth_time = Math.floor(input.authTime.getTime() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg, kid, typ: 'JWT' })
    .setIssuer(config.baseUrl)
    .setAudience(input.clientId)
    .setSubject(input.sub)
    .setIssuedAt(now)
    .setExpirationTime(now + input.ttl)
    .sign(key);
}

export type TokenFailure = 'expired' | 'invalid';

export class TokenError extends Error {
  constructor(readonly reason: TokenFailure) {
    super(reason === 'expired' ? 'token expired' : 'token invalid');
  }
}

/**
 * Verifies one of our access tokens: alg allow-list (never `none`, never HMAC, so a public key
 * cannot be used as an HMAC secret), a kid we issued, signature, `exp`, `iss`, `aud`, `typ`.
 */
export async function verifyAccessToken(keys: KeyStore, config: Config, token: string): Promise<AccessTokenClaims> {
  let header;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw new TokenError('invalid');
  }
  if (!header.alg || !ACCEPTED_TOKEN_ALGS.includes(header.alg) || typeof header.kid !== 'string') throw new TokenError('invalid');
  const pub = await keys.publicKey(header.kid);
  if (!pub || pub.alg !== header.alg) throw new TokenError('invalid');
  try {
    const { payload } = await jwtVerify(token, pub.key, {
      algorithms: ACCEPTED_TOKEN_ALGS,
      issuer: config.baseUrl,
      audience: config.fhirBase,
      typ: 'at+jwt',
      requiredClaims: ['exp', 'iat', 'jti', 'client_id', 'scope', 'grant_id'],
    });
    return payload as unknown as AccessTokenClaims;
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw new TokenError('expired');
    throw new TokenError('invalid');
  }
}
