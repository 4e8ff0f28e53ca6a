import { expect } from 'chai';
import { APP_REDIRECT, createCitizen, exchange, launch, registerApp, startAuthTestServer, type AuthTestServer } from './support.js';

describe('discovery documents', () => {
  let s: AuthTestServer;
  before(async () => {
    s = await startAuthTestServer();
  });
  after(() => s.close());

  it('serves smart-configuration as JSON whatever the Accept header, with every required and recommended field as absolute URLs', async () => {
    const res = await fetch(`${s.fhirBase}/.well-known/smart-configuration`, { headers: { accept: 'application/fhir+xml' } });
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
    const c = (await res.json()) as Record<string, unknown>;
    expect(c.issuer).to.equal(s.baseUrl);
    for (const field of ['jwks_uri', 'authorization_endpoint', 'token_endpoint', 'introspection_endpoint', 'revocation_endpoint', 'registration_endpoint', 'management_endpoint', 'user_access_brand_bundle']) {
      expect(String(c[field]), field).to.match(/^http:\/\/localhost:\d+\//);
    }
    expect(c.code_challenge_methods_supported).to.deep.equal(['S256']);
    expect(c.grant_types_supported).to.include.members(['authorization_code', 'client_credentials']);
    expect(c.token_endpoint_auth_methods_supported).to.include('private_key_jwt');
    expect(c.token_endpoint_auth_signing_alg_values_supported).to.include.members(['RS384', 'ES384']);
    expect(c.response_types_supported).to.deep.equal(['code']);
    expect(c.user_access_brand_identifier).to.deep.equal({ system: 'urn:ietf:rfc:3986', value: s.baseUrl });
    expect(c.capabilities).to.include.members([
      'launch-standalone', 'launch-ehr', 'authorize-post', 'client-public', 'client-confidential-symmetric', 'client-confidential-asymmetric',
      'sso-openid-connect', 'context-standalone-patient', 'context-ehr-patient', 'context-banner', 'permission-patient', 'permission-user',
      'permission-offline', 'permission-v1', 'permission-v2',
    ]);
  });

  it('serves the OpenID configuration at the issuer and a JWKS of bare public keys', async () => {
    const oidc = (await (await fetch(`${s.baseUrl}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(oidc.issuer).to.equal(s.baseUrl);
    expect(oidc.id_token_signing_alg_values_supported).to.include('RS256');
    const jwks = (await (await fetch(String(oidc.jwks_uri))).json()) as { keys: Array<Record<string, unknown>> };
    expect(jwks.keys.length).to.be.greaterThan(0);
    for (const k of jwks.keys) {
      expect(k).to.include.keys('kty', 'kid', 'n', 'e');
      expect(k).to.not.have.any.keys('d', 'p', 'q');
    }
  });

  it('serves a user access brand bundle naming the FHIR endpoint', async () => {
    const bundle = (await (await fetch(`${s.baseUrl}/auth/brands.json`)).json()) as { entry: Array<{ resource: Record<string, unknown> }> };
    const endpoint = bundle.entry.map((e) => e.resource).find((r) => r.resourceType === 'Endpoint');
    expect(endpoint?.address).to.equal(s.fhirBase);
  });

  it('keeps /metadata public and advertises the SMART endpoints there', async () => {
    const res = await fetch(`${s.fhirBase}/metadata`, { headers: { accept: 'application/fhir+json' } });
    expect(res.status).to.equal(200);
    const body = JSON.stringify(await res.json());
    expect(body).to.include(`${s.baseUrl}/auth/token`);
  });
});

describe('dynamic client registration (RFC 7591) and introspection (RFC 7662)', () => {
  let s: AuthTestServer;
  before(async () => {
    s = await startAuthTestServer();
  });
  after(() => s.close());

  async function register(body: unknown, headers: Record<string, string> = {}, server = s) {
    const res = await fetch(`${server.baseUrl}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('registers a confidential symmetric client and shows its secret once', async () => {
    const res = await register({ client_name: 'Journal app', redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'client_secret_basic' });
    expect(res.status).to.equal(201);
    expect(res.body.client_secret).to.be.a('string');
    expect(res.body.token_endpoint_auth_method).to.equal('client_secret_basic');
  });

  for (const [name, body, error] of [
    ['no redirect URI for a user-facing app', { token_endpoint_auth_method: 'none' }, 'invalid_redirect_uri'],
    ['a redirect URI with a fragment', { redirect_uris: ['https://app.example/cb#x'], token_endpoint_auth_method: 'none' }, 'invalid_redirect_uri'],
    ['private_key_jwt without keys', { grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt' }, 'invalid_client_metadata'],
    ['a backend client with a shared secret', { grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic' }, 'invalid_client_metadata'],
    ['private key material in the JWKS', { grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'RSA', kid: 'k', n: 'x', e: 'AQAB', d: 'secret' }] } }, 'invalid_client_metadata'],
  ] as const) {
    it(`refuses ${name} with ${error}`, async () => {
      const res = await register(body);
      expect(res.status).to.equal(400);
      expect(res.body.error).to.equal(error);
    });
  }

  it('requires the initial access token in production', async () => {
    const prod = await startAuthTestServer({ production: true, registrationToken: 'initial-token' });
    try {
      const meta = { client_name: 'Prod app', redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'none' };
      expect((await register(meta, {}, prod)).status).to.equal(401);
      expect((await register(meta, { authorization: 'Bearer wrong-token' }, prod)).status).to.equal(401);
      expect((await register(meta, { authorization: 'Bearer initial-token' }, prod)).status).to.equal(201);
    } finally {
      await prod.close();
    }
  });

  it('introspects a live token with its launch context and reports a revoked one inactive', async () => {
    const kari = await createCitizen(s.repo, { seq: 21 });
    const { client_id: clientId } = await registerApp(s, { client_name: 'Intro', redirect_uris: [APP_REDIRECT], token_endpoint_auth_method: 'none' });
    const t = await exchange(s, clientId, await launch(s, { clientId, pid: kari.pid, scope: 'launch/patient openid fhirUser patient/*.rs' }));
    const token = String(t.body.access_token);
    const introspect = async () =>
      (await (
        await fetch(`${s.baseUrl}/auth/introspect`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token }),
        })
      ).json()) as Record<string, unknown>;
    const live = await introspect();
    expect(live).to.include({ active: true, client_id: clientId, patient: kari.patientId, iss: s.baseUrl, fhirUser: `${s.fhirBase}/Patient/${kari.patientId}` });
    expect(live).to.include.keys('scope', 'exp', 'sub');

    await fetch(`${s.baseUrl}/auth/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token, client_id: clientId }) });
    const dead = await fetch(`${s.baseUrl}/auth/introspect`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('dev-system:dev-system-secret').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }),
    });
    expect(dead.status).to.equal(200);
    expect(await dead.json()).to.deep.equal({ active: false });
  });

  it('answers unsupported_token_type for a token type hint it cannot revoke', async () => {
    const res = await fetch(`${s.baseUrl}/auth/revoke`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('dev-system:dev-system-secret').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: 'x', token_type_hint: 'device_code' }),
    });
    expect(res.status).to.equal(400);
    expect(((await res.json()) as { error: string }).error).to.equal('unsupported_token_type');
  });
});
