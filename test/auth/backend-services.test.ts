import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { createCitizen, fhirGet, getDevSystemToken, registerApp, startAuthTestServer, tokenRequest, type AuthTestServer } from './support.js';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

interface KeyPair {
  alg: 'RS384' | 'ES384' | 'RS256';
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function keyPair(alg: KeyPair['alg']): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  return { alg, kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg } };
}

describe('SMART Backend Services (client_credentials with private_key_jwt)', () => {
  let s: AuthTestServer;
  let jwksServer: http.Server;
  let jwksUrl: string;
  let served: { keys: JWK[] } = { keys: [] };
  let rsa: KeyPair;
  let ec: KeyPair;
  let urlClient: string;
  let inlineClient: string;
  let tokenUrl: string;

  before(async () => {
    s = await startAuthTestServer();
    tokenUrl = `${s.baseUrl}/auth/token`;
    await createCitizen(s.repo, { seq: 7 });
    rsa = await keyPair('RS384');
    ec = await keyPair('ES384');
    served = { keys: [rsa.publicJwk] };
    jwksServer = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(served));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, resolve));
    jwksUrl = `http://localhost:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
    const base = { token_endpoint_auth_method: 'private_key_jwt', grant_types: ['client_credentials'], scope: 'system/Patient.rs system/Observation.rs' };
    ({ client_id: urlClient } = await registerApp(s, { ...base, client_name: 'Lab system', jwks_uri: jwksUrl }));
    ({ client_id: inlineClient } = await registerApp(s, { ...base, client_name: 'Device hub', jwks: { keys: [ec.publicJwk] } }));
  });
  after(async () => {
    await s.close();
    await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
  });

  function assertion(clientId: string, key: KeyPair, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ jti: randomUUID(), ...claims })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience((claims.aud as string | undefined) ?? tokenUrl)
      .setIssuedAt(now)
      .setExpirationTime((claims.exp as number | undefined) ?? now + 240)
      .sign(key.privateKey);
  }

  function requestToken(clientAssertion: string, scope = 'system/Patient.rs') {
    return tokenRequest(s, { grant_type: 'client_credentials', scope, client_assertion_type: ASSERTION_TYPE, client_assertion: clientAssertion });
  }

  it('issues a bearer token of at most 300 s for an RS384 assertion checked against the JWKS URL', async () => {
    const res = await requestToken(await assertion(urlClient, rsa));
    expect(res.status).to.equal(200);
    expect(res.headers.get('cache-control')).to.equal('no-store');
    expect(res.body).to.include({ token_type: 'bearer', scope: 'system/Patient.rs' });
    expect(res.body.expires_in).to.be.at.most(300);
    expect(res.body.refresh_token).to.equal(undefined);
    const token = String(res.body.access_token);
    expect((await fhirGet(s, 'Patient', token)).status).to.equal(200);
    expect((await fhirGet(s, 'Observation', token)).status).to.equal(403);
  });

  it('accepts an ES384 assertion against an inline JWKS', async () => {
    expect((await requestToken(await assertion(inlineClient, ec))).status).to.equal(200);
  });

  it('never grants more than the client’s registered scopes', async () => {
    const res = await requestToken(await assertion(urlClient, rsa), 'system/*.cruds');
    expect(res.status).to.equal(200);
    expect(String(res.body.scope).split(' ').sort()).to.deep.equal(['system/Observation.rs', 'system/Patient.rs']);
    expect((await requestToken(await assertion(urlClient, rsa), 'system/Condition.rs')).body.error).to.equal('invalid_scope');
  });

  it('rejects a replayed jti', async () => {
    const jti = randomUUID();
    expect((await requestToken(await assertion(urlClient, rsa, { jti }))).status).to.equal(200);
    const replay = await requestToken(await assertion(urlClient, rsa, { jti }));
    expect(replay.status).to.equal(401);
    expect(replay.body.error).to.equal('invalid_client');
  });

  for (const [name, make] of [
    ['an assertion for another audience', () => assertion(urlClient, rsa, { aud: 'https://other.example/token' })],
    ['an assertion living more than 5 minutes', () => assertion(urlClient, rsa, { exp: Math.floor(Date.now() / 1000) + 3600 })],
    ['an expired assertion', () => assertion(urlClient, rsa, { exp: Math.floor(Date.now() / 1000) - 120 })],
    ['a jku that is not the registered JWKS URL', () => assertion(urlClient, rsa, {}, { jku: 'https://evil.example/jwks' })],
    ['an unknown client', () => assertion('ghost-client', rsa)],
    ['a key the client never registered', async () => assertion(urlClient, await keyPair('RS384'))],
  ] as const) {
    it(`answers invalid_client for ${name}`, async () => {
      const res = await requestToken(await make());
      expect(res.status).to.equal(401);
      expect(res.body.error).to.equal('invalid_client');
    });
  }

  it('answers invalid_client for an RS256 assertion (only RS384 and ES384 are accepted)', async () => {
    const rs256 = await keyPair('RS256');
    served = { keys: [rsa.publicJwk, rs256.publicJwk] };
    try {
      expect((await requestToken(await assertion(urlClient, rs256))).body.error).to.equal('invalid_client');
    } finally {
      served = { keys: [rsa.publicJwk] };
    }
  });

  it('honours Cache-Control no-store on the client’s JWKS: a rotated key works at once', async () => {
    const next = await keyPair('RS384');
    served = { keys: [next.publicJwk] };
    try {
      expect((await requestToken(await assertion(urlClient, next))).status).to.equal(200);
      expect((await requestToken(await assertion(urlClient, rsa))).status).to.equal(401);
    } finally {
      served = { keys: [rsa.publicJwk] };
    }
  });

  it('gives the development system client a system/*.* token over client_secret_basic (via the express app or a URL)', async () => {
    const viaApp = await getDevSystemToken(s.app);
    const viaUrl = await getDevSystemToken(s.baseUrl, { scope: 'system/Patient.rs' });
    expect((await fhirGet(s, 'Patient', viaApp)).status).to.equal(200);
    expect((await fhirGet(s, 'Patient', viaUrl)).status).to.equal(200);
    const introspection = await fetch(`${s.baseUrl}/auth/introspect`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('dev-system:dev-system-secret').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: viaUrl }),
    });
    expect(await introspection.json()).to.include({ active: true, client_id: 'dev-system', scope: 'system/Patient.rs' });
  });

  it('has no dev-system client in production', async () => {
    const prod = await startAuthTestServer({ production: true, registrationToken: 'initial-token' });
    try {
      const res = await tokenRequest(prod, { grant_type: 'client_credentials', scope: 'system/*.*' }, { authorization: `Basic ${Buffer.from('dev-system:dev-system-secret').toString('base64')}` });
      expect(res.status).to.equal(401);
    } finally {
      await prod.close();
    }
  });
});
