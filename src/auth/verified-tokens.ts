/**
 * A small bounded cache of access tokens whose signature was verified (issue 11 "one round trip to
 * authenticate and authorise"). Verifying an RS256 signature and importing the public key was the
 * largest single cost of a read (about a fifth of its CPU in the bench profile); the same token string
 * comes back on every request an app makes. Keyed by the whole compact JWT, so an entry stands only
 * for exactly those signed bytes.
 *
 * Only the *signature and claims checks* are cached. Everything that can end a token before its
 * `exp` — the grant revoked, the token revoked on its own, logout, deactivation, death, the 16th
 * birthday — is decided by the live-grant statement and the access engine on every request
 * (resource-server.ts, grants.ts `liveGrantForToken`), exactly as before, so they still act on the
 * very next request. `exp` is compared again on every hit; an entry is also dropped after
 * `maxAgeMs` so a signing key removed from the database stops its tokens within minutes even
 * though keys are normally kept published longer than any token lives (keys.ts).
 */
import type { Config } from '../config/config.js';
import type { KeyStore } from './keys.js';
import { TokenError, verifyAccessToken, type AccessTokenClaims } from './tokens.js';

interface Entry {
  claims: AccessTokenClaims;
  /** Epoch ms after which the entry is verified afresh. */
  until: number;
}

export interface VerifiedTokenOptions {
  /** Most tokens remembered; beyond it the oldest go first. */
  maxEntries?: number;
  /** Longest an entry is trusted without verifying the signature again. */
  maxAgeMs?: number;
  now?: () => number;
}

export class VerifiedTokens {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(
    private readonly keys: KeyStore,
    private readonly config: Config,
    opts: VerifiedTokenOptions = {},
  ) {
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.maxAgeMs = opts.maxAgeMs ?? 5 * 60_000;
    this.now = opts.now ?? Date.now;
  }

  /** The claims of a valid access token; TokenError as `verifyAccessToken` throws it otherwise. */
  async verify(token: string): Promise<AccessTokenClaims> {
    const now = this.now();
    const hit = this.entries.get(token);
    if (hit) {
      // jose's rule: expired once `exp` <= now in whole seconds (no clock tolerance).
      if (hit.claims.exp <= Math.floor(now / 1000)) {
        this.entries.delete(token);
        throw new TokenError('expired');
      }
      if (now < hit.until) return hit.claims;
      this.entries.delete(token);
    }
    const claims = Object.freeze(await verifyAccessToken(this.keys, this.config, token));
    // Failures are never cached: a flood of bad tokens cannot push the good ones out.
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(token, { claims, until: Math.min(now + this.maxAgeMs, claims.exp * 1000) });
    return claims;
  }

  /** How many tokens are remembered (tests). */
  get size(): number {
    return this.entries.size;
  }
}
