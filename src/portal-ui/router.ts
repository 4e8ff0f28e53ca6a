/**
 * The reference portal at `/portal` (issue 16 §2): a small citizen portal that is nothing but a
 * client of the public API. It logs in with the SMART App Launch standalone flow on the first-party
 * client `helsebro-portal` (authorization code + PKCE S256, done in the browser) and reads the record
 * with plain FHIR REST calls carrying the bearer token — no server internals. This router only serves
 * its static files (an HTML page, ES modules, a stylesheet) and the client's public settings; it gives
 * the registered redirect URI `BASE_URL/portal/callback` a home.
 *
 * The page's Content Security Policy is self-only: scripts, styles, images and fetches from this
 * origin, no inline script, no framing, forms nowhere (the login is a navigation, not a form post).
 */
import fs from 'node:fs';
import path from 'node:path';
import express, { type Request, type Response, type Router } from 'express';
import { PORTAL_CLIENT_ID } from '../auth/clients.js';
import type { Config } from '../config/config.js';
import { PROJECT_ROOT } from '../paths.js';

/** The static files live beside this module in the source tree; dist/ resolves them through the project root. */
export const PORTAL_STATIC_DIR = path.join(PROJECT_ROOT, 'src', 'portal-ui', 'static');

export const PORTAL_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const ASSETS: Record<string, string> = {
  'portal.js': 'application/javascript',
  'i18n.js': 'application/javascript',
  'fhir-view.js': 'application/javascript',
  'smart.js': 'application/javascript',
  'portal.css': 'text/css',
};

/** What the browser app needs to start a launch: the FHIR base (discovery lives under it), its client id and redirect URI. */
export interface PortalSettings {
  fhirBase: string;
  clientId: string;
  redirectUri: string;
}

export function portalSettings(config: Config): PortalSettings {
  return { fhirBase: config.fhirBase, clientId: PORTAL_CLIENT_ID, redirectUri: `${config.baseUrl}/portal/callback` };
}

export function portalRouter(config: Config): Router {
  const router = express.Router();
  // Read once: the files are part of the release, like the migrations.
  const page = fs.readFileSync(path.join(PORTAL_STATIC_DIR, 'index.html'), 'utf8');
  const assets = new Map(Object.keys(ASSETS).map((name) => [name, fs.readFileSync(path.join(PORTAL_STATIC_DIR, name), 'utf8')]));
  const settings = JSON.stringify(portalSettings(config));

  const sendPage = (_req: Request, res: Response) => {
    res.setHeader('Content-Security-Policy', PORTAL_CSP);
    res.type('html').send(page);
  };
  // Non-strict routing: `/portal/` is `/portal` too.
  router.get(['/portal', '/portal/callback'], sendPage);
  router.get('/portal/settings.json', (_req, res) => {
    res.type('application/json').send(settings);
  });
  router.get('/portal/assets/:name', (req, res, next) => {
    const name = req.params.name;
    const body = assets.get(name);
    if (body === undefined) return next();
    res.setHeader('Content-Security-Policy', PORTAL_CSP);
    res.type(ASSETS[name]!).send(body);
  });
  return router;
}
