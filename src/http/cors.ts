/**
 * CORS for browser SMART apps (app-launch §CORS; access-spec §1.1; issue 10 hole 9): discovery,
 * `/metadata` and the public key set answer any origin; everything else (the FHIR API, the token,
 * introspection and revocation endpoints, the bridges) only the origins of registered client
 * redirect URIs, BASE_URL's own origin and `CORS_ORIGINS`. An `Origin` is never reflected
 * unchecked: a page on evil.example gets no `Access-Control-Allow-Origin`, so the browser keeps the
 * response (patient data, tokens) from it.
 */
import type { NextFunction, Request, Response } from 'express';

/** Paths whose content is public by design (the SMART and OIDC documents, keys, /metadata). */
const PUBLIC_PATHS = new Set(['/fhir/.well-known/smart-configuration', '/.well-known/openid-configuration', '/fhir/metadata', '/auth/jwks', '/auth/brands.json']);

/** Is this (well-formed, `scheme://host[:port]`) origin allowed for non-public paths? */
export type OriginCheck = (origin: string) => Promise<boolean>;

const ORIGIN = /^https?:\/\/[A-Za-z0-9.\-[\]:]+$/;
const EXPOSED = 'ETag, Location, Last-Modified, Content-Location, X-Request-Id, WWW-Authenticate';

export function cors(isAllowed: OriginCheck) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const origin = req.get('origin');
    if (!origin) return next();
    res.setHeader('Vary', 'Origin');
    const preflight = req.method === 'OPTIONS' && req.get('access-control-request-method') !== undefined;
    const decide = PUBLIC_PATHS.has(req.path) ? Promise.resolve(true) : ORIGIN.test(origin) ? isAllowed(origin) : Promise.resolve(false);
    decide.then((allowed) => {
      if (allowed) {
        res.setHeader('Access-Control-Allow-Origin', origin);
        res.setHeader('Access-Control-Expose-Headers', EXPOSED);
      }
      if (!preflight) return next();
      if (allowed) {
        res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, PATCH, DELETE, OPTIONS');
        res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, Accept, If-Match, If-None-Exist, If-None-Match, If-Modified-Since, Prefer, X-Request-Id');
        res.setHeader('Access-Control-Max-Age', '600');
      }
      res.status(allowed ? 204 : 403).end();
    }, next);
  };
}

/**
 * Allowed origins: a fixed list (BASE_URL's origin, CORS_ORIGINS) plus those a loader returns
 * (registered redirect URIs). Allowed answers are remembered for `ttlMs`; an unknown origin asks
 * the loader again, so a newly registered app works at once.
 */
export function originAllowList(fixed: readonly string[], load: () => Promise<string[]>, ttlMs = 30_000): OriginCheck {
  const always = new Set(fixed);
  let cached = new Set<string>();
  let loadedAt = 0;
  return async (origin) => {
    if (always.has(origin)) return true;
    if (cached.has(origin) && Date.now() - loadedAt < ttlMs) return true;
    cached = new Set(await load());
    loadedAt = Date.now();
    return cached.has(origin);
  };
}

/** The origin of a URL, or null. */
export function originOf(url: string): string | null {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : null;
  } catch {
    return null;
  }
}
