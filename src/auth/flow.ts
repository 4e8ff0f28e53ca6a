/**
 * The citizen's way from a parked authorization request to a code: login (ID-porten) → Terms of
 * Use on first login (G15) → patient picker → consent → code. Each step is a page with a form
 * posting back here; the request is bound to the first person who logs in for it, and every form
 * carries the request's CSRF value. A refusal is stored on the request and shown as a page with a
 * way back to the app (issue 16 §3); a child under 16 is refused before the terms page.
 */
import express, { type Request, type Response } from 'express';
import type { SecurityEvents } from '../audit/security-events.js';
import type { Config } from '../config/config.js';
import type { Db, Queryable } from '../db/db.js';
import type { Repository } from '../fhir/repository/repository.js';
import { errorRedirectUrl, flowUrl, loadPending, type PendingRequest } from './authorize.js';
import { acrSatisfies, currentPerson, isLoggedIn } from './citizen-login.js';
import { getClient, type Client } from './clients.js';
import { completeAuthorization } from './issue-code.js';
import { param } from './oauth-errors.js';
import { errorPage, refusalPage } from './pages/error-page.js';
import { consentPage, pickerPage, termsPage, type PageCtx } from './pages/flow-pages.js';
import { chooseLang, switchHref } from './pages/i18n.js';
import { emptyPickerRefusal, OWN_ANSWERS, refusal, refusalText, relationRefusal, selfRefusal, type RefusalReason } from './refusals.js';
import { sendPage } from './pages/send.js';
import { describeScopes } from './pages/scope-text.js';
import type { ActingOption, ActingOptionsResolver, Person } from '../identity/people.js';
import { finalScopes, needsPatientContext } from './policy.js';
import { hasAcceptedTerms } from '../identity/terms.js';
import { reactivateAccount } from '../access/account.js';

export interface FlowDeps {
  config: Config;
  db: Db;
  repo: Repository;
  events: SecurityEvents;
  actingOptions: ActingOptionsResolver;
}

interface FlowState {
  pending: PendingRequest;
  client: Client;
  person: Person;
}

const EXPIRED = {
  title: { nb: 'Forespørselen er utløpt', en: 'The request has expired' },
  body: { nb: 'Innloggingen tok for lang tid eller er allerede brukt. Gå tilbake til appen og start på nytt.', en: 'The login took too long or was already used. Go back to the app and start again.' },
};
const OTHER_LOGIN = {
  title: { nb: 'Forespørselen tilhører en annen innlogging', en: 'The request belongs to another login' },
  body: { nb: 'Denne siden ble åpnet fra en annen innlogging. Gå tilbake til appen og start på nytt.', en: 'This page was opened from another login. Go back to the app and start again.' },
};
const INVALID_CHOICE = {
  title: { nb: 'Ugyldig valg', en: 'Invalid choice' },
  body: { nb: 'Velg en av personene i listen.', en: 'Choose one of the listed people.' },
};

/** The flow's own address for a request: every page of it, and the language switch, come back here. */
export const flowPath = (config: Config, rid: string): string => `${config.baseUrl}/auth/flow/${rid}`;

/** Marks the parked request refused; its GET address then shows the refusal page (storing it lets the language switch and a reload keep it). */
export async function markRefused(db: Queryable, requestId: string, reason: RefusalReason): Promise<void> {
  await db.query('UPDATE auth_requests SET params = params || $2::jsonb WHERE request_id = $1', [requestId, JSON.stringify({ refusal: reason })]);
}

export function flowRouter(deps: FlowDeps): express.Router {
  const { config, db } = deps;
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '20kb' });

  const pageCtx = (req: Request, res: Response, rid: string): PageCtx => {
    const lang = chooseLang(req, res);
    return { lang, switchHref: switchHref(lang, flowPath(config, rid)) };
  };

  async function showRefusal(req: Request, res: Response, pending: PendingRequest, client: Client, reason: RefusalReason): Promise<void> {
    const r = refusal(reason);
    // The person's own choice (declining, cancelling) is an answer, not a refusal of access.
    res.status(OWN_ANSWERS.has(reason) ? 200 : 403);
    refusalPage(
      req,
      res,
      { ...refusalText(reason), appName: client.clientName, error: r.error, description: r.description, returnUrl: errorRedirectUrl(config, pending.params.redirectUri, r.error, r.description, pending.params.state) },
      flowPath(config, pending.requestId),
    );
  }

  /** Loads the request and the person; answers (login redirect, refusal or error page) and returns null when it cannot go on. */
  async function begin(req: Request, res: Response): Promise<FlowState | null> {
    const rid = String(req.params.rid);
    const pending = await loadPending(db, rid);
    const client = pending ? await getClient(db, pending.clientId) : null;
    if (!pending || !client) {
      res.status(400);
      errorPage(req, res, EXPIRED.title, EXPIRED.body, undefined, flowPath(config, rid));
      return null;
    }
    if (pending.params.login === 'helseid') {
      // A clinician's request (user/ scopes) is never completed by a citizen's login.
      res.redirect(303, flowUrl(config, rid, pending.params));
      return null;
    }
    const refused = pending.params.refusal;
    // A refusal before anyone was bound to the request (the login itself was refused) is shown to the browser holding it.
    if (refused && pending.sub === null) {
      await showRefusal(req, res, pending, client, refused);
      return null;
    }
    if (!isLoggedIn(req)) {
      // ID-porten shows its login in the page language (ui_locales, OIDC Core §3.1.2.1).
      await res.oidc.login({ returnTo: flowPath(config, rid), authorizationParams: { acr_values: config.idportenAcrValues, ui_locales: chooseLang(req, res) } });
      return null;
    }
    const person = await currentPerson(req, db, config);
    if (!person) {
      const claims = req.oidc.idTokenClaims as Record<string, unknown> | undefined;
      await refuseRequest(req, res, pending, acrSatisfies(claims?.acr, config.idportenAcrValues) ? 'no-person' : 'acr-too-low');
      return null;
    }
    if (pending.sub === null) {
      await db.query('UPDATE auth_requests SET sub = $2 WHERE request_id = $1 AND sub IS NULL', [rid, person.sub]);
      pending.sub = person.sub;
    }
    if (pending.sub !== person.sub || (req.method === 'POST' && param(req.body, 'csrf') !== pending.csrf)) {
      res.status(403);
      errorPage(req, res, OTHER_LOGIN.title, OTHER_LOGIN.body, undefined, flowPath(config, rid));
      return null;
    }
    if (refused) {
      await showRefusal(req, res, pending, client, refused);
      return null;
    }
    return { pending, client, person };
  }

  /** Refuses: stores why, then shows the refusal page on the flow's GET address (a POST is answered with 303 there). */
  async function refuseRequest(req: Request, res: Response, pending: PendingRequest, reason: RefusalReason): Promise<void> {
    await markRefused(db, pending.requestId, reason);
    if (req.method === 'GET' && pending.sub !== null) {
      const client = await getClient(db, pending.clientId);
      if (client) return showRefusal(req, res, pending, client, reason);
    }
    res.redirect(303, flowPath(config, pending.requestId));
  }

  const deny = (req: Request, res: Response, st: FlowState, reason: RefusalReason) => refuseRequest(req, res, st.pending, reason);
  const action = (st: FlowState, step: string) => `${flowPath(config, st.pending.requestId)}/${step}`;

  /** Decides and shows the next step, or issues the code when nothing is left to ask. */
  async function next(req: Request, res: Response, st: FlowState): Promise<void> {
    const { pending, client, person } = st;
    const ctx = pageCtx(req, res, pending.requestId);
    // Issue 16 §3: a child under 16 (or a deceased person) is refused before being asked to accept terms.
    const selfRefused = await selfRefusal(deps.repo, person);
    if (selfRefused) return deny(req, res, st, selfRefused);
    if (person.selfPatientId && !(await hasAcceptedTerms(db, person.selfPatientId))) {
      sendPage(res, termsPage(ctx, action(st, 'terms'), pending.csrf));
      return;
    }
    const options = await deps.actingOptions(person);
    if (options.length === 0) return deny(req, res, st, await emptyPickerRefusal(db, deps.repo, person));
    const scopes = pending.params.scope;
    let chosen: ActingOption | undefined;
    if (pending.params.launchId) {
      if (pending.params.launchSub !== person.sub) return deny(req, res, st, 'launch-other-person');
      chosen = options.find((o) => o.patientId === pending.params.launchPatientId);
      if (!chosen) return deny(req, res, st, 'patient-unavailable');
    } else if (!needsPatientContext(scopes)) {
      chosen = options.find((o) => o.relation === 'self') ?? options[0];
    } else if (pending.patientId) {
      chosen = options.find((o) => o.patientId === pending.patientId);
      // Chosen, then lost between picker and consent (a fullmakt withdrawn, the patient deactivated …).
      if (!chosen) return deny(req, res, st, (await relationRefusal(db, deps.repo, person, pending.patientId)) ?? 'patient-unavailable');
    } else {
      sendPage(res, pickerPage(ctx, action(st, 'patient'), pending.csrf, client.clientName, options));
      return;
    }
    const granted = finalScopes(client, scopes, chosen!);
    if (granted.length === 0) return deny(req, res, st, 'nothing-grantable');
    if (!client.firstParty && !res.locals.consentGiven) {
      const self = chosen!.relation === 'self';
      const lines = describeScopes(granted, self ? { self: true } : { self: false, name: chosen!.label });
      sendPage(res, consentPage(ctx, action(st, 'consent'), pending.csrf, client.clientName, { self, patientLabel: chosen!.label }, lines));
      return;
    }
    await completeAuthorization({ config, db, events: deps.events }, res, { pending, client, person, option: chosen!, granted, withPatient: needsPatientContext(scopes) || !!pending.params.launchId });
  }

  router.get('/auth/flow/:rid', async (req, res) => {
    const st = await begin(req, res);
    if (st) await next(req, res, st);
  });

  router.post('/auth/flow/:rid/terms', form, async (req, res) => {
    const st = await begin(req, res);
    if (!st) return;
    if (param(req.body, 'decision') !== 'approve') return deny(req, res, st, 'terms-declined');
    if (!param(req.body, 'accept_terms')) {
      sendPage(res, termsPage(pageCtx(req, res, st.pending.requestId), action(st, 'terms'), st.pending.csrf, true), 400);
      return;
    }
    // Accepting the terms again after a deactivation is how a citizen renews consent (S14).
    if (st.person.selfPatientId && !(await hasAcceptedTerms(db, st.person.selfPatientId))) await reactivateAccount(deps.repo, st.person.selfPatientId);
    res.redirect(303, flowPath(config, st.pending.requestId));
  });

  router.post('/auth/flow/:rid/patient', form, async (req, res) => {
    const st = await begin(req, res);
    if (!st) return;
    if (param(req.body, 'decision') !== 'approve') return deny(req, res, st, 'no-patient-chosen');
    const patient = param(req.body, 'patient');
    const options = await deps.actingOptions(st.person);
    if (!patient || !options.some((o) => o.patientId === patient)) {
      res.status(400);
      errorPage(req, res, INVALID_CHOICE.title, INVALID_CHOICE.body, undefined, flowPath(config, st.pending.requestId));
      return;
    }
    await db.query('UPDATE auth_requests SET patient_id = $2 WHERE request_id = $1', [st.pending.requestId, patient]);
    res.redirect(303, flowPath(config, st.pending.requestId));
  });

  router.post('/auth/flow/:rid/consent', form, async (req, res) => {
    const st = await begin(req, res);
    if (!st) return;
    if (param(req.body, 'decision') !== 'approve') return deny(req, res, st, 'denied-by-user');
    res.locals.consentGiven = true;
    await next(req, res, st);
  });

  return router;
}
