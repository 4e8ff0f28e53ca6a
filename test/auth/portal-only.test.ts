/**
 * Issue 10 hole 5: `$deactivate`, `$reactivate` and grant administration belong to the citizen
 * through the first-party portal only (403 for every other app, whatever its scopes), and
 * operations get a scope check like every other interaction. Over HTTP, with real tokens.
 */
import { expect } from 'chai';
import type { Bundle, Consent, Patient } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import { PORTAL_CLIENT_ID, PORTAL_SCOPE } from '../../src/auth/clients.js';
import { createLogger } from '../../src/log.js';
import { seedDemoData } from '../../src/seed/seed.js';
import { portalToken } from '../access/world.js';
import { APP_REDIRECT, createCitizen, exchange, fhirGet, launch, registerApp, startAuthTestServer, type AuthTestServer } from './support.js';

const KARI = { pid: '12847502159', patient: 'kari-nordmann' };

describe('portal-only account and grant administration; operations need scopes (issue 10 hole 5)', function () {
  let s: AuthTestServer;
  let wideApp: string;

  before(async () => {
    s = await startAuthTestServer();
    await seedDemoData(s.repo, createLogger('silent'), s.fhirBase);
    ({ client_id: wideApp } = await registerApp(s, {
      client_name: 'Everything app',
      redirect_uris: [APP_REDIRECT],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      scope: 'openid fhirUser launch/patient offline_access patient/*.cruds',
    }));
  });
  after(() => s?.close());

  async function appToken(pid: string, scope: string, patient?: string): Promise<string> {
    const r = await launch(s, { clientId: wideApp, pid, scope, ...(patient ? { patient } : {}) });
    const t = await exchange(s, wideApp, r);
    expect(t.status, JSON.stringify(t.body)).to.equal(200);
    return t.body.access_token as string;
  }

  const post = (path: string, token: string, body: unknown = { resourceType: 'Parameters' }) =>
    fetch(`${s.fhirBase}/${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json', accept: 'application/fhir+json' }, body: JSON.stringify(body) });

  it('a third-party app holding only patient/Observation.rs cannot $deactivate (403), nor can one holding patient/*.cruds; the portal can', async () => {
    const citizen = await createCitizen(s.repo, { seq: 31, birthDate: '1975-03-03' });
    const narrow = await appToken(citizen.pid, 'launch/patient openid fhirUser patient/Observation.rs');
    const r1 = await post(`Patient/${citizen.patientId}/$deactivate`, narrow);
    expect(r1.status).to.equal(403);
    expect(((await r1.json()) as { resourceType: string }).resourceType).to.equal('OperationOutcome');

    const wide = await appToken(citizen.pid, 'launch/patient openid fhirUser patient/*.cruds');
    const r2 = await post(`Patient/${citizen.patientId}/$deactivate`, wide);
    expect(r2.status).to.equal(403);
    const oo = (await r2.json()) as { issue: Array<{ code: string; diagnostics: string }> };
    expect(oo.issue[0]!.code).to.equal('forbidden');
    expect(oo.issue[0]!.diagnostics).to.match(/portal/);
    // Nothing happened: the account is still active and the app still works.
    const still = await s.repo.read<Patient>('Patient', citizen.patientId, SYSTEM_ACCESS);
    expect(JSON.stringify(still.extension ?? [])).not.to.contain('deactivated');
    expect((await fhirGet(s, `Patient/${citizen.patientId}`, wide)).status).to.equal(200);

    const portal = await portalToken(s, citizen.pid, citizen.patientId, PORTAL_SCOPE);
    const r3 = await post(`Patient/${citizen.patientId}/$deactivate`, portal);
    expect(r3.status).to.equal(200);
    // $reactivate: the portal's door stays open; an app cannot reopen the account either.
    expect((await post(`Patient/${citizen.patientId}/$reactivate`, wide)).status).to.equal(401);
    const r4 = await post(`Patient/${citizen.patientId}/$reactivate`, portal);
    expect(r4.status).to.equal(200);
  });

  it('grant administration (proxy Consents, POWATT RelatedPersons, terms) through a third-party app is 403, also inside a transaction; the portal may', async () => {
    const wide = await appToken(KARI.pid, 'launch/patient openid fhirUser patient/*.cruds', KARI.patient);
    const grant = await s.repo.read<Consent>('Consent', 'fullmakt-kari-ola', SYSTEM_ACCESS);
    const revoked: Consent = { ...grant, status: 'inactive' };
    const put = (token: string, body: Consent) =>
      fetch(`${s.fhirBase}/Consent/${body.id}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' }, body: JSON.stringify(body) });
    expect((await put(wide, revoked)).status).to.equal(403);
    const proxy = {
      resourceType: 'RelatedPerson', patient: { reference: `Patient/${KARI.patient}` }, birthDate: '1970-01-01',
      relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'POWATT' }] }],
    };
    expect((await post('RelatedPerson', wide, proxy)).status).to.equal(403);
    const tx: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: revoked, request: { method: 'PUT', url: 'Consent/fullmakt-kari-ola' } }] };
    const txRes = await post('', wide, tx);
    expect(txRes.status).to.equal(403);
    expect((await s.repo.read<Consent>('Consent', 'fullmakt-kari-ola', SYSTEM_ACCESS)).status).to.equal('active');

    // The citizen in the portal: withdraw and restore the grant.
    const portal = await portalToken(s, KARI.pid, KARI.patient);
    const current = await s.repo.read<Consent>('Consent', 'fullmakt-kari-ola', SYSTEM_ACCESS);
    expect((await put(portal, { ...current, status: 'inactive' })).status).to.equal(200);
    const after = await s.repo.read<Consent>('Consent', 'fullmakt-kari-ola', SYSTEM_ACCESS);
    expect(after.status).to.equal('inactive');
    expect((await put(portal, { ...after, status: 'active' })).status).to.equal(200);
  });

  it('operations are scope-checked: $everything needs Patient read and returns only readable types; $validate needs no patient scope', async () => {
    const obsOnly = await appToken(KARI.pid, 'launch/patient openid fhirUser patient/Observation.rs', KARI.patient);
    const e1 = await fhirGet(s, `Patient/${KARI.patient}/$everything`, obsOnly);
    expect(e1.status).to.equal(403);
    expect(e1.headers.get('www-authenticate')).to.contain('insufficient_scope');
    // Compartment search is a search of the named type.
    expect((await fhirGet(s, `Patient/${KARI.patient}/Condition`, obsOnly)).status).to.equal(403);
    expect((await fhirGet(s, `Patient/${KARI.patient}/Observation`, obsOnly)).status).to.equal(200);

    const two = await appToken(KARI.pid, 'launch/patient openid fhirUser patient/Patient.r patient/Observation.rs', KARI.patient);
    const e2 = await fhirGet(s, `Patient/${KARI.patient}/$everything`, two);
    expect(e2.status).to.equal(200);
    const types = new Set(((e2.body as unknown as Bundle).entry ?? []).map((e) => e.resource?.resourceType));
    expect([...types].sort()).to.deep.equal(['Observation', 'Patient']);

    const v = await post('Observation/$validate', obsOnly, { resourceType: 'Observation', status: 'final', code: { text: 'x' } });
    expect(v.status).to.equal(200);
    const cv = await post('Condition/$validate', obsOnly, { resourceType: 'Condition', subject: { reference: `Patient/${KARI.patient}` } });
    expect(cv.status).to.equal(200);
    expect((await post('Patient/kari-nordmann/$unknown', two)).status).to.equal(404);
  });

  it('the portal itself is the only first-party client', async () => {
    const r = await fetch(`${s.baseUrl}/auth/register`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Helsebro', redirect_uris: [APP_REDIRECT], token_endpoint_auth_method: 'none', scope: PORTAL_SCOPE }),
    });
    const body = (await r.json()) as { client_id: string };
    expect(body.client_id).not.to.equal(PORTAL_CLIENT_ID);
  });
});
