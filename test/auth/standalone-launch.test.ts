import { expect } from 'chai';
import type { Consent, Observation } from 'fhir/r4';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import { hasAcceptedTerms, TERMS_CATEGORY_CODE, TERMS_CATEGORY_SYSTEM } from '../../src/identity/terms.js';
import { findMatchingIds } from '../../src/fhir/search/find-ids.js';
import { APP_REDIRECT, createCitizen, exchange, fhirGet, launch, registerApp, startAuthTestServer, tokenRequest, type AuthTestServer } from './support.js';

function observation(patientId: string): Observation {
  return { resourceType: 'Observation', status: 'final', code: { text: 'Puls' }, subject: { reference: `Patient/${patientId}` }, valueQuantity: { value: 60, unit: '/min' } };
}

describe('SMART standalone launch with ID-porten login (plain HTTP)', () => {
  let s: AuthTestServer;
  let clientId: string;
  let kari: { patientId: string; pid: string };
  let ola: { patientId: string; pid: string };
  let olaObservation: string;

  before(async () => {
    s = await startAuthTestServer();
    kari = await createCitizen(s.repo, { seq: 1, given: 'Kari' });
    ola = await createCitizen(s.repo, { seq: 2, given: 'Ola' });
    await s.repo.create(observation(kari.patientId), SYSTEM_ACCESS);
    olaObservation = (await s.repo.create(observation(ola.patientId), SYSTEM_ACCESS)).resource.id!;
    ({ client_id: clientId } = await registerApp(s, {
      client_name: 'Pulsappen',
      redirect_uris: [APP_REDIRECT],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      scope: 'openid fhirUser launch/patient offline_access patient/*.rs',
    }));
  });
  after(() => s.close());

  it('logs the citizen in, asks for the terms once, the picker and consent, and returns code, state and iss', async () => {
    const r = await launch(s, { clientId, pid: kari.pid });
    expect(r.steps).to.deep.equal(['login', 'terms', 'picker', 'consent']);
    expect(r.code).to.be.a('string');
    expect(r.location.searchParams.get('iss')).to.equal(s.baseUrl);
    expect(await hasAcceptedTerms(s.db, kari.patientId)).to.equal(true);

    const again = await launch(s, { clientId, pid: kari.pid, browser: r.browser });
    expect(again.steps).to.deep.equal(['picker', 'consent']);
  });

  it('answers the code with a patient-bound token, an id_token with fhirUser, a refresh token and no-store headers', async () => {
    const r = await launch(s, { clientId, pid: kari.pid });
    const t = await exchange(s, clientId, r);
    expect(t.status).to.equal(200);
    expect(t.headers.get('cache-control')).to.equal('no-store');
    expect(t.headers.get('pragma')).to.equal('no-cache');
    expect(t.body).to.include({ token_type: 'Bearer', expires_in: 300, patient: kari.patientId, need_patient_banner: false });
    expect(String(t.body.scope).split(' ')).to.include.members(['openid', 'fhirUser', 'launch/patient', 'offline_access', 'patient/Observation.rs', 'patient/Patient.rs']);
    expect(String(t.body.scope)).to.not.include('patient/*');
    expect(String(t.body.scope)).to.not.include('Consent');
    expect(t.body.refresh_token).to.be.a('string');

    const discovery = (await (await fetch(`${s.baseUrl}/.well-known/openid-configuration`)).json()) as { jwks_uri: string };
    const { payload } = await jwtVerify(String(t.body.id_token), createRemoteJWKSet(new URL(discovery.jwks_uri)), { issuer: s.baseUrl, audience: clientId });
    expect(payload.fhirUser).to.equal(`${s.fhirBase}/Patient/${kari.patientId}`);
  });

  it('lets the token read the own record and answers 404 for another patient’s resource', async () => {
    const token = String((await exchange(s, clientId, await launch(s, { clientId, pid: kari.pid }))).body.access_token);
    expect((await fhirGet(s, `Patient/${kari.patientId}`, token)).status).to.equal(200);
    const search = await fhirGet(s, 'Observation', token);
    expect(search.status).to.equal(200);
    expect((search.body.entry as unknown[]).length).to.equal(1);
    expect((await fhirGet(s, `Patient/${ola.patientId}`, token)).status).to.equal(404);
    expect((await fhirGet(s, `Observation/${olaObservation}`, token)).status).to.equal(404);
  });

  it('answers a write outside the granted scopes with 403 insufficient_scope', async () => {
    const token = String((await exchange(s, clientId, await launch(s, { clientId, pid: kari.pid }))).body.access_token);
    const res = await fetch(`${s.fhirBase}/Observation`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify(observation(kari.patientId)),
    });
    expect(res.status).to.equal(403);
    expect(res.headers.get('www-authenticate')).to.include('error="insufficient_scope"');
    const outcome = (await res.json()) as { issue: Array<{ code: string }> };
    expect(outcome.issue[0]!.code).to.equal('forbidden');
  });

  it('asks a person with no record here for nothing and tells the app access_denied', async () => {
    const r = await launch(s, { clientId, pid: '20914695016' });
    expect(r.code).to.equal(null);
    // Issue 16 §3: a Norwegian refusal page first, then the app gets the error.
    expect(r.steps).to.deep.equal(['login', 'refusal']);
    expect(r.location.searchParams.get('error')).to.equal('access_denied');
    expect(r.location.searchParams.get('error_description')).to.equal('There is nobody this person may use the service for');
  });

  it('tells the app access_denied when the person denies consent', async () => {
    const r = await launch(s, { clientId, pid: kari.pid, decision: 'deny' });
    expect(r.steps.at(-1)).to.equal('refusal');
    expect(r.location.searchParams.get('error')).to.equal('access_denied');
    // drive() answers the first decision (the picker, the terms being accepted already) with deny.
    expect(r.steps).to.deep.equal(['login', 'picker', 'refusal']);
    expect(r.location.searchParams.get('error_description')).to.equal('No patient was chosen');
    expect(r.location.searchParams.get('state')).to.equal(r.state);
  });

  it('refuses a login below the configured level of assurance with a page, then tells the app access_denied', async () => {
    const r = await launch(s, { clientId, pid: kari.pid, acr: 'idporten-loa-substantial' });
    expect(r.steps).to.deep.equal(['login', 'refusal']);
    expect(r.code).to.equal(null);
    expect(r.location.searchParams.get('error')).to.equal('access_denied');
    expect(r.location.searchParams.get('error_description')).to.equal('The login level of assurance is too low');
    expect(r.location.searchParams.get('state')).to.equal(r.state);
  });

  it('stops a live token and its refresh on the next request when the account is deactivated (terms consent withdrawn)', async () => {
    const jon = await createCitizen(s.repo, { seq: 3, given: 'Jon' });
    const t = await exchange(s, clientId, await launch(s, { clientId, pid: jon.pid }));
    const token = String(t.body.access_token);
    expect((await fhirGet(s, `Patient/${jon.patientId}`, token)).status).to.equal(200);
    const [consentId] = await findMatchingIds(s.db, 'Consent', `patient=Patient/${jon.patientId}&category=${TERMS_CATEGORY_SYSTEM}|${TERMS_CATEGORY_CODE}`, SYSTEM_ACCESS);
    const consent = await s.repo.read<Consent>('Consent', consentId!, SYSTEM_ACCESS);
    await s.repo.update({ ...consent, status: 'inactive' }, SYSTEM_ACCESS);
    expect((await fhirGet(s, `Patient/${jon.patientId}`, token)).status).to.equal(401);
    const refreshed = await tokenRequest(s, { grant_type: 'refresh_token', refresh_token: String(t.body.refresh_token), client_id: clientId });
    expect(refreshed.body.error).to.equal('invalid_grant');
  });

  it('accepts the authorization request as a form POST (authorize-post)', async () => {
    const res = await fetch(`${s.baseUrl}/auth/authorize`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: APP_REDIRECT,
        scope: 'launch/patient patient/*.rs',
        state: 'posted',
        aud: s.fhirBase,
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      }),
    });
    expect(res.status).to.equal(303);
    expect(res.headers.get('location')).to.match(new RegExp(`^${s.baseUrl}/auth/flow/`));
  });

  it('ends the session-bound grants at logout, so their tokens fail on the next request', async () => {
    const r = await launch(s, { clientId, pid: kari.pid, scope: 'launch/patient openid patient/*.rs' });
    const token = String((await exchange(s, clientId, r)).body.access_token);
    expect((await fhirGet(s, `Patient/${kari.patientId}`, token)).status).to.equal(200);
    await r.browser.navigate('GET', `${s.baseUrl}/auth/logout`);
    const after = await fhirGet(s, `Patient/${kari.patientId}`, token);
    expect(after.status).to.equal(401);
  });
});
