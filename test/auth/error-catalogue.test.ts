/** The negative cases of the error catalogue (access-spec §1.12), one rule per test. */
import { expect } from 'chai';
import { SignJWT, UnsecuredJWT } from 'jose';
import { signAccessToken } from '../../src/auth/tokens.js';
import { pkcePair } from './pkce.js';
import { APP_REDIRECT, createCitizen, exchange, fhirGet, launch, registerApp, startAuthTestServer, tokenRequest, type AuthTestServer } from './support.js';

describe('error catalogue', function () {
  // Starting the server and registering two apps took over 30 s once on a machine at load 6 (two full suites at once).
  this.timeout(120_000);
  let s: AuthTestServer;
  let clientId: string;
  let otherClient: string;
  let kari: { patientId: string; pid: string };

  before(async () => {
    s = await startAuthTestServer();
    kari = await createCitizen(s.repo, { seq: 4 });
    const meta = { redirect_uris: [APP_REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] };
    ({ client_id: clientId } = await registerApp(s, { ...meta, client_name: 'App A' }));
    ({ client_id: otherClient } = await registerApp(s, { ...meta, client_name: 'App B' }));
  });
  after(() => s.close());

  function authorizeUrl(overrides: Record<string, string | null>): string {
    const { challenge } = pkcePair();
    const params: Record<string, string | null> = {
      response_type: 'code',
      client_id: clientId,
      redirect_uri: APP_REDIRECT,
      scope: 'launch/patient patient/*.rs',
      state: 'the-state',
      aud: s.fhirBase,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...overrides,
    };
    const q = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== null));
    return `${s.baseUrl}/auth/authorize?${q}`;
  }

  async function redirectError(overrides: Record<string, string | null>): Promise<URLSearchParams> {
    const res = await fetch(authorizeUrl(overrides), { redirect: 'manual' });
    expect(res.status).to.equal(302);
    const location = new URL(res.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).to.equal(APP_REDIRECT);
    return location.searchParams;
  }

  describe('/authorize', () => {
    for (const [name, overrides] of [
      ['an unknown client_id', { client_id: 'no-such-app' }],
      ['a missing redirect_uri', { redirect_uri: null }],
      ['an unregistered redirect_uri', { redirect_uri: 'http://localhost:9/evil' }],
      ['a redirect_uri that only shares a prefix', { redirect_uri: `${APP_REDIRECT}/more` }],
    ] as const) {
      it(`shows an error page and never redirects for ${name}`, async () => {
        const res = await fetch(authorizeUrl(overrides), { redirect: 'manual' });
        expect(res.status).to.equal(400);
        expect(res.headers.get('location')).to.equal(null);
        expect(res.headers.get('content-type')).to.match(/text\/html/);
      });
    }

    it('redirects invalid_request with the state when PKCE is missing', async () => {
      const q = await redirectError({ code_challenge: null, code_challenge_method: null });
      expect(q.get('error')).to.equal('invalid_request');
      expect(q.get('state')).to.equal('the-state');
    });

    it('redirects invalid_request for plain PKCE', async () => {
      expect((await redirectError({ code_challenge_method: 'plain' })).get('error')).to.equal('invalid_request');
    });

    it('redirects invalid_request when aud is not this FHIR server', async () => {
      expect((await redirectError({ aud: 'https://evil.example/fhir' })).get('error')).to.equal('invalid_request');
      expect((await redirectError({ aud: null })).get('error')).to.equal('invalid_request');
    });

    it('redirects invalid_request for a launch value the server never issued', async () => {
      expect((await redirectError({ launch: 'made-up', scope: 'launch patient/*.rs' })).get('error')).to.equal('invalid_request');
    });

    it('redirects unsupported_response_type for the implicit flow', async () => {
      expect((await redirectError({ response_type: 'token' })).get('error')).to.equal('unsupported_response_type');
    });

    it('redirects invalid_scope when nothing requested can be granted', async () => {
      expect((await redirectError({ scope: 'system/*.* user/Patient.r' })).get('error')).to.equal('invalid_scope');
    });
  });

  describe('/token', () => {
    it('rejects a replayed code and revokes the token already issued from it', async () => {
      const r = await launch(s, { clientId, pid: kari.pid });
      const first = await exchange(s, clientId, r);
      expect(first.status).to.equal(200);
      const replay = await exchange(s, clientId, r);
      expect(replay.status).to.equal(400);
      expect(replay.body.error).to.equal('invalid_grant');
      expect((await fhirGet(s, `Patient/${kari.patientId}`, String(first.body.access_token))).status).to.equal(401);
    });

    it('rejects a wrong code_verifier, a missing one, a different redirect_uri and another client’s code', async () => {
      const cases: Array<[string, (r: Awaited<ReturnType<typeof launch>>) => Record<string, string>]> = [
        ['wrong verifier', (r) => ({ code_verifier: pkcePair().verifier, client_id: clientId, code: r.code!, redirect_uri: APP_REDIRECT })],
        ['missing verifier', (r) => ({ client_id: clientId, code: r.code!, redirect_uri: APP_REDIRECT })],
        ['redirect mismatch', (r) => ({ code_verifier: r.verifier, client_id: clientId, code: r.code!, redirect_uri: 'http://localhost:9/other' })],
        ['foreign code', (r) => ({ code_verifier: r.verifier, client_id: otherClient, code: r.code!, redirect_uri: APP_REDIRECT })],
      ];
      for (const [name, form] of cases) {
        const r = await launch(s, { clientId, pid: kari.pid });
        const res = await tokenRequest(s, { grant_type: 'authorization_code', ...form(r) });
        expect(res.status, name).to.equal(400);
        expect(res.body.error, name).to.equal('invalid_grant');
        // The code is spent even by a failed attempt.
        expect((await exchange(s, clientId, r)).body.error, name).to.equal('invalid_grant');
      }
    });

    it('answers an unknown client with 401 invalid_client', async () => {
      const res = await tokenRequest(s, { grant_type: 'authorization_code', code: 'x', redirect_uri: APP_REDIRECT, code_verifier: pkcePair().verifier, client_id: 'ghost' });
      expect(res.status).to.equal(401);
      expect(res.body.error).to.equal('invalid_client');
    });

    it('answers a bad Basic secret with 401 and WWW-Authenticate', async () => {
      const res = await tokenRequest(s, { grant_type: 'client_credentials', scope: 'system/*.rs' }, { authorization: `Basic ${Buffer.from('dev-system:wrong').toString('base64')}` });
      expect(res.status).to.equal(401);
      expect(res.body.error).to.equal('invalid_client');
      expect(res.headers.get('www-authenticate')).to.match(/^Basic/);
    });

    it('answers an unknown grant_type with unsupported_grant_type', async () => {
      const res = await tokenRequest(s, { grant_type: 'password', client_id: clientId });
      expect(res.body.error).to.equal('unsupported_grant_type');
    });
  });

  describe('refresh', () => {
    it('rotates a public client’s refresh token; presenting the old one again revokes the whole family', async () => {
      const r = await launch(s, { clientId, pid: kari.pid });
      const t0 = await exchange(s, clientId, r);
      const rt0 = String(t0.body.refresh_token);
      const t1 = await tokenRequest(s, { grant_type: 'refresh_token', refresh_token: rt0, client_id: clientId });
      expect(t1.status).to.equal(200);
      expect(t1.body.patient).to.equal(kari.patientId);
      const rt1 = String(t1.body.refresh_token);
      expect(rt1).to.not.equal(rt0);

      const reuse = await tokenRequest(s, { grant_type: 'refresh_token', refresh_token: rt0, client_id: clientId });
      expect(reuse.body.error).to.equal('invalid_grant');
      expect((await tokenRequest(s, { grant_type: 'refresh_token', refresh_token: rt1, client_id: clientId })).body.error).to.equal('invalid_grant');
      expect((await fhirGet(s, `Patient/${kari.patientId}`, String(t1.body.access_token))).status).to.equal(401);
    });

    it('refuses to widen the scope at refresh and allows narrowing', async () => {
      const t0 = await exchange(s, clientId, await launch(s, { clientId, pid: kari.pid }));
      const wider = await tokenRequest(s, { grant_type: 'refresh_token', refresh_token: String(t0.body.refresh_token), client_id: clientId, scope: 'patient/*.cruds' });
      expect(wider.status).to.equal(400);
      expect(wider.body.error).to.equal('invalid_scope');
      const t1 = await tokenRequest(s, { grant_type: 'refresh_token', refresh_token: String(t0.body.refresh_token), client_id: clientId });
      const narrower = await tokenRequest(s, { grant_type: 'refresh_token', refresh_token: String(t1.body.refresh_token), client_id: clientId, scope: 'patient/Patient.r' });
      expect(narrower.status).to.equal(200);
      expect(narrower.body.scope).to.equal('patient/Patient.r');
      expect((await fhirGet(s, 'Observation', String(narrower.body.access_token))).status).to.equal(403);
    });

    it('refuses a refresh token another client presents', async () => {
      const t0 = await exchange(s, clientId, await launch(s, { clientId, pid: kari.pid }));
      const res = await tokenRequest(s, { grant_type: 'refresh_token', refresh_token: String(t0.body.refresh_token), client_id: otherClient });
      expect(res.body.error).to.equal('invalid_grant');
    });

    it('refuses a revoked refresh token and stops the access tokens of its grant (RFC 7009)', async () => {
      const t0 = await exchange(s, clientId, await launch(s, { clientId, pid: kari.pid }));
      const revoke = await fetch(`${s.baseUrl}/auth/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: String(t0.body.refresh_token), token_type_hint: 'refresh_token', client_id: clientId }),
      });
      expect(revoke.status).to.equal(200);
      expect((await tokenRequest(s, { grant_type: 'refresh_token', refresh_token: String(t0.body.refresh_token), client_id: clientId })).body.error).to.equal('invalid_grant');
      expect((await fhirGet(s, `Patient/${kari.patientId}`, String(t0.body.access_token))).status).to.equal(401);
    });
  });

  describe('FHIR API', () => {
    it('answers a request without a token with 401, WWW-Authenticate invalid_token and OperationOutcome login', async () => {
      const res = await fhirGet(s, 'Patient');
      expect(res.status).to.equal(401);
      expect(res.headers.get('www-authenticate')).to.include('error="invalid_token"');
      expect((res.body.issue as Array<{ code: string }>)[0]!.code).to.equal('login');
    });

    it('answers an expired token with OperationOutcome expired', async () => {
      const { token } = await signAccessToken(s.keys, s.config, { grantId: 'g', clientId, scope: 'patient/*.rs', ttl: -5 });
      const res = await fhirGet(s, 'Patient', token);
      expect(res.status).to.equal(401);
      expect((res.body.issue as Array<{ code: string }>)[0]!.code).to.equal('expired');
    });

    it('answers alg none, a tampered token and a wrong aud with 401 login', async () => {
      const good = String((await exchange(s, clientId, await launch(s, { clientId, pid: kari.pid }))).body.access_token);
      const [h, p, sig] = good.split('.');
      const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
      const none = new UnsecuredJWT(claims).encode();
      const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, patient: 'someone-else' })).toString('base64url')}.${sig}`;
      const { kid, key } = await s.keys.signingKey();
      const wrongAud = await new SignJWT({ ...claims, aud: 'https://other.example/fhir' }).setProtectedHeader({ alg: 'RS256', kid, typ: 'at+jwt' }).sign(key);
      for (const [name, token] of [['none', none], ['tampered', tampered], ['wrong aud', wrongAud]]) {
        const res = await fhirGet(s, `Patient/${kari.patientId}`, token);
        expect(res.status, name).to.equal(401);
        expect((res.body.issue as Array<{ code: string }>)[0]!.code, name).to.equal('login');
        expect(JSON.stringify(res.body), name).to.not.include(token!.slice(0, 20));
      }
      expect((await fhirGet(s, `Patient/${kari.patientId}`, good)).status).to.equal(200);
    });
  });
});
