/**
 * The Norwegian public design system (Designsystemet, `@digdir/designsystemet-css` and `-theme`),
 * served from our own node_modules under `/assets/ds/` so citizen pages (login stand-in, terms, consent,
 * manage, refusals) and the reference portal use it without a CDN (issue 16 §3). Cached for a year
 * (immutable): a package upgrade comes with a restart, and pages may add the version as a query.
 */
import { createRequire } from 'node:module';
import express, { type Router } from 'express';

const require = createRequire(import.meta.url);

/** Each package's default export is its stylesheet: components (-css) and the theme's tokens (-theme). */
const COMPONENTS_CSS = require.resolve('@digdir/designsystemet-css');
const THEME_CSS = require.resolve('@digdir/designsystemet-theme');

/** Stylesheet URLs for a page's `<link>` elements, theme first (it defines the tokens the components use). */
export const DESIGN_STYLESHEETS = ['/assets/ds/theme.css', '/assets/ds/designsystemet.css'] as const;

export function designAssetsRouter(): Router {
  const router = express.Router();
  const send = (file: string) => (_req: express.Request, res: express.Response) => {
    res.type('text/css').sendFile(file, { maxAge: '365d', immutable: true });
  };
  router.get('/assets/ds/theme.css', send(THEME_CSS));
  router.get('/assets/ds/designsystemet.css', send(COMPONENTS_CSS));
  return router;
}
