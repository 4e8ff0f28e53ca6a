/**
 * createApp wires the HTTP pipeline: request id → logs → security headers → CORS → negotiation →
 * body parsing → authentication → FHIR router → one error renderer. It never listens.
 */
import fs from 'node:fs';
import path from 'node:path';
import compression from 'compression';
import express, { type Express, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Config } from './config/config.js';
import type { Db } from './db/db.js';
import { capabilityStatement } from './fhir/capability.js';
import { publishedOperationDefinition } from './fhir/operation-definitions.js';
import { binaryContent } from './fhir/interactions/binary-content.js';
import { plainReadType } from './fhir/interactions/instance.js';
import { plainSearchType } from './fhir/interactions/search-history.js';
import { notFound } from './fhir/errors.js';
import type { Repository } from './fhir/repository/repository.js';
import { createFhirRouter } from './fhir/routes.js';
import { configureTerms } from './identity/terms.js';
import type { OnAccountChange } from './fhir/interactions/account.js';
import { negotiate } from './http/negotiate.js';
import { designAssetsRouter } from './http/design-assets.js';
import { cors, originAllowList, originOf } from './http/cors.js';
import { fhirJsonDepthGuard } from './http/json-depth.js';
import { accessLog, inOrder, requestId, securityHeaders } from './http/middleware.js';
import { docsRouter } from './http/docs.js';
import { metricsHandler, metricsMiddleware, registerPoolStats } from './http/metrics.js';
import { errorHandler } from './http/render-error.js';
import { sendJson } from './http/respond.js';
import type { Logger } from './log.js';
import { PROJECT_ROOT } from './paths.js';
import { portalRouter } from './portal-ui/router.js';

export interface AppDeps {
  config: Config;
  db: Db;
  logger: Logger;
  repo: Repository;
  /** Sets `res.locals.access` (and the principal) from the request's credentials, or fails with 401. */
  authenticate: RequestHandler;
  /** Routers mounted at the root before the FHIR API (SMART authorization server, bridges …). */
  routers?: express.Router[];
  /** Runs after `$deactivate`/`$reactivate` (the auth side ends the app grants). */
  onAccountChange?: OnAccountChange;
  /** Origins of registered client redirect URIs, allowed by CORS besides BASE_URL's and CORS_ORIGINS. */
  registeredOrigins?: () => Promise<string[]>;
}

/** `/fhir` paths whose routers are mounted after the FHIR API (auth/router.ts discovery, portal/messages/events-router.ts). */
const ANSWERED_ELSEWHERE = /^\/(?:\.well-known(?:\/|$)|\$events-since$)/;

/**
 * Compression only for a client that accepts an encoding other than identity: the middleware otherwise
 * still wrapped the response's write/end and negotiated on every request (issue 11, read profile).
 * Without `Accept-Encoding` the answer is the identity encoding either way. Such an answer lacks the
 * `Vary: Accept-Encoding` the middleware adds, which is harmless: every client can read the identity
 * encoding, and a compressed answer still carries `Vary`, so a cache never hands it to a client that
 * did not ask.
 */
function compressionWhenAccepted(compress: RequestHandler): RequestHandler {
  return (req, res, next) => {
    const accepted = req.headers['accept-encoding'];
    return accepted && accepted !== 'identity' ? compress(req, res, next) : next();
  };
}

export function createApp(deps: AppDeps): Express {
  const { config, db, logger } = deps;
  const repo = deps.repo;
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'extended');
  const fixedOrigins = [originOf(config.baseUrl), ...config.corsOrigins].filter((o): o is string => o !== null);
  const allowedOrigin = originAllowList(fixedOrigins, deps.registeredOrigins ?? (async () => []));
  app.use(inOrder(requestId, accessLog(logger), metricsMiddleware, securityHeaders, cors(allowedOrigin), compressionWhenAccepted(compression())));
  // The Terms of Use in force, for the login flow and the access gate (issue 14, src/identity/terms.ts).
  configureTerms({ version: config.termsVersion, url: config.termsUrl });
  const fhir = express.Router();
  const fhirRoutes = createFhirRouter({ config, repo, logger, ...(deps.onAccountChange ? { onAccountChange: deps.onAccountChange } : {}) });
  // A plain read by id without a body (nearly all the traffic, issue 11) goes through the same
  // negotiation and authentication straight to the FHIR router, whose first route is the read,
  // instead of walking the layers below that do nothing for it (body parsers, /metadata,
  // OperationDefinition, the paths answered elsewhere; a Binary read is not a plain read).
  fhir.use((req: Request, res: Response, next: NextFunction) => {
    // And so does a plain search of one type (routes.ts answers it with its second route).
    const type = plainReadType(req) ?? plainSearchType(req);
    // A published OperationDefinition is answered before authentication (below), so it leaves this path.
    if (type === null || type === 'OperationDefinition' || req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) return next();
    negotiate(req, res, (refused?: unknown) => {
      if (refused) return next(refused);
      void deps.authenticate(req, res, (failed?: unknown) => (failed ? next(failed) : fhirRoutes(req, res, next)));
    });
  });
  // Paths under /fhir answered by the routers mounted later (`deps.routers`): SMART discovery and
  // `$events-since`. They leave this router before authentication.
  fhir.use((req: Request, _res: Response, next: NextFunction) => next(ANSWERED_ELSEWHERE.test(req.path) ? 'router' : undefined));
  // A Binary asked for as its own content type is answered with its bytes (R4 http.html#binary).
  fhir.get(['/Binary/:id', '/Binary/:id/_history/:vid'], binaryContent({ repo, authenticate: deps.authenticate }));
  fhir.use(negotiate);
  fhir.use(express.json({ limit: config.bodyLimit, type: ['application/fhir+json', 'application/json', 'application/json-patch+json'], strict: false, verify: fhirJsonDepthGuard }));
  fhir.use(express.urlencoded({ limit: config.bodyLimit, extended: false }));
  fhir.get('/metadata', (req, res) => sendJson(req, res, 200, capabilityStatement(config)));
  fhir.get('/OperationDefinition/:id', publishedOperationDefinition);
  fhir.use(deps.authenticate);
  fhir.use(fhirRoutes);

  // The FHIR API first: its requests are nearly all the traffic, and each router mounted before it is
  // entered and walked on every one of them (issue 11, read profile: ~15 % in the routers).
  app.use('/fhir', fhir);
  app.get('/metrics', metricsHandler);
  // The pool gauge reads this database's pool at every scrape (issue 16 §4; PGlite has none).
  registerPoolStats(db.poolStats?.bind(db) ?? null);
  app.use(docsRouter());
  app.use(designAssetsRouter());
  // The reference portal (issue 16 §2): static files only; it reads the record through the public API.
  app.use(portalRouter(config));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    try {
      await db.query('SELECT 1');
      res.json({ status: 'ready' });
    } catch {
      res.status(503).json({ status: 'database unavailable' });
    }
  });
  app.get('/openapi.yaml', (_req, res) => {
    res.type('application/yaml').send(fs.readFileSync(path.join(PROJECT_ROOT, 'openapi.yaml'), 'utf8'));
  });

  for (const router of deps.routers ?? []) app.use(router);

  app.use((req: Request, _res: Response, next: NextFunction) => next(notFound(`Nothing at ${req.path}`)));
  app.use(errorHandler(logger));
  return app;
}
