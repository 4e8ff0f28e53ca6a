/**
 * Issue 10 holes 8 and 9: odd input is a 4xx that says what was wrong (never a 500), responses with
 * patient data or tokens are `Cache-Control: no-store`, and CORS lets in only registered origins.
 */
import { expect } from 'chai';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { randomUUID } from 'node:crypto';
import { MAX_JSON_DEPTH, jsonDepthExceeds } from '../../src/http/json-depth.js';
import { APP_REDIRECT, createCitizen, exchange, getDevSystemToken, launch, registerApp, startAuthTestServer, tokenRequest, type AuthTestServer } from './support.js';

describe('odd input, caching and CORS (issue 10 holes 8, 9)', function () {
  let s: AuthTestServer;
  let system: string;
  let patientId: string;
  let jwksBody = 'null';

  before(async () => {
    // The JWKS URL of the backend client below answers whatever `jwksBody` holds.
    const fetchImpl = (async () => new Response(jwksBody, { status: 200, headers: { 'content-type': 'application/json' } })) as typeof fetch;
    s = await startAuthTestServer({ corsOrigins: ['https://portal.helsebro.example'] }, { fetchImpl });
    system = await getDevSystemToken(s.baseUrl);
    ({ patientId } = await createCitizen(s.repo, { seq: 41 }));
  });
  after(() => s?.close());

  const call = (method: string, path: string, body?: string, type = 'application/fhir+json', headers: Record<string, string> = {}) =>
    fetch(`${s.fhirBase}/${path}`, { method, headers: { authorization: `Bearer ${system}`, accept: 'application/fhir+json', ...(body !== undefined ? { 'content-type': type } : {}), ...headers }, ...(body !== undefined ? { body } : {}) });

  async function outcome(res: Response): Promise<string> {
    const body = (await res.json()) as { resourceType: string; issue: Array<{ diagnostics?: string }> };
    expect(body.resourceType).to.equal('OperationOutcome');
    return body.issue.map((i) => i.diagnostics ?? '').join(' ');
  }

  describe('malformed input → 4xx with a message', () => {
    for (const [method, body, type] of [['GET', undefined, undefined], ['PUT', '{"resourceType":"Patient"}', 'application/fhir+json'], ['PATCH', '[]', 'application/json-patch+json'], ['DELETE', undefined, undefined]] as const) {
      it(`${method} Patient/%E0 (malformed percent-escape) → 400`, async () => {
        const res = await call(method, 'Patient/%E0', body, type);
        expect(res.status).to.equal(400);
        expect(await outcome(res)).to.match(/percent-escape/);
      });
    }

    it('a malformed percent-escape in other positions → 400 (history, vread, compartment, type)', async () => {
      for (const path of ['Patient/%E0/_history', 'Patient/1/_history/%E0', 'Patient/%C3%28/Observation', '%E0']) {
        const res = await call('GET', path);
        expect(res.status, path).to.be.oneOf([400, 404]);
        expect(res.status, path).not.to.equal(500);
      }
      expect((await call('GET', 'Patient/%E0/_history')).status).to.equal(400);
    });

    it(`JSON nested 5,000 deep → 400 naming the limit (${MAX_JSON_DEPTH}), in a resource, a Bundle and /auth/register`, async () => {
      const deep = '{"resourceType":"Patient","extension":' + '[{"extension":'.repeat(2500) + '[]' + '}]'.repeat(2500) + '}';
      const r1 = await call('POST', 'Patient', deep);
      expect(r1.status).to.equal(400);
      expect(await outcome(r1)).to.contain(`deeper than ${MAX_JSON_DEPTH}`);
      const r2 = await call('POST', '', '['.repeat(5000) + ']'.repeat(5000));
      expect(r2.status).to.equal(400);
      const r3 = await call('PUT', `Patient/${patientId}`, deep);
      expect(r3.status).to.equal(400);
      const reg = await fetch(`${s.baseUrl}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":'.repeat(5000) + '1' + '}'.repeat(5000) });
      expect(reg.status).to.equal(400);
      expect(((await reg.json()) as { error: string }).error).to.equal('invalid_client_metadata');
    });

    it('the depth scan ignores brackets inside strings and admits depth 100', () => {
      expect(jsonDepthExceeds(Buffer.from('{"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\"[["}'), 10)).to.equal(false);
      expect(jsonDepthExceeds(Buffer.from('['.repeat(100) + ']'.repeat(100)))).to.equal(false);
      expect(jsonDepthExceeds(Buffer.from('['.repeat(101) + ']'.repeat(101)))).to.equal(true);
    });

    it('invalid JSON → 400, an unsupported Content-Type → 415, _count=abc → 400', async () => {
      const bad = await call('POST', 'Patient', '{"resourceType":');
      expect(bad.status).to.equal(400);
      expect(await outcome(bad)).to.match(/not valid JSON/);
      const xml = await call('POST', 'Patient', '<Patient/>', 'application/xml');
      expect(xml.status).to.equal(415);
      expect(await outcome(xml)).to.match(/Content-Type/);
      const count = await call('GET', 'Patient?_count=abc');
      expect(count.status).to.equal(400);
      expect(await outcome(count)).to.match(/_count/);
    });

    it('a client JWKS URL that returns null, a number or keys:null → 401 invalid_client (JSON), never 500', async () => {
      const { privateKey, publicKey } = await generateKeyPair('RS384', { extractable: true });
      const kid = randomUUID();
      const { client_id } = await registerApp(s, { client_name: 'Broken lab', token_endpoint_auth_method: 'private_key_jwt', grant_types: ['client_credentials'], scope: 'system/Patient.rs', jwks_uri: 'https://lab.example/jwks.json' });
      const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS384' };
      for (const body of ['null', '42', '{"keys":null}', '{"keys":[null]}', JSON.stringify({ keys: [jwk] })]) {
        jwksBody = body;
        const now = Math.floor(Date.now() / 1000);
        const assertion = await new SignJWT({ jti: randomUUID() }).setProtectedHeader({ alg: 'RS384', kid, typ: 'JWT' })
          .setIssuer(client_id).setSubject(client_id).setAudience(`${s.baseUrl}/auth/token`).setIssuedAt(now).setExpirationTime(now + 60).sign(privateKey);
        const t = await tokenRequest(s, { grant_type: 'client_credentials', scope: 'system/Patient.rs', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion });
        if (body.includes('"kty"')) {
          expect(t.status, body).to.equal(200); // the same client works once its JWKS is a JWKS
        } else {
          expect(t.status, body).to.equal(401);
          expect(t.body.error).to.equal('invalid_client');
          expect(String(t.body.error_description)).to.match(/JWKS/);
        }
      }
    });
  });

  describe('Cache-Control: no-store on patient data and tokens', () => {
    it('on a read, a search, an error, the token response and introspection; discovery stays cacheable', async () => {
      for (const path of [`Patient/${patientId}`, 'Patient?_count=5', 'Patient/no-such-id']) {
        const res = await call('GET', path);
        expect(res.headers.get('cache-control'), path).to.equal('no-store');
      }
      const basic = Buffer.from('dev-system:dev-system-secret').toString('base64');
      const t = await tokenRequest(s, { grant_type: 'client_credentials', scope: 'system/*.rs' }, { authorization: `Basic ${basic}` });
      expect(t.status).to.equal(200);
      expect(t.headers.get('cache-control')).to.equal('no-store');
      expect(t.headers.get('pragma')).to.equal('no-cache');
      const i = await fetch(`${s.baseUrl}/auth/introspect`, { method: 'POST', headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: system }) });
      expect(i.headers.get('cache-control')).to.equal('no-store');
      const d = await fetch(`${s.fhirBase}/.well-known/smart-configuration`);
      expect(d.headers.get('cache-control')).to.match(/public/);
    });
  });

  describe('CORS', () => {
    let appToken: string;
    before(async () => {
      const { client_id } = await registerApp(s, { client_name: 'Browser app', redirect_uris: [APP_REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], scope: 'openid fhirUser launch/patient patient/*.rs' });
      const c = await createCitizen(s.repo, { seq: 42 });
      const r = await launch(s, { clientId: client_id, pid: c.pid });
      appToken = (await exchange(s, client_id, r)).body.access_token as string;
    });
    const appOrigin = new URL(APP_REDIRECT).origin;

    it('allows the origin of a registered redirect URI on the FHIR API and the token endpoint', async () => {
      const res = await fetch(`${s.fhirBase}/Patient`, { headers: { authorization: `Bearer ${appToken}`, origin: appOrigin } });
      expect(res.status).to.equal(200);
      expect(res.headers.get('access-control-allow-origin')).to.equal(appOrigin);
      expect(res.headers.get('vary')).to.contain('Origin');
      const pre = await fetch(`${s.baseUrl}/auth/token`, { method: 'OPTIONS', headers: { origin: appOrigin, 'access-control-request-method': 'POST' } });
      expect(pre.status).to.equal(204);
      expect(pre.headers.get('access-control-allow-origin')).to.equal(appOrigin);
    });

    it('allows configured portal origins (CORS_ORIGINS) and BASE_URL itself', async () => {
      for (const origin of ['https://portal.helsebro.example', new URL(s.baseUrl).origin]) {
        const res = await fetch(`${s.fhirBase}/Patient`, { headers: { authorization: `Bearer ${appToken}`, origin } });
        expect(res.headers.get('access-control-allow-origin'), origin).to.equal(origin);
      }
    });

    it('never reflects another origin: evil.example gets no Access-Control-Allow-Origin, and its preflight is refused', async () => {
      for (const origin of ['https://evil.example', 'null', `${appOrigin}.evil.example`, 'http://localhost:9.evil.example']) {
        const res = await fetch(`${s.fhirBase}/Patient`, { headers: { authorization: `Bearer ${appToken}`, origin } });
        expect(res.headers.get('access-control-allow-origin'), origin).to.equal(null);
      }
      const pre = await fetch(`${s.fhirBase}/Patient`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
      expect(pre.status).to.equal(403);
      expect(pre.headers.get('access-control-allow-origin')).to.equal(null);
      const tok = await fetch(`${s.baseUrl}/auth/token`, { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
      expect(tok.headers.get('access-control-allow-origin')).to.equal(null);
    });

    it('discovery and /metadata answer any origin (app-launch §CORS)', async () => {
      for (const path of ['/fhir/.well-known/smart-configuration', '/fhir/metadata', '/.well-known/openid-configuration']) {
        const res = await fetch(`${s.baseUrl}${path}`, { headers: { origin: 'https://any.example' } });
        expect(res.headers.get('access-control-allow-origin'), path).to.equal('https://any.example');
      }
    });
  });
});
