import { expect } from 'chai';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { testConfig } from '../../src/config/config.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startDevIdp, type DevIdp } from '../../src/dev-idp/start.js';
import { syntheticFnr } from '../../src/fhir/validation/fnr.js';
import { Browser, type Page } from './browser.js';
import { pkcePair } from './pkce.js';

const A = { id: 'rp-a', secret: 'secret-a', redirect: 'http://a.localhost/cb' };
const B = { id: 'rp-b', secret: 'secret-b', redirect: 'http://b.localhost/cb' };

describe('ID-porten stand-in', () => {
  let idp: DevIdp;
  let authorizeUrl: string;
  const pid = syntheticFnr('1990-02-03', 3);

  before(async () => {
    idp = await startDevIdp(testConfig({ devIdpPort: 0 }), {
      extraClients: [A, B].map((c) => ({ client_id: c.id, client_secret: c.secret, redirect_uris: [c.redirect] })),
    });
    const meta = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Record<string, string>;
    authorizeUrl = meta.authorization_endpoint!;
  });
  after(() => idp.close());

  function authorize(client: typeof A, extra: Record<string, string> = {}, omit: string[] = []) {
    const { verifier, challenge } = pkcePair();
    const params: Record<string, string> = {
      response_type: 'code',
      client_id: client.id,
      redirect_uri: client.redirect,
      scope: 'openid',
      state: 'st-1',
      nonce: 'n-1',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      acr_values: 'idporten-loa-high',
      ...extra,
    };
    for (const k of omit) delete params[k];
    return { url: `${authorizeUrl}?${new URLSearchParams(params)}`, verifier };
  }

  async function login(client: typeof A, acr = 'idporten-loa-high'): Promise<{ idToken: string; redirect: URL }> {
    const browser = new Browser();
    const { url, verifier } = authorize(client);
    const loginPage = await browser.navigate('GET', url);
    const back: Page = await browser.submit(loginPage, { pid, acr }, client.redirect);
    const redirect = new URL(back.location!);
    const res = await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: client.redirect, code_verifier: verifier }),
    });
    const body = (await res.json()) as { id_token: string };
    return { idToken: body.id_token, redirect };
  }

  // The stand-in runs in the API's process in development and in the bench: on Node 20 oidc-provider's
  // AsyncLocalStorage, once run, left an async hook on for every promise of every API request
  // (docs/bench.md "Read latency and cost per request (w8-read)"). Released between its requests, and
  // requests of it that overlap keep their context (each login below completes with its own nonce).
  it('completes overlapping logins and leaves no request context held once they are done', async () => {
    const [a, b] = await Promise.all([login(A), login(B)]);
    expect(decodeJwt(a.idToken).aud).to.equal(A.id);
    expect(decodeJwt(b.idToken).aud).to.equal(B.id);
    expect(decodeJwt(a.idToken).nonce).to.equal('n-1');
    // Loaded as the server loads it (its own ES module process, fixtures/provider-context.ts): Node 20
    // keeps the storage's hook on while `enabled` is true; later Node versions have no hook (null).
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'test/auth/fixtures/provider-context.ts']);
    const seen = JSON.parse(stdout.trim().split('\n').at(-1)!) as { statuses: number[]; enabledAfter: boolean | null };
    expect(seen.statuses).to.deep.equal([200, 200, 200, 200]);
    expect(seen.enabledAfter).to.not.equal(true);
  });

  it('publishes its authorization endpoint on a different port than the issuer', () => {
    expect(new URL(authorizeUrl).port).to.not.equal(new URL(idp.issuer).port);
  });

  it('refuses an authorize request without state or nonce', async () => {
    for (const missing of ['state', 'nonce']) {
      const res = await fetch(authorize(A, {}, [missing]).url, { redirect: 'manual' });
      expect(res.status, missing).to.equal(400);
    }
  });

  it('refuses an authorize request without PKCE or with plain PKCE', async () => {
    for (const [extra, omit] of [[{}, ['code_challenge', 'code_challenge_method']], [{ code_challenge_method: 'plain' }, []]] as const) {
      const page = await new Browser().navigate('GET', authorize(A, extra, [...omit]).url, undefined, A.redirect);
      expect(new URL(page.location!).searchParams.get('error')).to.equal('invalid_request');
    }
  });

  it('rejects a pid with wrong check digits on the login form', async () => {
    const browser = new Browser();
    const page = await browser.navigate('GET', authorize(A).url);
    const bad = pid.slice(0, 10) + String((Number(pid[10]) + 1) % 10);
    const res = await browser.submit(page, { pid: bad, acr: 'idporten-loa-high' }, A.redirect);
    expect(res.status).to.equal(400);
    expect(res.body).to.include('name="pid"');
  });

  it('issues an RS256 id_token shaped like ID-porten: pid, pairwise sub, acr, amr ["TestID"], nonce, auth_time, and iss on the redirect', async () => {
    const { idToken, redirect } = await login(A, 'idporten-loa-substantial');
    expect(redirect.searchParams.get('iss')).to.equal(idp.issuer);
    expect(redirect.searchParams.get('state')).to.equal('st-1');
    const { payload, protectedHeader } = await jwtVerify(idToken, createRemoteJWKSet(new URL(`${idp.issuer}/jwks.json`)), { issuer: idp.issuer, audience: A.id });
    expect(protectedHeader.alg).to.equal('RS256');
    expect(payload).to.include({ pid, acr: 'idporten-loa-substantial', nonce: 'n-1', locale: 'nb' });
    expect(payload.amr).to.deep.equal(['TestID']);
    expect(payload.auth_time).to.be.a('number');
    expect(payload.sub).to.not.equal(pid);
  });

  it('gives the same person a different sub at each relying party (pairwise)', async () => {
    const a = decodeJwt((await login(A)).idToken);
    const b = decodeJwt((await login(B)).idToken);
    expect(a.pid).to.equal(b.pid);
    expect(a.sub).to.not.equal(b.sub);
  });

  it('can publish a JWKS whose kid no longer matches the signing key (negative tests)', async () => {
    const { idToken } = await login(A);
    idp.setWrongKid(true);
    try {
      const verify = jwtVerify(idToken, createRemoteJWKSet(new URL(`${idp.issuer}/jwks.json`)));
      await verify.then(
        () => expect.fail('verified against a rotated-away kid'),
        (err: Error) => expect(err.name).to.match(/JWKSNoMatchingKey/),
      );
    } finally {
      idp.setWrongKid(false);
    }
  });
});
