/**
 * The management endpoint advertised in discovery (`management_endpoint`: one entry per app, a
 * confirmation before a withdrawal, issue 16 §3), logout, and the
 * portal's EHR launch. Logout ends the grants bound to the login session (everything without
 * offline_access) before leaving ID-porten, so their tokens stop on the next request.
 */
import express, { type Request, type Response } from 'express';
import type { SecurityEvents } from '../audit/security-events.js';
import type { Config } from '../config/config.js';
import type { Db } from '../db/db.js';
import type { Patient } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../access/access-context.js';
import type { Repository } from '../fhir/repository/repository.js';
import { displayName, type Person } from '../identity/people.js';
import { currentPerson, isLoggedIn, sessionExtras } from './citizen-login.js';
import { getClient, PORTAL_CLIENT_ID, randomToken } from './clients.js';
import { exchangedOnly, liveAppGrantsOf, liveGrantForToken, revokeClientGrantsOf, revokeSessionGrants } from './grants.js';
import type { KeyStore } from './keys.js';
import { jsonDepthGuard } from '../http/json-depth.js';
import { noStore, OAuthError, param } from './oauth-errors.js';
import { errorPage } from './pages/error-page.js';
import type { PageCtx } from './pages/flow-pages.js';
import { chooseLang, switchHref } from './pages/i18n.js';
import { loggedOutPage, managePage, withdrawPage, type AppView } from './pages/manage-page.js';
import { describeScopes } from './pages/scope-text.js';
import { sendPage } from './pages/send.js';
import { parseScopes } from '../identity/scopes.js';
import { verifyAccessToken } from './tokens.js';

export const LAUNCH_TTL_SECONDS = 300;

export function manageRouter(deps: { config: Config; db: Db; repo: Repository; keys: KeyStore; events: SecurityEvents }): express.Router {
  const { config, db } = deps;
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '10kb' });

  const base = `${config.baseUrl}/auth/manage`;
  const pageCtx = (req: Request, res: Response): PageCtx => {
    const lang = chooseLang(req, res);
    return { lang, switchHref: switchHref(lang, req.originalUrl) };
  };

  /** The person's apps, one entry per app (issue 16 §3), with whom each acts for and what it may do. */
  async function appsOf(person: Person): Promise<AppView[]> {
    const grants = await liveAppGrantsOf(db, person.sub);
    const apps = new Map<string, AppView>();
    const names = new Map<string, string>();
    for (const g of grants) {
      const app = apps.get(g.clientId) ?? { clientId: g.clientId, appName: g.clientName, since: g.createdAt.toISOString().slice(0, 10), people: [] };
      apps.set(g.clientId, app);
      const self = g.patientId === null || g.patientId === person.selfPatientId;
      const onBehalfOf = self ? null : (names.get(g.patientId!) ?? (await patientName(g.patientId!)));
      if (onBehalfOf) names.set(g.patientId!, onBehalfOf);
      const lines = describeScopes(parseScopes(g.scope), onBehalfOf === null ? { self: true } : { self: false, name: onBehalfOf });
      const existing = app.people.find((p) => p.onBehalfOf === onBehalfOf);
      if (existing) existing.lines = [...existing.lines, ...lines.filter((l) => !existing.lines.some((e) => e.nb === l.nb))];
      else app.people.push({ onBehalfOf, lines });
    }
    return [...apps.values()];
  }

  async function patientName(patientId: string): Promise<string> {
    const p = await deps.repo.read<Patient>('Patient', patientId, SYSTEM_ACCESS).catch(() => null);
    return p ? displayName(p) : 'Ukjent navn';
  }

  async function loggedInPerson(req: Request, res: Response): Promise<Person | null> {
    if (!isLoggedIn(req)) {
      await res.oidc.login({ returnTo: `${config.baseUrl}${req.originalUrl}`, authorizationParams: { acr_values: config.idportenAcrValues, ui_locales: chooseLang(req, res) } });
      return null;
    }
    const person = await currentPerson(req, db, config);
    if (!person) forbiddenPage(req, res);
    return person;
  }

  router.get('/auth/manage', async (req, res) => {
    const person = await loggedInPerson(req, res);
    if (!person) return;
    const apps = await appsOf(person);
    const withdrawnId = typeof req.query.withdrawn === 'string' ? req.query.withdrawn : undefined;
    const withdrawn = withdrawnId ? (await getClient(db, withdrawnId))?.clientName : undefined;
    sendPage(res, managePage(pageCtx(req, res), base, apps, withdrawn));
  });

  // The confirmation step: nothing is withdrawn by a GET.
  router.get('/auth/manage/withdraw', async (req, res) => {
    const person = await loggedInPerson(req, res);
    if (!person) return;
    const app = (await appsOf(person)).find((a) => a.clientId === req.query.client_id);
    if (!app) return res.redirect(303, base);
    sendPage(res, withdrawPage(pageCtx(req, res), base, sessionExtras(req).helsebro_csrf ?? '', app));
  });

  router.post('/auth/manage/revoke', form, async (req, res) => {
    const person = isLoggedIn(req) ? await currentPerson(req, db, config) : null;
    const csrf = sessionExtras(req).helsebro_csrf;
    if (!person || !csrf || param(req.body, 'csrf') !== csrf) return forbiddenPage(req, res);
    const clientId = param(req.body, 'client_id') ?? '';
    const ended = await exchangedOnly(db, await revokeClientGrantsOf(db, person.sub, clientId, 'withdrawn by the person'));
    for (const g of ended) await deps.events.record({ kind: 'grant-revoked', clientId: g.clientId, patientId: g.patientId, actor: g.fhirUser, grantId: g.grantId, reason: 'withdrawn by the person' });
    res.redirect(303, ended.length > 0 ? `${base}?withdrawn=${encodeURIComponent(clientId)}` : base);
  });

  router.get('/auth/logout', async (req, res) => {
    const sid = sessionExtras(req).helsebro_sid;
    const ended = sid ? await exchangedOnly(db, await revokeSessionGrants(db, sid)) : [];
    for (const g of ended) await deps.events.record({ kind: 'grant-revoked', clientId: g.clientId, patientId: g.patientId, actor: g.fhirUser, grantId: g.grantId, reason: 'logout' });
    if (sid) await deps.events.record({ kind: 'logout', reason: `citizen logout, ${ended.length} grant(s) ended` });
    if (!isLoggedIn(req)) return res.redirect(303, `${config.baseUrl}/auth/logged-out`);
    await res.oidc.logout({ returnTo: `${config.baseUrl}/auth/logged-out` });
  });

  router.get('/auth/logged-out', (req, res) => sendPage(res, loggedOutPage(req, res)));

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

function forbiddenPage(req: Request, res: Response): void {
  res.status(403);
  errorPage(req, res, { nb: 'Ikke tilgang', en: 'Not allowed' }, { nb: 'Siden kan ikke vises for denne innloggingen. Logg inn på nytt med høyt sikkerhetsnivå.', en: 'The page cannot be shown for this login. Log in again with a high level of assurance.' });
}
