/**
 * The citizen's pages in a real browser (Debian's chromium driven by playwright-core): the whole
 * standalone flow is clicked through, each page is checked for `lang`, labelled inputs and the form
 * contract, and screenshotted; a screenshot must be a real rendering (not blank, sensible size).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { chromium, type Browser as Chromium, type Page } from 'playwright-core';
import { pkcePair } from './pkce.js';
import { APP_REDIRECT, createCitizen, registerApp, startAuthTestServer, type AuthTestServer } from './support.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.join(os.tmpdir(), 'helsebro-auth-screenshots');

interface PageFacts {
  lang: string | null;
  unlabelled: string[];
  title: string;
}

function facts(page: Page): Promise<PageFacts> {
  return page.evaluate(() => {
    const unlabelled = Array.from(document.querySelectorAll('input:not([type=hidden])'))
      .filter((el) => !(el.closest('label') || (el.id && document.querySelector(`label[for="${el.id}"]`))))
      .map((el) => el.outerHTML);
    return { lang: document.documentElement.getAttribute('lang'), unlabelled, title: document.title };
  });
}

/** Decodes the PNG in a blank page and counts distinct colours: a blank or broken render has very few. */
async function distinctColours(browser: Chromium, png: Buffer): Promise<{ width: number; height: number; colours: number }> {
  const page = await browser.newPage();
  try {
    return await page.evaluate(async (b64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = img.width;
      canvas.height = img.height;
      const ctx = canvas.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      const data = ctx.getImageData(0, 0, img.width, img.height).data;
      const seen = new Set<number>();
      for (let i = 0; i < data.length; i += 16) seen.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
      return { width: img.width, height: img.height, colours: seen.size };
    }, png.toString('base64'));
  } finally {
    await page.close();
  }
}

describe('authorization pages in headless Chromium', function () {
  let s: AuthTestServer;
  let browser: Chromium;
  let clientId: string;
  let pid: string;

  before(async function () {
    if (!fs.existsSync(CHROMIUM)) this.skip(); // reason: Debian's chromium is not installed (apt-get install -y chromium)
    s = await startAuthTestServer();
    ({ pid } = await createCitizen(s.repo, { seq: 41, given: 'Kari', family: 'Skjermbilde' }));
    ({ client_id: clientId } = await registerApp(s, { client_name: 'Skjermappen', redirect_uris: [APP_REDIRECT], token_endpoint_auth_method: 'none' }));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    fs.mkdirSync(SHOTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await s?.close();
  });

  async function check(page: Page, name: string): Promise<PageFacts> {
    const f = await facts(page);
    expect(f.unlabelled, `${name}: inputs without a label`).to.deep.equal([]);
    const png = await page.screenshot({ fullPage: true, path: path.join(SHOTS, `${name}.png`) });
    const rendering = await distinctColours(browser, png);
    expect(rendering.width, name).to.equal(800);
    expect(rendering.height, name).to.be.within(300, 4000);
    expect(rendering.colours, `${name} looks blank`).to.be.greaterThan(8);
    return f;
  }

  it('renders login, terms, picker and consent accessibly and reaches the app with a code', async () => {
    const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
    let landed: string | null = null;
    await page.route(`${APP_REDIRECT}**`, async (route) => {
      landed = route.request().url();
      await route.fulfill({ status: 200, contentType: 'text/plain', body: 'app' });
    });
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: APP_REDIRECT,
      scope: 'launch/patient openid fhirUser patient/*.rs',
      state: 'chromium-state',
      aud: s.fhirBase,
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
    });
    await page.goto(`${s.baseUrl}/auth/authorize?${params}`);

    await check(page, '1-login');
    await page.getByLabel(/Fødselsnummer/).fill(pid);
    await page.getByRole('button', { name: /Logg inn/ }).click();

    await page.waitForSelector('input[name=accept_terms]');
    expect((await check(page, '2-terms')).lang).to.equal('nb');
    await page.getByLabel(/godtar vilkårene/).check();
    await page.locator('button[name=decision][value=approve]').click();

    await page.waitForSelector('input[name=patient]');
    const picker = await check(page, '3-picker');
    expect(picker.title).to.equal('Velg person');
    expect(await page.getByRole('heading', { name: /Hvem vil du bruke tjenesten på vegne av\?/ }).count()).to.equal(1);
    expect(await page.locator('input[name=patient]').count()).to.equal(1);
    await page.locator('button[name=decision][value=approve]').click();

    await page.waitForSelector('ul.scopes');
    await check(page, '4-consent');
    expect(await page.locator('ul.scopes li').count()).to.be.greaterThan(1);
    await page.locator('button[name=decision][value=approve]').click();

    await page.waitForURL(`${APP_REDIRECT}**`);
    const url = new URL(landed!);
    expect(url.searchParams.get('code')).to.be.a('string');
    expect(url.searchParams.get('state')).to.equal('chromium-state');
    await page.close();
  });
});
