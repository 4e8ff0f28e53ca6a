/**
 * The verified-token cache (src/auth/verified-tokens.ts, issue 11): the signature check of an access
 * token is remembered per token string, and nothing that ends a token before its `exp` may depend on
 * it. Over HTTP: a token the server has already accepted (so cached) stops on the very next request
 * once it is revoked on its own and once its grant is ended.
 * Directly: `exp` is compared on every hit, refusals are never remembered, and the cache is bounded.
 */
import { expect } from 'chai';
import { KeyStore } from '../../src/auth/keys.js';
import { signAccessToken, TokenError } from '../../src/auth/tokens.js';
import { VerifiedTokens } from '../../src/auth/verified-tokens.js';
import { testConfig } from '../../src/config/config.js';
import type { Db } from '../../src/db/db.js';
import { openTestDatabase } from '../support/app.js';
import { APP_REDIRECT, createCitizen, exchange, fhirGet, launch, registerApp, startAuthTestServer, type AuthTestServer } from './support.js';

const config = testConfig();
const input = { grantId: 'g1', clientId: 'app', sub: 'person', scope: 'patient/*.rs', patientId: 'p1', fhirUser: 'Patient/p1', ttl: 60 };

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'accepted';
  } catch (err) {
    return err instanceof TokenError ? err.reason : String(err);
  }
}

describe('verified-token cache: the signature check only', () => {
  let db: Db;
  let keys: KeyStore;
  before(async () => {
    db = await openTestDatabase();
    keys = new KeyStore(db);
  });
  after(() => db.close());

  it('refuses a remembered token as expired once its exp has passed', async () => {
    let now = Date.now();
    const cache = new VerifiedTokens(keys, config, { now: () => now });
    const { token, exp } = await signAccessToken(keys, config, input);
    expect(await outcome(cache.verify(token))).to.equal('accepted');
    expect(cache.size).to.equal(1);
    now = exp * 1000 - 1000;
    expect(await outcome(cache.verify(token))).to.equal('accepted');
    now = exp * 1000;
    expect(await outcome(cache.verify(token))).to.equal('expired');
    expect(cache.size).to.equal(0);
  });

  it('never remembers a refused token, and a tampered copy of a remembered one is checked on its own', async () => {
    const cache = new VerifiedTokens(keys, config);
    const { token } = await signAccessToken(keys, config, input);
    await cache.verify(token);
    const [h, p, sig] = token.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, patient: 'someone-else' })).toString('base64url')}.${sig}`;
    expect(await outcome(cache.verify(tampered))).to.equal('invalid');
    expect(await outcome(cache.verify(tampered))).to.equal('invalid');
    expect(cache.size).to.equal(1);
  });

  it('keeps at most maxEntries tokens, the oldest leaving first', async () => {
    const cache = new VerifiedTokens(keys, config, { maxEntries: 2 });
    const tokens = await Promise.all([1, 2, 3].map(async (i) => (await signAccessToken(keys, config, { ...input, grantId: `g${i}` })).token));
    for (const t of tokens) await cache.verify(t);
    expect(cache.size).to.equal(2);
  });
});

describe('verified-token cache: what ends a token still acts on the next request', function () {
  this.timeout(120_000);
  let s: AuthTestServer;
  let clientId: string;
  let kari: { patientId: string; pid: string };

  before(async () => {
    s = await startAuthTestServer();
    kari = await createCitizen(s.repo, { seq: 7 });
    ({ client_id: clientId } = await registerApp(s, { redirect_uris: [APP_REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], client_name: 'Cache app' }));
  });
  after(() => s.close());

  async function token(): Promise<string> {
    const t = await exchange(s, clientId, await launch(s, { clientId, pid: kari.pid }));
    expect(t.status).to.equal(200);
    return String(t.body.access_token);
  }

  it('an access token revoked on its own is refused on the next request', async () => {
    const t = await token();
    expect((await fhirGet(s, `Patient/${kari.patientId}`, t)).status).to.equal(200);
    expect((await fhirGet(s, `Patient/${kari.patientId}`, t)).status).to.equal(200);
    const revoke = await fetch(`${s.baseUrl}/auth/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: t, client_id: clientId }) });
    expect(revoke.status).to.equal(200);
    expect((await fhirGet(s, `Patient/${kari.patientId}`, t)).status).to.equal(401);
  });

  it('a token whose grant was ended is refused on the next request', async () => {
    const t = await token();
    expect((await fhirGet(s, `Patient/${kari.patientId}`, t)).status).to.equal(200);
    const grantId = (JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()) as { grant_id: string }).grant_id;
    await s.db.query(`UPDATE auth_grants SET revoked_at = now(), revoked_reason = 'test' WHERE grant_id = $1`, [grantId]);
    expect((await fhirGet(s, `Patient/${kari.patientId}`, t)).status).to.equal(401);
  });
});
