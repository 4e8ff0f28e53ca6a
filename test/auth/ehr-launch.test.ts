import { expect } from 'chai';
import { PORTAL_CLIENT_ID } from '../../src/auth/clients.js';
import { Browser } from './browser.js';
import { createCitizen, exchange, launch, registerApp, startAuthTestServer, type AuthTestServer } from './support.js';

describe('EHR launch from the citizen portal', () => {
  let s: AuthTestServer;
  let appId: string;
  let kari: { patientId: string; pid: string };
  let ola: { patientId: string; pid: string };
  const APP = 'http://localhost:9/ehr-app/callback';

  before(async () => {
    s = await startAuthTestServer();
    kari = await createCitizen(s.repo, { seq: 11 });
    ola = await createCitizen(s.repo, { seq: 12, given: 'Ola' });
    ({ client_id: appId } = await registerApp(s, {
      client_name: 'Timebok',
      redirect_uris: [APP],
      launch_uri: 'http://localhost:9/ehr-app/launch',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      scope: 'openid fhirUser launch online_access patient/*.rs',
    }));
  });
  after(() => s.close());

  /** The portal logs the person in (first-party: no consent page) and asks for a launch for `appId`. */
  async function portalLaunch(pid: string, browser: Browser): Promise<{ launch: string; launch_url: string; iss: string }> {
    const portal = await launch(s, { clientId: PORTAL_CLIENT_ID, pid, browser, redirectUri: `${s.baseUrl}/portal/callback`, scope: 'openid fhirUser launch/patient patient/*.cruds' });
    expect(portal.steps).to.not.include('consent');
    const token = await exchange(s, PORTAL_CLIENT_ID, portal, `${s.baseUrl}/portal/callback`);
    expect(String(token.body.scope)).to.include('patient/Consent.');
    const res = await fetch(`${s.baseUrl}/auth/launch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${String(token.body.access_token)}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: appId }),
    });
    expect(res.status).to.equal(201);
    return (await res.json()) as { launch: string; launch_url: string; iss: string };
  }

  it('hands the app a launch URL with iss and launch, and the launch fixes the patient without a picker', async () => {
    const browser = new Browser();
    const issued = await portalLaunch(kari.pid, browser);
    const url = new URL(issued.launch_url);
    expect(url.searchParams.get('iss')).to.equal(s.fhirBase);
    expect(url.searchParams.get('launch')).to.equal(issued.launch);

    const r = await launch(s, { clientId: appId, pid: kari.pid, browser, redirectUri: APP, launch: issued.launch, scope: 'launch openid fhirUser patient/*.rs online_access' });
    expect(r.steps).to.deep.equal(['consent']);
    const token = await exchange(s, appId, r, APP);
    expect(token.status).to.equal(200);
    expect(token.body.patient).to.equal(kari.patientId);
    expect(String(token.body.scope)).to.include('online_access');
    expect(String(token.body.scope)).to.not.include('Consent');
  });

  it('accepts a launch value once only', async () => {
    const browser = new Browser();
    const issued = await portalLaunch(kari.pid, browser);
    await launch(s, { clientId: appId, pid: kari.pid, browser, redirectUri: APP, launch: issued.launch, scope: 'launch patient/*.rs' });
    const again = await launch(s, { clientId: appId, pid: kari.pid, browser, redirectUri: APP, launch: issued.launch, scope: 'launch patient/*.rs' });
    expect(again.location.searchParams.get('error')).to.equal('invalid_request');
  });

  it('refuses a launch completed by another person than the one it was issued for', async () => {
    const issued = await portalLaunch(kari.pid, new Browser());
    const r = await launch(s, { clientId: appId, pid: ola.pid, redirectUri: APP, launch: issued.launch, scope: 'launch patient/*.rs' });
    expect(r.location.searchParams.get('error')).to.equal('access_denied');
  });

  it('requires a live portal token to create a launch', async () => {
    const res = await fetch(`${s.baseUrl}/auth/launch`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ client_id: appId }) });
    expect(res.status).to.equal(401);
    expect(((await res.json()) as { error: string }).error).to.equal('invalid_token');
  });
});
