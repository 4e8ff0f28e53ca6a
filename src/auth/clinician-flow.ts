/**
 * The clinician's way from a parked authorization request (one with `user/` scopes) to a code:
 * HelseID login → the health professional matched to a Practitioner by HPR number (refused when
 * none) → consent → code. No patient picker and no terms: the grant is `kind: 'user'` with
 * `fhirUser = Practitioner/{id}` and no patient context; the access engine turns it into the
 * `clinician` actor (clinical data per scope, never personal notes). Mounted at HELSEID_PATH
 * behind its own relying party, so `req.oidc` here is the HelseID session. Refusals are stored on
 * the request and shown as a page (nb/en) with a way back to the app, as in the citizen's flow.
 */
import express, { type Request, type Response } from 'express';
import type { Practitioner } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../access/access-context.js';
import type { SecurityEvents } from '../audit/security-events.js';
import type { Config } from '../config/config.js';
import type { Db } from '../db/db.js';
import type { Repository } from '../fhir/repository/repository.js';
import { errorRedirectUrl, loadPending, type PendingRequest } from './authorize.js';
import { markRefused } from './flow.js';
import { clinicianLoginMiddleware, currentClinician, HELSEID_ACR, HELSEID_PATH, isClinicianLoggedIn, type Clinician } from './clinician-login.js';
import { getClient, type Client } from './clients.js';
import { revokeSessionGrants } from './grants.js';
import { completeAuthorization } from './issue-code.js';
import { param } from './oauth-errors.js';
import { errorPage, refusalPage } from './pages/error-page.js';
import { clinicianConsentPage } from './pages/flow-pages.js';
import { loggedOutPage } from './pages/manage-page.js';
import { sendPage } from './pages/send.js';
import { chooseLang, switchHref } from './pages/i18n.js';
import { describeScopes } from './pages/scope-text.js';
import { clinicianScopes } from './policy.js';
import { OWN_ANSWERS, refusal, refusalText, type RefusalReason } from './refusals.js';

export interface ClinicianFlowDeps {
  config: Config;
  db: Db;
  repo: Repository;
  events: SecurityEvents;
  /** The HelseID issuer (config.helseidIssuer). */
  issuer: string;
}

interface State {
  pending: PendingRequest;
  client: Client;
  clinician: Clinician;
  practitionerId: string;
}

export function clinicianRouter(deps: ClinicianFlowDeps): express.Router {
  const { config, db, issuer } = deps;
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '20kb' });
  router.use(clinicianLoginMiddleware(config, issuer, db, deps.events));

  const flowPath = (rid: string) => `${config.baseUrl}${HELSEID_PATH}/flow/${rid}`;

  /** The refusal page (issue 16 §3, as the citizen's): what happened in nb/en, and a way back carrying the OAuth error. */
  function showRefusal(req: Request, res: Response, pending: PendingRequest, client: Client, reason: RefusalReason): void {
    const r = refusal(reason);
    res.status(OWN_ANSWERS.has(reason) ? 200 : 403);
    refusalPage(req, res, {
      ...refusalText(reason), appName: client.clientName, error: r.error, description: r.description,
      returnUrl: errorRedirectUrl(config, pending.params.redirectUri, r.error, r.description, pending.params.state),
    }, flowPath(pending.requestId));
  }

  /** Refuses: stores why on the request (a reload or language switch shows the same page), then shows it on the flow's GET address. */
  const deny = async (req: Request, res: Response, pending: PendingRequest, client: Client, reason: RefusalReason) => {
    await markRefused(db, pending.requestId, reason);
    if (req.method === 'GET') return showRefusal(req, res, pending, client, reason);
    res.redirect(303, flowPath(pending.requestId));
  };

  async function begin(req: Request, res: Response): Promise<State | null> {
    const rid = String(req.params.rid);
    const pending = await loadPending(db, rid);
    const client = pending ? await getClient(db, pending.clientId) : null;
    if (!pending || !client || pending.params.login !== 'helseid') {
      res.status(400);
      errorPage(req, res, { nb: 'Forespørselen er utløpt', en: 'The request has expired' }, { nb: 'Start innloggingen på nytt fra appen.', en: 'Start again from the app.' });
      return null;
    }
    const refused = pending.params.refusal;
    // Refused before anyone was bound to the request (the HelseID login itself): shown to the browser holding it.
    if (refused && pending.sub === null) {
      showRefusal(req, res, pending, client, refused);
      return null;
    }
    if (!isClinicianLoggedIn(req)) {
      await res.oidc.login({ returnTo: `${config.baseUrl}${HELSEID_PATH}/flow/${rid}`, authorizationParams: { acr_values: HELSEID_ACR } });
      return null;
    }
    const clinician = await currentClinician(req, db, issuer);
    if (!clinician) {
      res.status(403);
      errorPage(req, res, { nb: 'Innloggingen kan ikke brukes', en: 'This login cannot be used' }, { nb: 'Logg inn med HelseID på høyt sikkerhetsnivå.', en: 'Log in with HelseID at a high level of assurance.' });
      return null;
    }
    if (pending.sub === null) {
      await db.query('UPDATE auth_requests SET sub = $2 WHERE request_id = $1 AND sub IS NULL', [rid, clinician.sub]);
      pending.sub = clinician.sub;
    }
    if (pending.sub !== clinician.sub || (req.method === 'POST' && param(req.body, 'csrf') !== pending.csrf)) {
      res.status(403);
      errorPage(req, res, { nb: 'Forespørselen tilhører en annen innlogging', en: 'The request belongs to another login' }, { nb: 'Start på nytt fra appen.', en: 'Start again from the app.' });
      return null;
    }
    if (refused) {
      showRefusal(req, res, pending, client, refused);
      return null;
    }
    if (!clinician.practitionerId) {
      await deny(req, res, pending, client, 'hpr-not-registered');
      return null;
    }
    return { pending, client, clinician, practitionerId: clinician.practitionerId };
  }

  async function next(req: Request, res: Response, st: State): Promise<void> {
    const { pending, client, clinician, practitionerId } = st;
    const granted = clinicianScopes(pending.params.scope);
    if (!granted.some((s) => s.kind === 'resource')) return deny(req, res, pending, client, 'clinician-nothing-grantable');
    if (!client.firstParty && !res.locals.consentGiven) {
      const practitioner = await deps.repo.read<Practitioner>('Practitioner', practitionerId, SYSTEM_ACCESS).catch(() => null);
      const lang = chooseLang(req, res);
      const self = `${config.baseUrl}${HELSEID_PATH}/flow/${pending.requestId}`;
      sendPage(res, clinicianConsentPage({ lang, switchHref: switchHref(lang, self) }, `${self}/consent`, pending.csrf, client.clientName, practitionerName(practitioner, clinician.hpr), describeScopes(granted)));
      return;
    }
    await completeAuthorization({ config, db, events: deps.events }, res, {
      pending,
      client,
      person: clinician,
      option: { patientId: '', fhirUser: `Practitioner/${practitionerId}`, needPatientBanner: false },
      granted,
      withPatient: false,
      kind: 'user',
    });
  }

  // Clinician logout (issue 10 hole 10): ends every grant of this HelseID session, offline ones
  // included (a clinician's refresh token must not outlive the workstation login), then HelseID.
  router.get('/logout', async (req, res) => {
    const clinician = isClinicianLoggedIn(req) ? await currentClinician(req, db, issuer) : null;
    if (clinician?.sessionId) {
      const ended = await revokeSessionGrants(db, clinician.sessionId, { all: true });
      for (const g of ended) await deps.events.record({ kind: 'grant-revoked', clientId: g.clientId, actor: g.fhirUser, grantId: g.grantId, reason: 'clinician logout' });
      await deps.events.record({ kind: 'logout', actor: clinician.practitionerId ? `Practitioner/${clinician.practitionerId}` : null, reason: `clinician logout, ${ended.length} grant(s) ended` });
    }
    if (!isClinicianLoggedIn(req)) return res.redirect(303, `${config.baseUrl}${HELSEID_PATH}/logged-out`);
    await res.oidc.logout({ returnTo: `${config.baseUrl}${HELSEID_PATH}/logged-out` });
  });
  router.get('/logged-out', (req, res) => sendPage(res, loggedOutPage(req, res)));

  router.get('/flow/:rid', async (req, res) => {
    const st = await begin(req, res);
    if (st) await next(req, res, st);
  });

  router.post('/flow/:rid/consent', form, async (req, res) => {
    const st = await begin(req, res);
    if (!st) return;
    if (param(req.body, 'decision') !== 'approve') return deny(req, res, st.pending, st.client, 'clinician-denied');
    res.locals.consentGiven = true;
    await next(req, res, st);
  });

  return router;
}

function practitionerName(p: Practitioner | null, hpr: string): string {
  const name = p?.name?.find((n) => n.use === 'official') ?? p?.name?.[0];
  const text = name?.text ?? [...(name?.given ?? []), name?.family].filter(Boolean).join(' ');
  return `${text || 'Helsepersonell'}, HPR ${hpr}`;
}
