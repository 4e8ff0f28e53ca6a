/**
 * The citizen pages over HTTP (issue 16 §3): bokmål by default with English as a choice that keeps the
 * flow, scope texts without raw type names that say whose data it is, a Norwegian page for every
 * refusal before the app gets `error` + `error_description`, a child under 16 refused before the terms
 * page, and `/auth/manage` with one entry per app, only exchanged grants, and a confirmation step.
 * Personas from fixtures/README.md.
 */
import { expect } from 'chai';
import { createLogger } from '../../src/log.js';
import { seedDemoData } from '../../src/seed/seed.js';
import { RESOURCE_TYPES } from '../../src/fhir/definitions/registry.js';
import { hasAcceptedTerms } from '../../src/identity/terms.js';
import type { Patient } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import { EXT } from '../../src/access/gates.js';
import { Browser, radioValues, type Page } from './browser.js';
import { APP_REDIRECT, appReturnLink, drive, exchange, fhirGet, launch, pkcePair, registerApp, startAuthTestServer, type AuthTestServer } from './support.js';

const PERSONA = {
  kari: '12847502159',
  ola: '03897302801',
  emma: '09851657840',
  jonas: '15839005609',
  per: '30865804381',
  bjorn: '01923810532',
};

/** The visible text of a page: no head, no tags, entities decoded. */
function visibleText(html: string): string {
  return html
    .replace(/<head>[\s\S]*?<\/head>/, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&amp;/g, '&')
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/\s+/g, ' ');
}

const langOf = (html: string): string | null => /<html lang="([^"]+)"/.exec(html)?.[1] ?? null;

/** Raw FHIR type names (as whole words) that appear in a page's visible text. */
const rawTypeNames = (html: string): string[] => {
  const text = visibleText(html);
  return RESOURCE_TYPES.filter((t) => new RegExp(`\\b${t}\\b`).test(text));
};

describe('citizen pages: language, scope texts, refusals and the manage page (issue 16 §3)', function () {
  let s: AuthTestServer;
  let app: string;

  before(async () => {
    s = await startAuthTestServer();
    await seedDemoData(s.repo, createLogger('silent'), s.fhirBase);
    ({ client_id: app } = await registerApp(s, { client_name: 'Helseappen Test', redirect_uris: [APP_REDIRECT], token_endpoint_auth_method: 'none' }));
  });
  after(() => s?.close());

  function authorizeUrl(extra: Record<string, string> = {}): { url: string; state: string } {
    const state = `st-${Math.random().toString(36).slice(2)}`;
    const params = new URLSearchParams({
      response_type: 'code', client_id: app, redirect_uri: APP_REDIRECT, scope: 'launch/patient openid fhirUser patient/*.rs offline_access',
      state, aud: s.fhirBase, code_challenge: pkcePair().challenge, code_challenge_method: 'S256', ...extra,
    });
    return { url: `${s.baseUrl}/auth/authorize?${params}`, state };
  }

  /** Logs `pid` in on the stand-in and answers pages until `until` appears in a page. */
  async function reach(browser: Browser, pid: string, until: RegExp, acr = 'idporten-loa-high'): Promise<{ page: Page; state: string }> {
    const { url, state } = authorizeUrl();
    let page = await browser.navigate('GET', url, undefined, APP_REDIRECT);
    for (let i = 0; i < 6 && !until.test(page.body); i++) {
      if (page.body.includes('name="pid"')) page = await browser.submit(page, { pid, acr }, APP_REDIRECT);
      else if (page.body.includes('name="accept_terms"')) page = await browser.submit(page, { accept_terms: 'yes', decision: 'approve' }, APP_REDIRECT);
      else if (page.body.includes('name="patient"')) page = await browser.submit(page, { patient: radioValues(page.body, 'patient')[0]!, decision: 'approve' }, APP_REDIRECT);
      else break;
    }
    return { page, state };
  }

  describe('language', () => {
    it('shows the login stand-in and the picker in bokmål, and in English on choice, one language at a time', async () => {
      const browser = new Browser();
      const { url } = authorizeUrl();
      const login = await browser.navigate('GET', url, undefined, APP_REDIRECT);
      expect(langOf(login.body)).to.equal('nb');
      expect(visibleText(login.body)).to.contain('Fødselsnummer eller D-nummer').and.not.contain('national identity number');
      const loginEn = await browser.navigate('GET', `${login.url}${login.url.includes('?') ? '&' : '?'}lang=en`);
      expect(langOf(loginEn.body)).to.equal('en');
      expect(visibleText(loginEn.body)).to.contain('Log in with a synthetic national identity number').and.not.contain('Logg inn med');

      const picker = await browser.submit(loginEn, { pid: PERSONA.ola, acr: 'idporten-loa-high' }, APP_REDIRECT);
      expect(picker.body).to.contain('name="patient"');
      // The choice made on the login page is remembered (cookie) …
      expect(langOf(picker.body)).to.equal('en');
      expect(visibleText(picker.body)).to.contain('Who do you want to use the service for?').and.not.contain('Hvem vil du');
      // … and switching back keeps the flow: the same request, the same people to choose from.
      const link = /<a class="ds-link" href="([^"]+)" lang="nb"/.exec(picker.body)![1]!.replace(/&amp;/g, '&');
      const pickerNb = await browser.navigate('GET', new URL(link, picker.url).toString());
      expect(langOf(pickerNb.body)).to.equal('nb');
      expect(visibleText(pickerNb.body)).to.contain('Hvem vil du bruke tjenesten på vegne av?').and.not.contain('Who do you want');
      expect(radioValues(pickerNb.body, 'patient')).to.deep.equal(radioValues(picker.body, 'patient'));
      expect(radioValues(pickerNb.body, 'patient')).to.include('kari-nordmann');
    });

    it('links every page to the design system stylesheets on its own origin, under a CSP that allows only those', async () => {
      const browser = new Browser();
      const { page } = await reach(browser, PERSONA.ola, /name="patient"/);
      const links = [...page.body.matchAll(/<link rel="stylesheet" href="([^"]+)">/g)].map((m) => m[1]);
      expect(links).to.deep.equal(['/assets/ds/theme.css', '/assets/ds/designsystemet.css']);
      expect(page.headers.get('content-security-policy')).to.match(/style-src 'self'/).and.match(/default-src 'none'/);
      for (const href of links) {
        const css = await fetch(`${s.baseUrl}${href}`);
        expect(css.status, href).to.equal(200);
        expect(css.headers.get('content-type')).to.match(/text\/css/);
      }
      expect(page.body).to.contain('class="ds-button"').and.contain('class="ds-fieldset"');
    });
  });

  describe('scope texts', () => {
    it('tells a proxy that the app gets Kari’s information and who has access on Kari’s behalf, with no raw type names', async () => {
      const browser = new Browser();
      const { page: picker } = await reach(browser, PERSONA.ola, /name="patient"/);
      const consent = await browser.submit(picker, { patient: 'kari-nordmann', decision: 'approve' }, APP_REDIRECT);
      const text = visibleText(consent.body);
      expect(text).to.contain('Gi Helseappen Test tilgang?');
      expect(text).to.contain('Du bruker tjenesten på vegne av Kari Nordmann');
      expect(text).to.contain('hvem som har tilgang på Kari Nordmanns vegne').and.not.contain('dine vegne');
      expect(text).to.contain('opplysninger om helsepersonell og tjenester');
      expect(rawTypeNames(consent.body)).to.deep.equal([]);
      const en = await browser.navigate('GET', `${consent.url.replace(/\/(patient|consent)$/, '')}?lang=en`);
      expect(visibleText(en.body)).to.contain('who has access on Kari Nordmann\'s behalf').and.not.contain('your behalf');
      expect(rawTypeNames(en.body)).to.deep.equal([]);
    });

    it('tells a person acting for themself about their own information', async () => {
      const browser = new Browser();
      const { page: picker } = await reach(browser, PERSONA.kari, /name="patient"/);
      const consent = await browser.submit(picker, { patient: 'kari-nordmann', decision: 'approve' }, APP_REDIRECT);
      const text = visibleText(consent.body);
      expect(text).to.contain('dine helseopplysninger').and.contain('hvem som har tilgang på dine vegne');
      expect(rawTypeNames(consent.body)).to.deep.equal([]);
    });
  });

  describe('refusals', () => {
    async function refusalOf(pid: string, acr?: string) {
      const browser = new Browser();
      const { url, state } = authorizeUrl();
      const first = await browser.navigate('GET', url, undefined, APP_REDIRECT);
      let page = await browser.submit(first, { pid, acr: acr ?? 'idporten-loa-high' }, APP_REDIRECT);
      const pages = [page];
      while (page.body.includes('name="accept_terms"')) {
        page = await browser.submit(page, { accept_terms: 'yes', decision: 'approve' }, APP_REDIRECT);
        pages.push(page);
      }
      const back = appReturnLink(page.body);
      expect(back, `no way back to the app on ${page.url}: ${visibleText(page.body).slice(0, 300)}`).to.be.a('string');
      return { browser, page, pages, state, back: new URL(back!) };
    }

    it('refuses a child under 16 before the terms page, in Norwegian, and tells the app why', async () => {
      const r = await refusalOf(PERSONA.emma);
      expect(r.pages, 'the child was asked to accept the terms').to.have.length(1);
      expect(r.page.status).to.equal(403);
      expect(langOf(r.page.body)).to.equal('nb');
      expect(visibleText(r.page.body)).to.contain('Du må være 16 år for å bruke tjenesten').and.contain('Tilbake til appen');
      expect(r.back.origin + r.back.pathname).to.equal(APP_REDIRECT);
      expect(r.back.searchParams.get('error')).to.equal('access_denied');
      expect(r.back.searchParams.get('error_description')).to.match(/under 16/);
      expect(r.back.searchParams.get('state')).to.equal(r.state);
      expect(r.back.searchParams.get('iss')).to.equal(s.baseUrl);
      expect(await hasAcceptedTerms(s.db, 'emma-johansen')).to.equal(false);
      // The refusal survives a language switch (it is stored with the request).
      const en = await r.browser.navigate('GET', `${r.page.url.split('?')[0]}?lang=en`);
      expect(visibleText(en.body)).to.contain('You must be 16 to use the service').and.contain('Back to the app');
      expect(appReturnLink(en.body)).to.equal(r.back.toString());
    });

    it('refuses a revoked proxy with its own page', async () => {
      const r = await refusalOf(PERSONA.jonas);
      expect(visibleText(r.page.body)).to.contain('Fullmakten gjelder ikke lenger');
      expect(r.back.searchParams.get('error_description')).to.match(/ended or was withdrawn/);
    });

    it('refuses a deceased person', async () => {
      const r = await refusalOf(PERSONA.bjorn);
      expect(r.pages).to.have.length(1);
      expect(visibleText(r.page.body)).to.contain('Folkeregisteret oppgir at personen er død');
      expect(r.back.searchParams.get('error_description')).to.equal('The patient is deceased');
    });

    it('refuses a login with too low a level of assurance before anything is stored for the person', async () => {
      const r = await refusalOf(PERSONA.kari, 'idporten-loa-substantial');
      expect(visibleText(r.page.body)).to.contain('Du må logge inn med høyt sikkerhetsnivå');
      expect(r.back.searchParams.get('error_description')).to.equal('The login level of assurance is too low');
    });

    it('tells a proxy that the account they act for is deactivated, not that their fullmakt ended', async () => {
      // The account state alone (as in the demo's Hanne Dahl), so the other tests keep Kari's fullmakter:
      // $deactivate would also suspend them until Kari re-confirms each (A10).
      const kari = await s.repo.read<Patient>('Patient', 'kari-nordmann', SYSTEM_ACCESS);
      await s.repo.update<Patient>({ ...kari, extension: [...(kari.extension ?? []), { url: EXT.accountState, valueCode: 'deactivated' }] }, SYSTEM_ACCESS);
      try {
        const r = await refusalOf(PERSONA.per);
        expect(visibleText(r.page.body)).to.contain('Brukerkontoen er deaktivert');
        expect(r.back.searchParams.get('error_description')).to.equal('The patient has deactivated their account');
      } finally {
        const { extension, ...now } = await s.repo.read<Patient>('Patient', 'kari-nordmann', SYSTEM_ACCESS);
        const kept = (extension ?? []).filter((e) => e.url !== EXT.accountState);
        await s.repo.update<Patient>(kept.length > 0 ? { ...now, extension: kept } : now, SYSTEM_ACCESS);
      }
    });

    it('shows the person’s own "no" as a page too, and nothing reaches the app but the error', async () => {
      const browser = new Browser();
      const { page: picker } = await reach(browser, PERSONA.kari, /name="patient"/);
      const consent = await browser.submit(picker, { patient: 'kari-nordmann', decision: 'approve' }, APP_REDIRECT);
      const denied = await browser.submit(consent, { decision: 'deny' }, APP_REDIRECT);
      expect(denied.status).to.equal(200);
      expect(visibleText(denied.body)).to.contain('Du ga ikke appen tilgang');
      const back = new URL(appReturnLink(denied.body)!);
      expect(back.searchParams.get('code')).to.equal(null);
      expect(back.searchParams.get('error_description')).to.equal('The person did not allow access');
      // The refused request cannot be continued: posting consent again shows the refusal, no code.
      const again = await browser.navigate('POST', `${consent.url}/consent`, { csrf: /name="csrf" value="([^"]+)"/.exec(consent.body)![1]!, decision: 'approve' }, APP_REDIRECT);
      expect(again.status).to.equal(200);
      expect(visibleText(again.body)).to.contain('Du ga ikke appen tilgang');
      expect(again.location ?? '').not.to.contain('code=');
    });

    it('shows an invalid request that cannot go back to the app as a Norwegian page, English on choice', async () => {
      const res = await fetch(`${s.baseUrl}/auth/authorize?client_id=nobody&redirect_uri=${encodeURIComponent(APP_REDIRECT)}`, { redirect: 'manual' });
      expect(res.status).to.equal(400);
      const body = await res.text();
      expect(langOf(body)).to.equal('nb');
      expect(visibleText(body)).to.contain('Appen sendte en ugyldig forespørsel').and.not.contain('Tilbake til appen');
      const en = await fetch(`${s.baseUrl}/auth/authorize?client_id=nobody&redirect_uri=${encodeURIComponent(APP_REDIRECT)}&lang=en`, { redirect: 'manual' });
      expect(visibleText(await en.text())).to.contain('The app sent an invalid request');
    });
  });

  describe('/auth/manage', () => {
    it('lists an app once however many grants it holds, only exchanged ones, by name, and withdraws after a confirmation', async () => {
      const { client_id: other } = await registerApp(s, { client_name: 'Aldri innløst', redirect_uris: [APP_REDIRECT], token_endpoint_auth_method: 'none' });
      const browser = new Browser();
      const first = await launch(s, { clientId: app, pid: PERSONA.ola, browser, patient: 'ola-nordmann' });
      const t1 = await exchange(s, app, first);
      const second = await launch(s, { clientId: app, pid: PERSONA.ola, browser, patient: 'kari-nordmann' });
      const t2 = await exchange(s, app, second);
      await launch(s, { clientId: app, pid: PERSONA.ola, browser, patient: 'ola-nordmann' }); // consented, never exchanged
      await launch(s, { clientId: other, pid: PERSONA.ola, browser, patient: 'ola-nordmann' }); // never exchanged
      expect(t1.status).to.equal(200);
      expect(t2.status).to.equal(200);

      const manage = await browser.navigate('GET', `${s.baseUrl}/auth/manage`);
      const text = visibleText(manage.body);
      expect(manage.status).to.equal(200);
      expect([...manage.body.matchAll(/<h2[^>]*>Helseappen Test<\/h2>/g)]).to.have.length(1);
      expect(text).to.contain('Dine egne opplysninger').and.contain('På vegne av Kari Nordmann');
      expect(text).not.to.contain('Aldri innløst');
      expect(manage.body).not.to.contain(`>${app}<`);
      expect(text).not.to.contain(app);
      expect(rawTypeNames(manage.body)).to.deep.equal([]);

      // Step 1: the confirmation page withdraws nothing.
      const confirm = await browser.navigate('GET', `${s.baseUrl}/auth/manage/withdraw?client_id=${app}`);
      expect(visibleText(confirm.body)).to.contain('Trekke tilbake tilgangen for Helseappen Test?').and.contain('Ja, trekk tilbake tilgangen');
      expect((await fhirGet(s, 'Patient/ola-nordmann', String(t1.body.access_token))).status).to.equal(200);
      // Step 2: confirmed, every grant of the app ends.
      const done = await browser.submit(confirm, {}, undefined, '/revoke');
      expect(visibleText(done.body)).to.contain('Tilgangen for Helseappen Test er trukket tilbake').and.contain('Ingen apper har tilgang nå');
      expect((await fhirGet(s, 'Patient/ola-nordmann', String(t1.body.access_token))).status).to.equal(401);
      expect((await fhirGet(s, 'Patient/kari-nordmann', String(t2.body.access_token))).status).to.equal(401);
    });

    it('refuses a withdrawal without the session’s csrf value', async () => {
      const browser = new Browser();
      const r = await launch(s, { clientId: app, pid: PERSONA.kari, browser, patient: 'kari-nordmann' });
      const t = await exchange(s, app, r);
      const forged = await browser.request('POST', `${s.baseUrl}/auth/manage/revoke`, { client_id: app, csrf: 'guess' });
      expect(forged.status).to.equal(403);
      expect((await fhirGet(s, 'Patient/kari-nordmann', String(t.body.access_token))).status).to.equal(200);
    });
  });

  it('drives the whole flow with the page contract unchanged (login, terms, picker, consent → code)', async () => {
    const browser = new Browser();
    const { url } = authorizeUrl();
    const first = await browser.navigate('GET', url, undefined, APP_REDIRECT);
    const { page, steps } = await drive(browser, first, { pid: PERSONA.ola, patient: 'kari-nordmann' }, APP_REDIRECT);
    expect(steps.slice(-2)).to.deep.equal(['picker', 'consent']);
    expect(new URL(page.location!).searchParams.get('code')).to.be.a('string');
  });
});
