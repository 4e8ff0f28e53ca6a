/**
 * The API reference at `/docs` (issue 16 §1): openapi.yaml rendered by Scalar's standalone bundle
 * (`@scalar/api-reference`), served from our own node_modules — no CDN. The page's Content
 * Security Policy allows scripts, styles, fonts and fetches from this origin only, so the renderer
 * cannot reach Scalar's hosted services (fonts, proxy, telemetry) even where its defaults would;
 * they are also switched off in its configuration. `/` is a small index linking the entry points.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import express, { type Router } from 'express';

const require = createRequire(import.meta.url);

/** dist/index.js → dist/browser/standalone.js (the package exports no browser entry). */
const STANDALONE = path.join(path.dirname(require.resolve('@scalar/api-reference')), 'browser', 'standalone.js');

const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

const INIT = `Scalar.createApiReference('#reference', {
  url: '/openapi.yaml',
  withDefaultFonts: false,
  telemetry: false,
  hideClientButton: true,
  showDeveloperTools: 'never',
  metaData: { title: 'helsebro API reference' },
});
`;

const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>helsebro API reference</title>
</head>
<body>
<noscript>The reference needs JavaScript. The raw description is at <a href="/openapi.yaml">/openapi.yaml</a>.</noscript>
<div id="reference"></div>
<script src="/docs/assets/scalar-standalone.js"></script>
<script src="/docs/assets/init.js"></script>
</body>
</html>
`;

const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>helsebro</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#1a1a1a}a{color:#0b5cad}code{background:#f2f2f2;padding:0 .25rem}</style>
</head>
<body>
<h1>helsebro</h1>
<p>A FHIR R4 server and patient API with SMART on FHIR.</p>
<ul>
<li><a href="/docs">API reference</a> (<a href="/openapi.yaml">openapi.yaml</a>)</li>
<li><a href="/portal">Reference portal</a> — a citizen's view of the record through the API (log in as a demo persona, e.g. Kari Nordmann)</li>
<li><a href="/fhir/metadata">CapabilityStatement</a> — the FHIR base is <code>/fhir</code></li>
<li><a href="/.well-known/smart-configuration">SMART configuration</a></li>
<li><a href="/healthz">/healthz</a> · <a href="/readyz">/readyz</a> · <a href="/metrics">/metrics</a></li>
</ul>
</body>
</html>
`;

export function docsRouter(): Router {
  const router = express.Router();
  router.get('/', (_req, res) => {
    res.type('html').send(INDEX_HTML);
  });
  router.get('/docs', (_req, res) => {
    res.setHeader('Content-Security-Policy', DOCS_CSP);
    res.type('html').send(DOCS_HTML);
  });
  router.get('/docs/assets/init.js', (_req, res) => {
    res.type('application/javascript').send(INIT);
  });
  router.get('/docs/assets/scalar-standalone.js', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=86400');
    res.type('application/javascript').sendFile(STANDALONE);
  });
  return router;
}
