/**
 * Issue 10 hole 10: the re-checks. A clinician's Practitioner must stay active (every request and
 * refresh) and clinicians can log out; introspection applies the gates and answers only the token's
 * own client or a registered resource server; offline grants have an absolute lifetime; `$deactivate`
 * ends the citizen's app grants; a refresh keeps to the client's current registration.
 */
import { expect } from 'chai';
import type { Consent, Practitioner } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import { PORTAL_CLIENT_ID } from '../../src/auth/clients.js';
import { HPR_SYSTEM } from '../../src/auth/clinician-login.js';
import { createLogger } from '../../src/log.js';
import { seedDemoData } from '../../src/seed/seed.js';
import { Browser } from './browser.js';
import { portalToken } from '../access/world.js';
import { APP_REDIRECT, createCitizen, exchange, fhirGet, launch, registerApp, startAuthTestServer, tokenRequest, type AuthTestServer } from './support.js';

const grantIdOf = (jwt: string): string => (JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as { grant_id: string }).grant_id;

describe('re-checks on every request and refresh (issue 10 hole 10)', function () {
  let s: AuthTestServer;
  let app: string;

  before(async () => {
    s = await startAuthTestServer();
    await seedDemoData(s.repo, createLogger('silent'), s.fhirBase);
    ({ client_id: app } = await registerApp(s, {
      client_name: 'Offline app',
      redirect_uris: [APP_REDIRECT],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      scope: 'openid fhirUser launch/patient offline_access patient/Patient.r patient/Observation.rs patient/Condition.rs user/*.rs',
    }));
  });
  after(() => s?.close());

  const refresh = (refreshToken: string, clientId = app) => tokenRequest(s, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId });

  async function appLaunch(o: { pid?: string; hpr?: string; scope: string; browser?: Browser; patient?: string }) {
    const r = await launch(s, { clientId: app, pid: o.pid ?? '', scope: o.scope, ...(o.hpr ? { hpr: o.hpr } : {}), ...(o.browser ? { browser: o.browser } : {}), ...(o.patient ? { patient: o.patient } : {}) });
    const t = await exchange(s, app, r);
    expect(t.status, JSON.stringify(t.body)).to.equal(200);
    return { access: t.body.access_token as string, refresh: t.body.refresh_token as string, scope: String(t.body.scope), browser: r.browser };
  }

  describe('clinicians', () => {
    const HPR = '9999777';
    let practitionerId: string;
    before(async () => {
      const { resource } = await s.repo.create<Practitioner>({ resourceType: 'Practitioner', active: true, identifier: [{ system: HPR_SYSTEM, value: HPR }], name: [{ family: 'Testlege' }] }, SYSTEM_ACCESS);
      practitionerId = resource.id!;
    });
    const setActive = async (active: boolean) => {
      const p = await s.repo.read<Practitioner>('Practitioner', practitionerId, SYSTEM_ACCESS);
      await s.repo.update<Practitioner>({ ...p, active }, SYSTEM_ACCESS);
    };

    it('an inactive Practitioner gets 401 on the next request and the refresh is refused', async () => {
      const t = await appLaunch({ hpr: HPR, scope: 'openid fhirUser user/*.rs offline_access' });
      expect((await fhirGet(s, 'Observation?_count=1', t.access)).status).to.equal(200);
      await setActive(false);
      const res = await fhirGet(s, 'Observation?_count=1', t.access);
      expect(res.status).to.equal(401);
      expect(res.headers.get('www-authenticate')).to.contain('invalid_token');
      const r = await refresh(t.refresh);
      expect(r.status).to.equal(400);
      expect(r.body.error).to.equal('invalid_grant');
      // Reinstated, the old grant stays ended (the refresh revoked it); a new login works.
      await setActive(true);
      expect((await refresh(t.refresh)).status).to.equal(400);
      const again = await appLaunch({ hpr: HPR, scope: 'openid fhirUser user/*.rs offline_access' });
      expect((await fhirGet(s, 'Observation?_count=1', again.access)).status).to.equal(200);
    });

    it('clinician logout ends the grant, offline access included', async () => {
      const t = await appLaunch({ hpr: HPR, scope: 'openid fhirUser user/*.rs offline_access', browser: new Browser() });
      expect((await fhirGet(s, 'Observation?_count=1', t.access)).status).to.equal(200);
      const page = await t.browser.navigate('GET', `${s.baseUrl}/auth/helseid/logout`);
      expect(page.status).to.equal(200);
      expect((await fhirGet(s, 'Observation?_count=1', t.access)).status).to.equal(401);
      expect((await refresh(t.refresh)).body.error).to.equal('invalid_grant');
    });
  });

  describe('introspection', () => {
    let other: { client_id: string; client_secret?: string };
    let rs: { client_id: string; client_secret?: string };
    before(async () => {
      other = await registerApp(s, { client_name: 'Curious app', redirect_uris: ['https://curious.example/cb'], token_endpoint_auth_method: 'client_secret_basic', grant_types: ['authorization_code'], scope: 'openid patient/*.rs' });
      // A resource server: a confidential client registered with the introspection scope.
      rs = await registerApp(s, { client_name: 'Resource server', redirect_uris: ['https://rs.example/cb'], token_endpoint_auth_method: 'client_secret_basic', grant_types: ['authorization_code'], scope: 'openid helsebro:token.introspection' });
    });
    const introspect = (token: string, auth: { client_id: string; client_secret?: string }) =>
      fetch(`${s.baseUrl}/auth/introspect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth.client_secret ? { authorization: `Basic ${Buffer.from(`${auth.client_id}:${auth.client_secret}`).toString('base64')}` } : {}) },
        body: new URLSearchParams({ token, ...(auth.client_secret ? {} : { client_id: auth.client_id }) }),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));

    it('another confidential client gets active:false; the own client and a registered resource server see the token', async () => {
      const c = await createCitizen(s.repo, { seq: 51 });
      const t = await appLaunch({ pid: c.pid, scope: 'launch/patient openid fhirUser patient/Observation.rs offline_access' });
      expect((await introspect(t.access, other)).body).to.deep.equal({ active: false });
      expect((await introspect(t.refresh, other)).body).to.deep.equal({ active: false });
      const own = await introspect(t.access, { client_id: app });
      expect(own.body.active).to.equal(true);
      expect(own.body.patient).to.equal(c.patientId);
      expect((await introspect(t.access, rs)).body.active).to.equal(true);
      expect((await introspect(t.refresh, rs)).body.active).to.equal(true);
      // A wrong secret is a failed client authentication, not a quiet false.
      expect((await introspect(t.access, { client_id: other.client_id, client_secret: 'wrong' })).status).to.equal(401);
    });

    it('a proxy whose grant was revoked: the token introspects as active:false, as the resource server would refuse it', async () => {
      const token = await portalToken(s, '03897302801', 'kari-nordmann'); // Ola, Standard proxy for Kari
      expect((await introspect(token, { client_id: PORTAL_CLIENT_ID })).body.active).to.equal(true);
      const grant = await s.repo.read<Consent>('Consent', 'fullmakt-kari-ola', SYSTEM_ACCESS);
      await s.repo.update<Consent>({ ...grant, status: 'inactive' }, SYSTEM_ACCESS);
      try {
        expect((await introspect(token, { client_id: PORTAL_CLIENT_ID })).body).to.deep.equal({ active: false });
        expect((await introspect(token, rs)).body).to.deep.equal({ active: false });
        expect((await fhirGet(s, 'Patient/kari-nordmann', token)).status).to.equal(401);
      } finally {
        const now = await s.repo.read<Consent>('Consent', 'fullmakt-kari-ola', SYSTEM_ACCESS);
        await s.repo.update<Consent>({ ...now, status: 'active' }, SYSTEM_ACCESS);
      }
    });
  });

  describe('offline grants', () => {
    it('have an absolute lifetime: a refresh after OFFLINE_GRANT_MAX_DAYS is refused, and refreshing never extends past it', async () => {
      const c = await createCitizen(s.repo, { seq: 52 });
      const t = await appLaunch({ pid: c.pid, scope: 'launch/patient openid fhirUser patient/Observation.rs offline_access' });
      const grantId = grantIdOf(t.access);
      const days = s.config.offlineGrantMaxDays;
      expect(days).to.equal(365);
      // 360 days old: a refresh still works, but the grant now ends at created_at + 365 days.
      await s.db.query(`UPDATE auth_grants SET created_at = now() - interval '360 days' WHERE grant_id = $1`, [grantId]);
      const ok = await refresh(t.refresh);
      expect(ok.status, JSON.stringify(ok.body)).to.equal(200);
      const [row] = await s.db.query<{ left_days: number; [k: string]: unknown }>(`SELECT extract(epoch FROM expires_at - now()) / 86400 AS left_days FROM auth_grants WHERE grant_id = $1`, [grantId]);
      expect(Number(row!.left_days)).to.be.lessThan(5.01);
      // Past the lifetime (the clock moved on): refused, and the grant is ended.
      await s.db.query(`UPDATE auth_grants SET created_at = now() - interval '366 days', expires_at = now() + interval '1 day' WHERE grant_id = $1`, [grantId]);
      const late = await refresh(ok.body.refresh_token as string);
      expect(late.status).to.equal(400);
      expect(late.body.error).to.equal('invalid_grant');
      expect(String(late.body.error_description)).to.contain('365 days');
      expect((await fhirGet(s, 'Observation?_count=1', ok.body.access_token as string)).status).to.equal(401);
    });

    it('$deactivate ends the citizen’s app grants: refresh tokens are refused and access tokens stop; the portal can still reactivate', async () => {
      const c = await createCitizen(s.repo, { seq: 53 });
      const t = await appLaunch({ pid: c.pid, scope: 'launch/patient openid fhirUser patient/Observation.rs offline_access' });
      const portal = await portalToken(s, c.pid, c.patientId);
      const op = (name: string) => fetch(`${s.fhirBase}/Patient/${c.patientId}/${name}`, { method: 'POST', headers: { authorization: `Bearer ${portal}` } });
      expect((await op('$deactivate')).status).to.equal(200);
      const [row] = await s.db.query<{ revoked_reason: string | null; [k: string]: unknown }>('SELECT revoked_reason FROM auth_grants WHERE grant_id = $1', [grantIdOf(t.access)]);
      expect(row!.revoked_reason).to.equal('account deactivated');
      expect((await refresh(t.refresh)).body.error).to.equal('invalid_grant');
      expect((await fhirGet(s, 'Observation?_count=1', t.access)).status).to.equal(401);
      expect((await op('$reactivate')).status).to.equal(200);
      // Reactivation restores no app grant: the app has to ask again.
      expect((await refresh(t.refresh)).body.error).to.equal('invalid_grant');
    });

    it('a refresh drops a scope that was removed from the client registration', async () => {
      const c = await createCitizen(s.repo, { seq: 54 });
      const t = await appLaunch({ pid: c.pid, scope: 'launch/patient openid fhirUser patient/Observation.rs patient/Condition.rs offline_access' });
      expect(t.scope).to.contain('patient/Condition.rs');
      expect((await fhirGet(s, 'Condition', t.access)).status).to.equal(200);
      const [client] = await s.db.query<{ scope: string; [k: string]: unknown }>('SELECT scope FROM auth_clients WHERE client_id = $1', [app]);
      await s.db.query('UPDATE auth_clients SET scope = $2 WHERE client_id = $1', [app, client!.scope.replace('patient/Condition.rs', '').replace(/\s+/g, ' ').trim()]);
      try {
        const r = await refresh(t.refresh);
        expect(r.status, JSON.stringify(r.body)).to.equal(200);
        expect(String(r.body.scope)).not.to.contain('Condition');
        expect(String(r.body.scope)).to.contain('patient/Observation.rs');
        expect((await fhirGet(s, 'Condition', r.body.access_token as string)).status).to.equal(403);
        expect((await fhirGet(s, 'Observation', r.body.access_token as string)).status).to.equal(200);
        // The rotated refresh token carries the cut scope too.
        const again = await refresh(r.body.refresh_token as string);
        expect(String(again.body.scope)).not.to.contain('Condition');
      } finally {
        await s.db.query('UPDATE auth_clients SET scope = $2 WHERE client_id = $1', [app, client!.scope]);
      }
    });
  });
});
