/**
 * The citizen's way from a parked authorization request to a code: login (ID-porten) → Terms of
 * Use on first login (G15) → patient picker → consent → code. Each step is a page with a form
 * posting back here; the request is bound to the first person who logs in for it, and every form
 * carries the request's CSRF value.
 */
import express, { type Request, type Response } from 'express';
import type { SecurityEvents } from '../audit/security-events.js';
import type { Config } from '../config/config.js';
import type { Db } from '../db/db.js';
import type { Repository } from '../fhir/repository/repository.js';
import { flowUrl, loadPending, redirectWithError, type PendingRequest } from './authorize.js';
import { currentPerson, isLoggedIn } from './citizen-login.js';
import { getClient, type Client } from './clients.js';
import { completeAuthorization } from './issue-code.js';
import { param } from './oauth-errors.js';
import { errorPage } from './pages/error-page.js';
import { consentPage, pickerPage, termsPage } from './pages/flow-pages.js';
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

export function flowRouter(deps: FlowDeps): express.Router {
  const { config, db } = deps;
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '20kb' });

  /** Loads the request and the person; answers (login redirect, error page) and returns null when it cannot go on. */
  async function begin(req: Request, res: Response): Promise<FlowState | null> {
    const rid = String(req.params.rid);
    const pending = await loadPending(db, rid);
    const client = pending ? await getClient(db, pending.clientId) : null;
    if (!pending || !client) {
      res.status(400);
      errorPage(res, 'Forespørselen er utløpt', 'The request has expired', 'Start innloggingen på nytt fra appen. / Start again from the app.');
      return null;
    }
    if (pending.params.login === 'helseid') {
      // A clinician's request (user/ scopes) is never completed by a citizen's login.
      res.redirect(303, flowUrl(config, rid, pending.params));
      return null;
    }
    if (!isLoggedIn(req)) {
      await res.oidc.login({ returnTo: `${config.baseUrl}/auth/flow/${rid}`, authorizationParams: { acr_values: config.idportenAcrValues } });
      return null;
    }
    const person = await currentPerson(req, db, config);
    if (!person) {
      res.status(403);
      errorPage(res, 'Innloggingen kan ikke brukes', 'This login cannot be used', 'Logg inn med høyt sikkerhetsnivå (BankID). / Log in with a high level of assurance.');
      return null;
    }
    if (pending.sub === null) {
      await db.query('UPDATE auth_requests SET sub = $2 WHERE request_id = $1 AND sub IS NULL', [rid, person.sub]);
      pending.sub = person.sub;
    }
    if (pending.sub !== person.sub || (req.method === 'POST' && param(req.body, 'csrf') !== pending.csrf)) {
      res.status(403);
      errorPage(res, 'Forespørselen tilhører en annen innlogging', 'The request belongs to another login', 'Start på nytt fra appen. / Start again from the app.');
      return null;
    }
    return { pending, client, person };
  }

  function deny(res: Response, st: FlowState, description: string): Promise<void> {
    return db.query('DELETE FROM auth_requests WHERE request_id = $1', [st.pending.requestId]).then(() => {
      redirectWithError(res, config, st.pending.params.redirectUri, 'access_denied', description, st.pending.params.state);
    });
  }

  const action = (st: FlowState, step: string) => `${config.baseUrl}/auth/flow/${st.pending.requestId}/${step}`;

  /** Decides and shows the next step, or issues the code when nothing is left to ask. */
  async function next(res: Response, st: FlowState): Promise<void> {
    const { pending, client, person } = st;
    if (person.selfPatientId && !(await hasAcceptedTerms(db, person.selfPatientId))) {
      sendPage(res, termsPage(action(st, 'terms'), pending.csrf));
      return;
    }
    const options = await deps.actingOptions(person);
    if (options.length === 0) return deny(res, st, 'There is nobody this person may use the service for');
    const scopes = pending.params.scope;
    let chosen: ActingOption | undefined;
    if (pending.params.launchId) {
      if (pending.params.launchSub !== person.sub) return deny(res, st, 'The launch was issued for another person');
      chosen = options.find((o) => o.patientId === pending.params.launchPatientId);
      if (!chosen) return deny(res, st, 'The launch patient is not available to this person');
    } else if (!needsPatientContext(scopes)) {
      chosen = options.find((o) => o.relation === 'self') ?? options[0];
    } else if (pending.patientId) {
      chosen = options.find((o) => o.patientId === pending.patientId);
      if (!chosen) return deny(res, st, 'The chosen patient is no longer available');
    } else {
      sendPage(res, pickerPage(action(st, 'patient'), pending.csrf, client.clientName, options));
      return;
    }
    const granted = finalScopes(client, scopes, chosen!);
    if (granted.length === 0) return deny(res, st, 'None of the requested access can be granted for this person');
    if (!client.firstParty && !res.locals.consentGiven) {
      sendPage(res, consentPage(action(st, 'consent'), pending.csrf, client.clientName, chosen!.label, describeScopes(granted)));
      return;
    }
    await completeAuthorization({ config, db, events: deps.events }, res, { pending, client, person, option: chosen!, granted, withPatient: needsPatientContext(scopes) || !!pending.params.launchId });
  }

  router.get('/auth/flow/:rid', async (req, res) => {
    const st = await begin(req, res);
    if (st) await next(res, st);
  });

  router.post('/auth/flow/:rid/terms', form, async (req, res) => {
    const st = await begin(req, res);
    if (!st) return;
    if (param(req.body, 'decision') !== 'approve') return deny(res, st, 'The terms of use were not accepted');
    if (!param(req.body, 'accept_terms')) {
      sendPage(res, termsPage(action(st, 'terms'), st.pending.csrf, 'Du må krysse av for at du godtar vilkårene. / Tick the box to accept the terms.'), 400);
      return;
    }
    // Accepting the terms again after a deactivation is how a citizen renews consent (S14).
    if (st.person.selfPatientId && !(await hasAcceptedTerms(db, st.person.selfPatientId))) await reactivateAccount(deps.repo, st.person.selfPatientId);
    res.redirect(303, `${config.baseUrl}/auth/flow/${st.pending.requestId}`);
  });

  router.post('/auth/flow/:rid/patient', form, async (req, res) => {
    const st = await begin(req, res);
    if (!st) return;
    if (param(req.body, 'decision') !== 'approve') return deny(res, st, 'No patient was chosen');
    const patient = param(req.body, 'patient');
    const options = await deps.actingOptions(st.person);
    if (!patient || !options.some((o) => o.patientId === patient)) {
      res.status(400);
      errorPage(res, 'Ugyldig valg', 'Invalid choice', 'Velg en av personene i listen. / Choose one of the listed people.');
      return;
    }
    await db.query('UPDATE auth_requests SET patient_id = $2 WHERE request_id = $1', [st.pending.requestId, patient]);
    res.redirect(303, `${config.baseUrl}/auth/flow/${st.pending.requestId}`);
  });

  router.post('/auth/flow/:rid/consent', form, async (req, res) => {
    const st = await begin(req, res);
    if (!st) return;
    if (param(req.body, 'decision') !== 'approve') return deny(res, st, 'The person did not allow access');
    res.locals.consentGiven = true;
    await next(res, st);
  });

  return router;
}
