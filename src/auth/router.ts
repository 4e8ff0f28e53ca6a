/**
 * The SMART App Launch 2.2 authorization server as one Express router, mounted at the app root
 * before the FHIR router: discovery (public, JSON whatever the Accept header), the OAuth JSON
 * endpoints (RFC 6749 errors), and the citizen's HTML pages (login through ID-porten, terms,
 * picker, consent, management).
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { AuditEvent } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../access/access-context.js';
import { SecurityEvents } from '../audit/security-events.js';
import { findMatchingIds } from '../fhir/search/find-ids.js';
import type { Config } from '../config/config.js';
import type { Db } from '../db/db.js';
import type { Repository } from '../fhir/repository/repository.js';
import type { Logger } from '../log.js';
import { handleAuthorize, loadPending } from './authorize.js';
import { citizenLoginMiddleware, LoginRejected } from './citizen-login.js';
import { clinicianRouter } from './clinician-flow.js';
import { HELSEID_PATH } from './clinician-login.js';
import { JwksFetcher } from './client-assertion.js';
import { clinicianStillActive } from './clinician-check.js';
import { ensureBuiltInClients, getClient } from './clients.js';
import { brandBundle, openidConfiguration, smartConfiguration } from './discovery.js';
import { flowRouter, markRefused } from './flow.js';
import { refusalText } from './refusals.js';
import type { GrantGate } from './gates.js';
import { purgeExpired } from './grants.js';
import { handleIntrospect } from './introspect.js';
import { KeyStore } from './keys.js';
import { manageRouter } from './manage.js';
import { jsonDepthGuard } from '../http/json-depth.js';
import { OAuthError, oauthErrorHandler } from './oauth-errors.js';
import { errorPage } from './pages/error-page.js';
import type { ActingOptionsResolver } from '../identity/people.js';
import { handleRegister } from './registration.js';
import { handleRevoke } from './revoke.js';
import { handleToken } from './token.js';

export interface AuthRouterDeps {
  config: Config;
  db: Db;
  logger: Logger;
  repo: Repository;
  keys?: KeyStore;
  /** Who a logged-in person may act for: the access engine's patient picker. */
  actingOptions: ActingOptionsResolver;
  /** Eligibility re-checked at refresh: the access engine's gates. */
  gate: GrantGate;
  /** Security events: log lines and AuditEvents (src/audit/security-events.ts). */
  events: SecurityEvents;
  /** Fetch used for client JWKS URLs (tests inject one). */
  fetchImpl?: typeof fetch;
}

/** The security event log wired to the access log and the client registry (names in agent.who.display). */
export function createSecurityEvents(db: Db, logger: Logger, accessLog: { record(events: AuditEvent[]): Promise<void> }): SecurityEvents {
  return new SecurityEvents({
    logger,
    accessLog,
    clientName: async (clientId) => (await getClient(db, clientId))?.clientName ?? null,
    // The proxy grant or parental request a RelatedPerson acts through (one per RelatedPerson, access-spec §3.3).
    grantOf: async (actor) => {
      const ids = await findMatchingIds(db, 'Consent', `actor=${actor}`, SYSTEM_ACCESS, 1);
      return ids[0] ? `Consent/${ids[0]}` : null;
    },
  });
}

const PURGE_EVERY_N_TOKEN_REQUESTS = 500;

export function createAuthRouter(deps: AuthRouterDeps): express.Router {
  const { config, db, logger } = deps;
  const keys = deps.keys ?? new KeyStore(db);
  const jwks = new JwksFetcher(deps.fetchImpl);
  const { actingOptions, events } = deps;
  // The same gates as the resource server: the access engine's, plus a clinician's Practitioner still active.
  const gate: GrantGate = async (grant) => (await deps.gate(grant)) && (await clinicianStillActive(deps.repo, grant));

  // Built-in clients and the first signing key exist before the first request is answered.
  const ready = (async () => {
    await ensureBuiltInClients(db, config);
    await keys.signingKey();
    await purgeExpired(db);
  })();
  ready.catch((err: unknown) => logger.error('authorization server failed to start', { error: (err as Error).message }));
  const whenReady = (_req: Request, _res: Response, next: NextFunction) => {
    ready.then(() => next(), next);
  };

  const router = express.Router();
  router.use(['/auth', '/.well-known', '/fhir/.well-known'], whenReady);

  // ---- discovery: public, JSON, any origin (CORS is set app-wide) ----
  const json = (body: unknown) => (_req: Request, res: Response) => {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.type('application/json').send(JSON.stringify(body));
  };
  router.get('/fhir/.well-known/smart-configuration', json(smartConfiguration(config)));
  router.get('/.well-known/openid-configuration', json(openidConfiguration(config)));
  router.get('/auth/brands.json', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.type('application/fhir+json').send(JSON.stringify(brandBundle(config)));
  });
  router.get('/auth/jwks', async (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.type('application/json').send(JSON.stringify(await keys.jwks()));
  });

  // ---- OAuth JSON endpoints ----
  const oauth = express.Router();
  const form = express.urlencoded({ extended: false, limit: '64kb' });
  let tokenRequests = 0;
  oauth.post('/auth/token', form, async (req, res) => {
    if (++tokenRequests % PURGE_EVERY_N_TOKEN_REQUESTS === 0) void purgeExpired(db).catch(() => undefined);
    await handleToken({ config, db, keys, jwks, gate, events }, req, res);
  });
  oauth.post('/auth/introspect', form, (req, res) => handleIntrospect({ config, db, keys, jwks, gate }, req, res));
  oauth.post('/auth/revoke', form, (req, res) => handleRevoke({ config, db, keys, jwks, events }, req, res));
  oauth.post('/auth/register', express.json({ limit: '64kb', verify: jsonDepthGuard((m) => new OAuthError('invalid_client_metadata', m)) }), (req, res) => handleRegister(db, config, req, res));
  oauth.use(['/auth/token', '/auth/introspect', '/auth/revoke', '/auth/register'], oauthErrorHandler(logger));
  router.use(oauth);

  // ---- the citizen's pages ----
  const pages = express.Router();
  pages.get('/auth/authorize', (req, res) => handleAuthorize(db, config, req, res));
  pages.post('/auth/authorize', form, (req, res) => handleAuthorize(db, config, req, res));
  // The clinician's login (HelseID) and flow, before the citizen's relying party claims /auth.
  if (config.helseidIssuer) pages.use(HELSEID_PATH, clinicianRouter({ config, db, repo: deps.repo, issuer: config.helseidIssuer, events }));
  pages.use('/auth', citizenLoginMiddleware(config, db, events));
  pages.use(flowRouter({ config, db, repo: deps.repo, actingOptions, events }));
  pages.use(manageRouter({ config, db, repo: deps.repo, keys, events }));
  pages.use('/auth/launch', oauthErrorHandler(logger));
  pages.use('/auth', pageErrorHandler(logger, config, db));
  router.use(pages);

  return router;
}

const LOGIN_FAILED = {
  title: { nb: 'Innloggingen mislyktes', en: 'The login failed' },
  body: { nb: 'Gå tilbake til appen og prøv igjen.', en: 'Go back to the app and try again.' },
};
const SOMETHING_WRONG = {
  title: { nb: 'Noe gikk galt', en: 'Something went wrong' },
  body: { nb: 'Prøv igjen om litt. Oppgi feilkoden hvis du kontakter oss.', en: 'Try again in a while. Quote the error code if you contact us.' },
};

/**
 * The parked request a refused login belongs to: the `returnTo` of the login's state, which
 * express-openid-connect has already checked against its transaction cookie (`req.openidState`).
 */
function requestIdOfLogin(req: Request): { rid: string; flow: string } | null {
  const returnTo = (req as unknown as { openidState?: { returnTo?: unknown } }).openidState?.returnTo;
  // The citizen's flow (/auth/flow/…) or the clinician's (/auth/helseid/flow/…, src/auth/clinician-flow.ts).
  const m = typeof returnTo === 'string' ? /\/auth(\/helseid)?\/flow\/([A-Za-z0-9_-]{20,64})$/.exec(returnTo) : null;
  return m ? { rid: m[2]!, flow: m[1] ? `${HELSEID_PATH}/flow/${m[2]}` : `/auth/flow/${m[2]}` } : null;
}

/** Errors on the HTML side (login callback failures, refused logins, surprises) become a page, not JSON. */
function pageErrorHandler(logger: Logger, config: Config, db: Db) {
  return async (err: unknown, req: Request, res: Response, next: NextFunction): Promise<void> => {
    if (res.headersSent) return next(err);
    if (err instanceof LoginRejected) {
      // A refused login (e.g. too low a level of assurance) ends its authorization request with a
      // refusal page that leads back to the app (issue 16 §3).
      const login = requestIdOfLogin(req);
      const pending = login ? await loadPending(db, login.rid) : null;
      if (login && pending && pending.sub === null) {
        await markRefused(db, pending.requestId, err.reason);
        return res.redirect(303, `${config.baseUrl}${login.flow}`);
      }
      res.status(403);
      const text = refusalText(err.reason);
      return errorPage(req, res, text.title, text.body, err.message);
    }
    const status = (err as { status?: number } | null)?.status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(400);
      return errorPage(req, res, LOGIN_FAILED.title, LOGIN_FAILED.body);
    }
    logger.error('authorization page failed', { requestId: res.locals.requestId, error: (err as Error)?.message, stack: (err as Error)?.stack });
    res.status(500);
    errorPage(req, res, SOMETHING_WRONG.title, SOMETHING_WRONG.body, `request id ${String(res.locals.requestId ?? 'unknown')}`);
  };
}
