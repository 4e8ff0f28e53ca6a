/**
 * Clinicians (issue 5 §4): `user/` scopes through a separate HelseID login (the second stand-in
 * issuer, HPR-nummer), matched to a Practitioner by HPR identifier, a `kind: 'user'` grant with
 * `fhirUser = Practitioner/{id}`, and the access engine's `clinician` column: clinical data per
 * scope (held results included, and they may release them), never personal notes. Citizens never
 * receive `user/` scopes.
 */
import { expect } from 'chai';
import type { Observation } from 'fhir/r4';
import { decodeJwt } from 'jose';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import { seedDemoData } from '../../src/seed/seed.js';
import { createLogger } from '../../src/log.js';
import { APP_REDIRECT, exchange, fhirGet, launch, registerApp, startAuthTestServer, type AuthTestServer } from '../auth/support.js';
import { Browser } from '../auth/browser.js';

const ANNE_HPR = '9999001';
const KARI_PID = '12847502159';
const HELD = 'Observation/kari-kolesterol-2026-11-18';
const NOTE = 'DocumentReference/kari-personlig-notat-1';
const RELEASE_STATUS = 'https://fhir.helsebro.no/CodeSystem/release-status';

describe('clinician login (HelseID, user/ scopes) and the clinician actor', function () {
  this.timeout(120_000); // a world build takes 30 s on a loaded machine, like the other world tests
  let s: AuthTestServer;
  let appId: string;

  before(async () => {
    s = await startAuthTestServer();
    await seedDemoData(s.repo, createLogger('silent'), s.fhirBase);
    const app = await registerApp(s, {
      client_name: 'Journal viewer',
      redirect_uris: [APP_REDIRECT],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      scope: 'openid fhirUser launch/patient user/*.rs user/Observation.u user/Consent.cruds patient/*.rs',
    });
    appId = app.client_id;
  });
  after(() => s?.close());

  const clinicianToken = (scope: string, hpr = ANNE_HPR) => launch(s, { clientId: appId, pid: '', hpr, scope });

  it('logs in through the HelseID stand-in with an HPR number and gets a user/ grant for Practitioner/lege-anne-lund', async () => {
    const r = await clinicianToken('openid fhirUser user/*.rs user/Observation.u user/Consent.cruds patient/*.rs launch/patient');
    expect(r.steps).to.deep.equal(['helseid-login', 'consent']);
    expect(r.code).to.be.a('string');
    const t = await exchange(s, appId, r);
    expect(t.status).to.equal(200);
    const scope = String(t.body.scope).split(' ');
    expect(scope).to.include.members(['openid', 'fhirUser', 'user/*.rs', 'user/Observation.u', 'user/Consent.rs']);
    expect(scope.some((x) => x.startsWith('patient/') || x === 'launch/patient' || x === 'user/Consent.cruds')).to.equal(false);
    expect(t.body.patient).to.equal(undefined);
    const claims = decodeJwt(String(t.body.id_token));
    expect(claims.fhirUser).to.match(/\/Practitioner\/lege-anne-lund$|^Practitioner\/lege-anne-lund$/);
    const rows = await s.db.query<{ kind: string; fhir_user: string; patient_id: string | null; [k: string]: unknown }>('SELECT kind, fhir_user, patient_id FROM auth_grants WHERE client_id = $1', [appId]);
    expect(rows).to.deep.equal([{ kind: 'user', fhir_user: 'Practitioner/lege-anne-lund', patient_id: null }]);

    // The note exists; the clinician column simply never shows it.
    expect((await s.repo.read('DocumentReference', 'kari-personlig-notat-1', SYSTEM_ACCESS)).id).to.equal('kari-personlig-notat-1');
    const token = String(t.body.access_token);
    const held = await fhirGet(s, HELD, token);
    expect(held.status).to.equal(200);
    expect((held.body.meta as { tag?: Array<{ code?: string }> }).tag?.some((x) => x.code === 'held')).to.equal(true);

    expect((await fhirGet(s, NOTE, token)).status).to.equal(404);
    const notes = await fhirGet(s, 'DocumentReference?patient=Patient/kari-nordmann&_count=100', token);
    expect(notes.status).to.equal(200);
    const ids = ((notes.body.entry ?? []) as Array<{ resource: { id: string } }>).map((e) => e.resource.id);
    expect(ids).not.to.include('kari-personlig-notat-1');
    const all = await fhirGet(s, 'DocumentReference?_count=1000', token);
    expect(((all.body.entry ?? []) as Array<{ resource: { id: string } }>).map((e) => e.resource.id)).not.to.include.members(['kari-personlig-notat-1', 'emma-personlig-notat-1']);

    // Releasing the held result (S18): PUT with release-status released.
    const obs = held.body as unknown as Observation;
    const released: Observation = { ...obs, meta: { ...obs.meta, tag: (obs.meta?.tag ?? []).map((t) => (t.system === RELEASE_STATUS ? { ...t, code: 'released', display: 'Released' } : t)) } };
    const put = await fetch(`${s.fhirBase}/${HELD}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
      body: JSON.stringify(released),
    });
    expect(put.status, await put.clone().text()).to.equal(200);
    const after = await fhirGet(s, HELD, token);
    expect((after.body.meta as { tag?: Array<{ system?: string; code?: string }> }).tag?.find((x) => x.system === RELEASE_STATUS)?.code).to.equal('released');
  });

  it('without user/Observation.u the held result cannot be released (403)', async () => {
    const t = await exchange(s, appId, await clinicianToken('openid fhirUser user/*.rs'));
    expect(t.status).to.equal(200);
    const token = String(t.body.access_token);
    const obs = (await fhirGet(s, 'Observation/kari-kolesterol-2026-11-18', token)).body as unknown as Observation;
    const put = await fetch(`${s.fhirBase}/${HELD}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify(obs),
    });
    expect(put.status).to.equal(403);
    expect(put.headers.get('www-authenticate')).to.contain('insufficient_scope');
  });

  it('an HPR number without a Practitioner is refused (access_denied)', async () => {
    const r = await clinicianToken('openid fhirUser user/*.rs', '1234567');
    expect(r.code).to.equal(null);
    expect(r.location.searchParams.get('error')).to.equal('access_denied');
  });

  it('a citizen requesting user/ scopes gets none', async () => {
    // The request goes to the HelseID login (HPR number), which offers no citizen login ...
    const browser = new Browser();
    const params = new URLSearchParams({
      response_type: 'code', client_id: appId, redirect_uri: APP_REDIRECT, scope: 'openid fhirUser user/*.rs patient/*.rs', state: 'st',
      aud: s.fhirBase, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
    });
    const login = await browser.navigate('GET', `${s.baseUrl}/auth/authorize?${params}`, undefined, APP_REDIRECT);
    expect(login.url.startsWith(s.helseid.loginOrigin)).to.equal(true);
    expect(login.body).to.contain('name="hpr"').and.not.contain('name="pid"');
    // ... and a citizen's own (ID-porten) launch of the same app never carries user/ scopes.
    const citizen = await launch(s, { clientId: appId, pid: KARI_PID, scope: 'launch/patient openid fhirUser patient/*.rs' });
    const t = await exchange(s, appId, citizen);
    expect(t.status).to.equal(200);
    expect(String(t.body.scope)).not.to.contain('user/');
    expect(t.body.patient).to.equal('kari-nordmann');
  });

  it('the citizen flow URL refuses to serve a clinician request', async () => {
    const browser = new Browser();
    const params = new URLSearchParams({
      response_type: 'code', client_id: appId, redirect_uri: APP_REDIRECT, scope: 'openid user/*.rs', state: 'st',
      aud: s.fhirBase, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
    });
    const first = await browser.request('GET', `${s.baseUrl}/auth/authorize?${params}`);
    expect(first.location).to.match(/\/auth\/helseid\/flow\//);
    const rid = first.location!.split('/').pop()!;
    const citizenPath = await browser.request('GET', `${s.baseUrl}/auth/flow/${rid}`);
    expect(citizenPath.status).to.equal(303);
    expect(citizenPath.location).to.contain('/auth/helseid/flow/');
  });
});
