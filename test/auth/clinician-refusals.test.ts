/**
 * The clinician's (HelseID) refusals get a page, as the citizen's do (issue 16 §3): in bokmål by
 * default, English on choice, stored with the request so a reload or language switch shows it again,
 * a way back to the app carrying `error` + `error_description` (+ state, iss), and no way on to a code.
 * Over HTTP through the HelseID stand-in with real HPR logins: an HPR number that is not a
 * Practitioner here (or an inactive one), an app asking only for what health personnel cannot get,
 * and the clinician's own "no" on the consent page.
 */
import { expect } from 'chai';
import type { Practitioner } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import { HPR_SYSTEM } from '../../src/auth/clinician-login.js';
import { createLogger } from '../../src/log.js';
import { seedDemoData } from '../../src/seed/seed.js';
import { Browser, type Page } from './browser.js';
import { APP_REDIRECT, appReturnLink, exchange, launch, pkcePair, registerApp, startAuthTestServer, type AuthTestServer } from './support.js';

const ANNE_HPR = '9999001';
const visibleText = (html: string) => html.replace(/<head>[\s\S]*?<\/head>/, '').replace(/<[^>]+>/g, ' ').replace(/&amp;/g, '&').replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/\s+/g, ' ');
const langOf = (html: string): string | null => /<html lang="([^"]+)"/.exec(html)?.[1] ?? null;

describe('clinician (HelseID) refusals are pages (issue 16 §3)', function () {
  this.timeout(180_000);
  let s: AuthTestServer;
  let appId: string;

  before(async () => {
    s = await startAuthTestServer();
    await seedDemoData(s.repo, createLogger('silent'), s.fhirBase);
    ({ client_id: appId } = await registerApp(s, {
      client_name: 'Journalappen Test', redirect_uris: [APP_REDIRECT], token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'], scope: 'openid fhirUser user/*.rs user/Consent.cud',
    }));
  });
  after(() => s?.close());

  /** /authorize with user/ scopes → HelseID stand-in login with `hpr` → the first page that is not a login. */
  async function afterLogin(hpr: string, scope: string): Promise<{ browser: Browser; page: Page; state: string }> {
    const browser = new Browser();
    const state = `st-${Math.random().toString(36).slice(2)}`;
    const { challenge } = pkcePair();
    const params = new URLSearchParams({ response_type: 'code', client_id: appId, redirect_uri: APP_REDIRECT, scope, state, aud: s.fhirBase, code_challenge: challenge, code_challenge_method: 'S256' });
    const login = await browser.navigate('GET', `${s.baseUrl}/auth/authorize?${params}`, undefined, APP_REDIRECT);
    expect(login.body).to.contain('name="hpr"');
    const page = await browser.submit(login, { hpr }, APP_REDIRECT);
    return { browser, page, state };
  }

  function expectRefusalPage(page: Page, state: string, status: number, title: string, description: string): URL {
    expect(page.status, `${page.url} → ${page.location ?? ''}`).to.equal(status);
    expect(page.location, 'no redirect without a page').to.equal(null);
    expect(page.url).to.match(/\/auth\/helseid\/flow\/[A-Za-z0-9_-]+$/);
    expect(langOf(page.body)).to.equal('nb');
    expect(visibleText(page.body)).to.contain(title).and.contain('Tilbake til appen').and.contain('Journalappen Test');
    const back = new URL(appReturnLink(page.body)!);
    expect(back.origin + back.pathname).to.equal(APP_REDIRECT);
    expect(back.searchParams.get('error')).to.equal('access_denied');
    expect(back.searchParams.get('error_description')).to.equal(description);
    expect(back.searchParams.get('state')).to.equal(state);
    expect(back.searchParams.get('iss')).to.equal(s.baseUrl);
    expect(back.searchParams.get('code')).to.equal(null);
    return back;
  }

  it('an HPR number that is no Practitioner here: a Norwegian page, English on choice, the same after a reload', async () => {
    const { browser, page, state } = await afterLogin('1234567', 'openid fhirUser user/*.rs');
    const back = expectRefusalPage(page, state, 403, 'Du er ikke registrert som helsepersonell i denne tjenesten', 'The health professional (HPR number) is not registered as a Practitioner here');
    const en = await browser.navigate('GET', `${page.url}?lang=en`);
    expect(en.status).to.equal(403);
    expect(langOf(en.body)).to.equal('en');
    expect(visibleText(en.body)).to.contain('You are not registered as a health professional in this service').and.contain('Back to the app');
    expect(visibleText(en.body)).to.not.contain('Du er ikke registrert');
    expect(appReturnLink(en.body)).to.equal(back.toString());
    const reload = await browser.navigate('GET', page.url);
    expect(appReturnLink(reload.body)).to.equal(back.toString());
  });

  it('an inactive Practitioner is refused the same way', async () => {
    await s.repo.create<Practitioner>({ resourceType: 'Practitioner', active: false, identifier: [{ system: HPR_SYSTEM, value: '9999555' }], name: [{ family: 'Sluttet' }] }, SYSTEM_ACCESS);
    const { page, state } = await afterLogin('9999555', 'openid fhirUser user/*.rs');
    expectRefusalPage(page, state, 403, 'Du er ikke registrert som helsepersonell i denne tjenesten', 'The health professional (HPR number) is not registered as a Practitioner here');
  });

  it('an app asking only for what health personnel cannot get: its own page', async () => {
    const { page, state } = await afterLogin(ANNE_HPR, 'openid fhirUser user/Consent.cud');
    expectRefusalPage(page, state, 403, 'Appen ber om tilgang som helsepersonell ikke kan få', 'None of the requested access can be granted to health personnel');
  });

  it('the clinician’s own "no" on the consent page is a page too, and the refused request cannot be continued', async () => {
    const { browser, page: consent, state } = await afterLogin(ANNE_HPR, 'openid fhirUser user/*.rs');
    expect(consent.body).to.contain('value="approve"');
    const csrf = /name="csrf" value="([^"]+)"/.exec(consent.body)![1]!;
    const denied = await browser.submit(consent, { decision: 'deny' }, APP_REDIRECT);
    expectRefusalPage(denied, state, 200, 'Du ga ikke appen tilgang', 'The health professional did not allow access');
    // Posting consent again (with the request's csrf) shows the refusal, never a code.
    const again = await browser.navigate('POST', `${consent.url}/consent`, { csrf, decision: 'approve' }, APP_REDIRECT);
    expect(again.status).to.equal(200);
    expect(visibleText(again.body)).to.contain('Du ga ikke appen tilgang');
    expect(again.location ?? '').to.not.contain('code=');
    expect(appReturnLink(again.body)).to.not.contain('code=');
  });

  it('the way through still works for a registered clinician who says yes (a code, a user/ token)', async () => {
    const r = await launch(s, { clientId: appId, pid: '', hpr: ANNE_HPR, scope: 'openid fhirUser user/*.rs' });
    expect(r.steps).to.deep.equal(['helseid-login', 'consent']);
    const t = await exchange(s, appId, r);
    expect(t.status, JSON.stringify(t.body)).to.equal(200);
    expect(String(t.body.scope)).to.contain('user/*.rs');
  });
});
