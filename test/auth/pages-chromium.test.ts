/**
 * The citizen's pages in a real browser (issue 16: "the pages are checked in headless Chromium
 * (screenshots in the test output, language, labels, contrast) in CI"): Debian's chromium driven by
 * playwright-core clicks through login → terms → picker → consent for demo personas, and a refusal
 * page; each page is checked for `lang`, labelled inputs, same-origin stylesheets and axe-core (no
 * serious or critical violation, colour contrast included), and screenshotted to
 * test-output/screenshots/ (a screenshot must be a real rendering, not blank).
 */
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { createLogger } from '../../src/log.js';
import { seedDemoData } from '../../src/seed/seed.js';
import { hasChromium, launchChromium, pageFacts, renderingOf, screenshot, seriousViolations, type HeadlessBrowser, type PageFacts } from '../support/browser.js';
import { pkcePair } from './pkce.js';
import { APP_REDIRECT, registerApp, startAuthTestServer, tokenRequest, type AuthTestServer } from './support.js';

const OLA = '03897302801'; // standard proxy for Kari, has his own record (fixtures/README.md)
const NOAH = '18810958479'; // 16 or over, first login: accepts the terms
const EMMA = '09851657840'; // under 16: refused before the terms

describe('authorization pages in headless Chromium', function () {
  let s: AuthTestServer;
  let chrome: HeadlessBrowser;
  let clientId: string;

  before(async function () {
    if (!hasChromium()) this.skip(); // reason: Debian's chromium is not installed (apt-get install -y chromium; .ci/run installs it)
    s = await startAuthTestServer();
    await seedDemoData(s.repo, createLogger('silent'), s.fhirBase);
    ({ client_id: clientId } = await registerApp(s, { client_name: 'Skjermappen', redirect_uris: [APP_REDIRECT], token_endpoint_auth_method: 'none' }));
    chrome = await launchChromium();
  });
  // Each walk is a new visitor: no login session left from the previous one.
  beforeEach(() => chrome.context.clearCookies());
  after(async () => {
    await chrome?.close();
    await s?.close();
  });

  /** lang, labels, same-origin stylesheets, axe (serious/critical) and a non-blank screenshot. */
  async function check(page: Page, name: string, lang = 'nb'): Promise<PageFacts> {
    // Stylesheets applied before anything is measured (a waited-for text can appear before they load).
    await page.waitForLoadState('load');
    const f = await pageFacts(page);
    expect(f.lang, `${name}: lang`).to.equal(lang);
    expect(f.unlabelled, `${name}: inputs without a label`).to.deep.equal([]);
    expect(f.foreignStylesheets, `${name}: stylesheets from another origin`).to.deep.equal([]);
    // The design system's theme is applied (its tokens are defined on :root).
    expect(await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--ds-color-accent-base-default').trim()), `${name}: theme tokens`).to.not.equal('');
    expect(await seriousViolations(page), `${name}: axe violations`).to.deep.equal([]);
    const { png } = await screenshot(page, name);
    const rendering = await renderingOf(chrome.context, png);
    expect(rendering.width, name).to.equal(800);
    expect(rendering.height, name).to.be.within(300, 4000);
    expect(rendering.colours, `${name} looks blank`).to.be.greaterThan(8);
    return f;
  }

  async function startAt(page: Page, state: string): Promise<{ landed: () => string | null; verifier: string }> {
    let landed: string | null = null;
    const pkce = pkcePair();
    await page.route(`${APP_REDIRECT}**`, async (route) => {
      landed = route.request().url();
      await route.fulfill({ status: 200, contentType: 'text/plain', body: 'app' });
    });
    const params = new URLSearchParams({
      response_type: 'code', client_id: clientId, redirect_uri: APP_REDIRECT, scope: 'launch/patient openid fhirUser patient/*.rs',
      state, aud: s.fhirBase, code_challenge: pkce.challenge, code_challenge_method: 'S256',
    });
    await page.goto(`${s.baseUrl}/auth/authorize?${params}`);
    return { landed: () => landed, verifier: pkce.verifier };
  }

  it('finds what it should: axe reports a low-contrast text and an unlabelled input on a page made to fail', async () => {
    const page = await chrome.context.newPage();
    await page.setContent('<!doctype html><html lang="nb"><head><title>x</title></head><body><main><p style="color:#bbb;background:#fff">lav kontrast</p><input type="text" name="x"></main></body></html>');
    const ids = (await seriousViolations(page)).map((v) => v.id);
    expect(ids).to.include('color-contrast');
    expect(ids.some((id) => id === 'label' || id === 'label-title-only')).to.equal(true);
    expect((await pageFacts(page)).unlabelled).to.have.length(1);
    await page.close();
  });

  it('renders login, terms, picker and consent accessibly and reaches the app with a code', async () => {
    const page = await chrome.context.newPage();
    const app = await startAt(page, 'chromium-state');

    await check(page, '1-login');
    await page.getByLabel(/Fødselsnummer/).fill(NOAH);
    await page.getByRole('button', { name: /Logg inn/ }).click();

    await page.waitForSelector('input[name=accept_terms]');
    await check(page, '2-terms');
    await page.getByLabel(/godtar vilkårene/).check();
    await page.locator('button[name=decision][value=approve]').click();

    await page.waitForSelector('input[name=patient]');
    const picker = await check(page, '3-picker');
    expect(picker.title).to.equal('Velg person');
    expect(await page.getByRole('heading', { name: /Hvem vil du bruke tjenesten på vegne av\?/ }).count()).to.equal(1);
    await page.locator('button[name=decision][value=approve]').click();

    await page.waitForSelector('ul.scopes');
    await check(page, '4-consent');
    expect(await page.locator('ul.scopes li').count()).to.be.greaterThan(1);
    await page.locator('button[name=decision][value=approve]').click();

    await page.waitForURL(`${APP_REDIRECT}**`);
    const url = new URL(app.landed()!);
    expect(url.searchParams.get('code')).to.be.a('string');
    expect(url.searchParams.get('state')).to.equal('chromium-state');

    // The app exchanges the code; now the grant is real and the manage page lists the app by name.
    const token = await tokenRequest(s, { grant_type: 'authorization_code', code: url.searchParams.get('code')!, redirect_uri: APP_REDIRECT, code_verifier: app.verifier, client_id: clientId });
    expect(token.status).to.equal(200);
    await page.goto(`${s.baseUrl}/auth/manage`);
    await check(page, '8-manage');
    expect(await page.getByRole('heading', { name: 'Skjermappen', level: 2 }).count()).to.equal(1);
    await page.getByRole('link', { name: /Trekk tilbake tilgangen for Skjermappen/ }).click();
    await page.getByRole('button', { name: 'Ja, trekk tilbake tilgangen' }).waitFor();
    await check(page, '9-withdraw-confirm');
    await page.getByRole('button', { name: 'Ja, trekk tilbake tilgangen' }).click();
    await page.getByText('Tilgangen for Skjermappen er trukket tilbake.').waitFor();
    await check(page, '10-withdrawn');
    await page.close();
  });

  it('shows a proxy’s picker and consent in English on choice, keeping the flow', async () => {
    const page = await chrome.context.newPage();
    await startAt(page, 'proxy-state');
    await page.getByLabel(/Fødselsnummer/).fill(OLA);
    await page.getByRole('button', { name: /Logg inn/ }).click();
    await page.waitForSelector('input[name=patient], input[name=accept_terms]');
    if (await page.locator('input[name=accept_terms]').count()) {
      await page.getByLabel(/godtar vilkårene/).check();
      await page.locator('button[name=decision][value=approve]').click();
    }
    await page.waitForSelector('input[name=patient]');
    expect(await page.locator('input[name=patient]').count()).to.equal(2);
    await page.getByRole('link', { name: 'English' }).click();
    await page.waitForSelector('html[lang=en]');
    await check(page, '5-picker-en', 'en');
    await page.getByLabel(/Kari Nordmann/).check();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForSelector('ul.scopes');
    await check(page, '6-consent-proxy-en', 'en');
    expect(await page.locator('main').innerText()).to.contain("who has access on Kari Nordmann's behalf");
    await page.close();
  });

  it('shows a refusal page (child under 16) accessibly, with a button back to the app carrying the error', async () => {
    const page = await chrome.context.newPage();
    const app = await startAt(page, 'child-state');
    await page.getByLabel(/Fødselsnummer/).fill(EMMA);
    await page.getByRole('button', { name: /Logg inn/ }).click();
    await page.getByRole('link', { name: 'Tilbake til appen' }).waitFor();
    expect(await page.locator('input[name=accept_terms]').count()).to.equal(0);
    await check(page, '7-refusal-child');
    await page.getByRole('link', { name: 'Tilbake til appen' }).click();
    await page.waitForURL(`${APP_REDIRECT}**`);
    const url = new URL(app.landed()!);
    expect(url.searchParams.get('error')).to.equal('access_denied');
    expect(url.searchParams.get('error_description')).to.match(/under 16/);
    expect(url.searchParams.get('state')).to.equal('child-state');
    await page.close();
  });
});
