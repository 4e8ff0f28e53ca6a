/**
 * The management endpoint advertised in discovery (`management_endpoint`), logout, and the
 * portal's EHR launch. Logout ends the grants bound to the login session (everything without
 * offline_access) before leaving ID-porten, so their tokens stop on the next request.
 */
import express, { type Request, type Response } from 'express';
import type { SecurityEvents } from '../audit/security-events.js';
import type { Config } from '../config/config.js';
import type { Db } from '../db/db.js';
import { currentPerson, isLoggedIn, sessionExtras } from './citizen-login.js';
import { getClient, PORTAL_CLIENT_ID, randomToken } from './clients.js';
import { getGrant, liveGrantForToken, revokeGrant, revokeSessionGrants } from './grants.js';
import type { KeyStore } from './keys.js';
import { jsonDepthGuard } from '../http/json-depth.js';
import { noStore, OAuthError, param } from './oauth-errors.js';
import { errorPage } from './pages/error-page.js';
import { loggedOutPage, managePage } from './pages/manage-page.js';
import { describeScopes } from './pages/scope-text.js';
import { sendPage } from './pages/send.js';
import { parseScopes } from '../identity/scopes.js';
import { verifyAccessToken } from './tokens.js';

export const LAUNCH_TTL_SECONDS = 300;

export function manageRouter(deps: { config: Config; db: Db; keys: KeyStore; events: SecurityEvents }): express.Router {
  const { config, db } = deps;
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '10kb' });

  router.get('/auth/manage', async (req, res) => {
    if (!isLoggedIn(req)) return res.oidc.login({ returnTo: `${config.baseUrl}/auth/manage` });
    const person = await currentPerson(req, db, config);
    if (!person) return forbiddenPage(res);
    const rows = await db.query<{ grant_id: string; client_name: string; scope: string; created_at: Date | string; [k: string]: unknown }>(
      `SELECT g.grant_id, c.client_name, g.scope, g.created_at FROM auth_grants g JOIN auth_clients c ON c.client_id = g.client_id
        WHERE g.sub = $1 AND g.revoked_at IS NULL AND g.expires_at > now() AND NOT c.first_party ORDER BY g.created_at DESC`,
      [person.sub],
    );
    sendPage(
      res,
      managePage(
        `${config.baseUrl}/auth/manage/revoke`,
        sessionExtras(req).helsebro_csrf ?? '',
        rows.map((r) => ({ grantId: r.grant_id, appName: r.client_name, since: new Date(r.created_at).toISOString().slice(0, 10), lines: describeScopes(parseScopes(r.scope)) })),
      ),
    );
  });

  router.post('/auth/manage/revoke', form, async (req, res) => {
    const person = isLoggedIn(req) ? await currentPerson(req, db, config) : null;
    const csrf = sessionExtras(req).helsebro_csrf;
    if (!person || !csrf || param(req.body, 'csrf') !== csrf) return forbiddenPage(res);
    const grant = await getGrant(db, param(req.body, 'grant_id') ?? '');
    const ended = grant && grant.sub === person.sub ? await revokeGrant(db, grant.grantId, 'withdrawn by the person') : null;
    if (ended) await deps.events.record({ kind: 'grant-revoked', clientId: ended.clientId, patientId: ended.patientId, actor: ended.fhirUser, grantId: ended.grantId, reason: 'withdrawn by the person' });
    res.redirect(303, `${config.baseUrl}/auth/manage`);
  });

  router.get('/auth/logout', async (req, res) => {
    const sid = sessionExtras(req).helsebro_sid;
    const ended = sid ? await revokeSessionGrants(db, sid) : [];
    for (const g of ended) await deps.events.record({ kind: 'grant-revoked', clientId: g.clientId, patientId: g.patientId, actor: g.fhirUser, grantId: g.grantId, reason: 'logout' });
    if (sid) await deps.events.record({ kind: 'logout', reason: `citizen logout, ${ended.length} grant(s) ended` });
    if (!isLoggedIn(req)) return res.redirect(303, `${config.baseUrl}/auth/logged-out`);
    await res.oidc.logout({ returnTo: `${config.baseUrl}/auth/logged-out` });
  });

  router.get('/auth/logged-out', (_req, res) => sendPage(res, loggedOutPage()));

  // EHR launch from the portal: the portal's own token names the patient; the app gets a one-time
  // launch value bound to this person and patient (app-launch §launch-ehr).
  router.post('/auth/launch', express.urlencoded({ extended: false, limit: '10kb' }), express.json({ limit: '10kb', verify: jsonDepthGuard((m) => new OAuthError('invalid_request', m)) }), async (req: Request, res: Response) => {
    noStore(res);
    const claims = await verifyAccessToken(deps.keys, config, (req.get('authorization') ?? '').replace(/^Bearer\s+/i, '')).catch(() => null);
    const grant = claims ? await liveGrantForToken(db, claims.grant_id, claims.jti) : null;
    if (!grant || grant.clientId !== PORTAL_CLIENT_ID || !grant.patientId || !grant.sub) {
      throw new OAuthError('invalid_token', 'A live portal token with a patient context is required', 401, 'Bearer error="invalid_token"');
    }
    const app = await getClient(db, param(req.body, 'client_id') ?? '');
    if (!app || !app.grantTypes.includes('authorization_code')) throw new OAuthError('invalid_request', 'client_id is not a registered app');
    const launch = randomToken(24);
    await db.query(
      'INSERT INTO auth_launches (launch_id, client_id, sub, patient_id, expires_at) VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))',
      [launch, app.clientId, grant.sub, grant.patientId, LAUNCH_TTL_SECONDS],
    );
    const launchUri = app.launchUris[0];
    const launchUrl = launchUri ? `${launchUri}${launchUri.includes('?') ? '&' : '?'}iss=${encodeURIComponent(config.fhirBase)}&launch=${launch}` : undefined;
    res.status(201).json({ launch, iss: config.fhirBase, expires_in: LAUNCH_TTL_SECONDS, ...(launchUrl ? { launch_url: launchUrl } : {}) });
  });

  return router;
}

function forbiddenPage(res: Response): void {
  res.status(403);
  errorPage(res, 'Ikke tilgang', 'Not allowed', 'Logg inn på nytt. / Log in again.');
}
