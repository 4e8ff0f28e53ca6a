/**
 * Token signing keys. An RS256 key is generated on first start and persisted in the database, so
 * tokens survive restarts and every instance on one database signs with keys the others publish.
 * RS256 because OpenID Connect requires RS256 id_tokens (SMART sso-openid-connect); access tokens
 * use the same key. Rotation: `rotateSigningKey` adds a new key and retires the old one, which stays
 * in the JWKS until tokens it signed can no longer be valid. The active key is rotated
 * automatically once it is older than KEY_MAX_AGE_DAYS.
 */
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type JWK, type CryptoKey as JoseKey } from 'jose';
import type { Db } from '../db/db.js';

export const SIGNING_ALG = 'RS256';
/** Algorithms the resource server accepts on our own tokens (never `none`, never HMAC). */
export const ACCEPTED_TOKEN_ALGS = ['RS256'];
/** A retired key stays published this long: longer than any access or id token lives. */
const RETIRED_KEY_PUBLISHED_SECONDS = 24 * 3600;
const CACHE_MS = 30_000;
export const KEY_MAX_AGE_DAYS = 90;

interface KeyRow {
  kid: string;
  alg: string;
  public_jwk: JWK;
  private_jwk: JWK;
  created_at: Date | string;
  retired_at: Date | string | null;
  [k: string]: unknown;
}

export interface SigningKey {
  kid: string;
  alg: string;
  key: JoseKey | Uint8Array;
}

export class KeyStore {
  private cache: { at: number; rows: KeyRow[] } | null = null;
  /** Imported public keys by kid: a kid's key never changes, and importing it cost as much as a verification. */
  private readonly imported = new Map<string, Promise<JoseKey | Uint8Array>>();

  constructor(private readonly db: Db) {}

  /** The newest non-retired key; generated and stored when there is none. */
  async signingKey(): Promise<SigningKey> {
    let active = (await this.rows()).find((r) => r.retired_at === null);
    if (!active) {
      await this.generate();
      active = (await this.rows(true)).find((r) => r.retired_at === null);
    } else if (Date.now() - new Date(active.created_at).getTime() > KEY_MAX_AGE_DAYS * 86_400_000) {
      await this.rotateSigningKey();
      active = (await this.rows(true)).find((r) => r.retired_at === null);
    }
    if (!active) throw new Error('no signing key could be created');
    return { kid: active.kid, alg: active.alg, key: await importJWK(active.private_jwk, active.alg) };
  }

  /** The public JWKS: the active key and retired keys still within their publication window. */
  async jwks(): Promise<{ keys: JWK[] }> {
    await this.signingKey();
    const cutoff = Date.now() - RETIRED_KEY_PUBLISHED_SECONDS * 1000;
    const rows = (await this.rows()).filter((r) => r.retired_at === null || new Date(r.retired_at).getTime() > cutoff);
    return { keys: rows.map((r) => ({ ...r.public_jwk, kid: r.kid, alg: r.alg, use: 'sig' })) };
  }

  /** Public key by kid for verifying our own tokens; null for unknown kids. */
  async publicKey(kid: string): Promise<{ alg: string; key: JoseKey | Uint8Array } | null> {
    let row = (await this.rows()).find((r) => r.kid === kid);
    if (!row) row = (await this.rows(true)).find((r) => r.kid === kid); // another instance rotated
    if (!row) return null;
    const cacheKey = `${row.kid}|${row.alg}`;
    let key = this.imported.get(cacheKey);
    if (!key) {
      key = importJWK(row.public_jwk, row.alg);
      key.catch(() => this.imported.delete(cacheKey));
      this.imported.set(cacheKey, key);
    }
    return { alg: row.alg, key: await key };
  }

  /** Adds a new signing key and retires the previous ones (they stay published for a while). */
  async rotateSigningKey(): Promise<string> {
    const kid = await this.generate();
    await this.db.query('UPDATE auth_signing_keys SET retired_at = now() WHERE kid <> $1 AND retired_at IS NULL', [kid]);
    this.cache = null;
    return kid;
  }

  private async generate(): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true, modulusLength: 2048 });
    const kid = randomUUID();
    await this.db.query('INSERT INTO auth_signing_keys (kid, alg, public_jwk, private_jwk) VALUES ($1, $2, $3, $4)', [
      kid,
      SIGNING_ALG,
      JSON.stringify(await exportJWK(publicKey)),
      JSON.stringify(await exportJWK(privateKey)),
    ]);
    this.cache = null;
    return kid;
  }

  private async rows(fresh = false): Promise<KeyRow[]> {
    if (!fresh && this.cache && Date.now() - this.cache.at < CACHE_MS) return this.cache.rows;
    const rows = await this.db.query<KeyRow>('SELECT kid, alg, public_jwk, private_jwk, created_at, retired_at FROM auth_signing_keys ORDER BY created_at DESC, kid');
    this.cache = { at: Date.now(), rows };
    return rows;
  }
}
