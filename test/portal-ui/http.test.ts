/**
 * The reference portal's HTTP surface (issue 16 §2): `/portal` and the registered redirect URI
 * `/portal/callback` serve the page (bokmål), every file the page loads is served from this origin,
 * the Content Security Policy is self-only with no inline script, and the scripts never put data
 * into the page as markup. Over HTTP against the real server.
 */
import { expect } from 'chai';
import request from 'supertest';
import { getClient, PORTAL_CLIENT_ID } from '../../src/auth/clients.js';
import { createLogger } from '../../src/log.js';
import { logStartBanner } from '../../src/start-banner.js';
import { createTestContext, type TestContext } from '../support/app.js';

/** The directives of a Content-Security-Policy header. */
function directives(csp: string): Map<string, string[]> {
  return new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).filter((p) => p[0]).map(([name, ...values]) => [name!, values]));
}

describe('reference portal: page, assets and Content Security Policy', function () {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
  });
  after(() => ctx?.close());

  for (const path of ['/portal', '/portal/', '/portal/callback?code=abc&state=xyz', '/portal/callback?error=access_denied&error_description=Nei']) {
    it(`GET ${path} serves the portal page in bokmål with a self-only CSP`, async () => {
      const res = await request(ctx.bareApp).get(path).set('Accept', 'text/html');
      expect(res.status).to.equal(200);
      expect(res.headers['content-type']).to.match(/^text\/html/);
      expect(res.text).to.match(/<html lang="nb"/);
      expect(res.text).to.contain('<title>Helsebro – min helse</title>');
      const csp = directives(res.headers['content-security-policy'] as string);
      expect(csp.get('default-src')).to.deep.equal(["'none'"]);
      expect(csp.get('script-src')).to.deep.equal(["'self'"]);
      expect(csp.get('style-src')).to.deep.equal(["'self'"]);
      expect(csp.get('connect-src')).to.deep.equal(["'self'"]);
      expect(csp.get('frame-ancestors')).to.deep.equal(["'none'"]);
      expect(csp.get('base-uri')).to.deep.equal(["'none'"]);
      for (const [name, values] of csp) {
        expect(values, name).not.to.include("'unsafe-inline'");
        expect(values, name).not.to.include("'unsafe-eval'");
        expect(values.filter((v) => /^(https?:|\*)/.test(v)), `${name} allows another origin`).to.deep.equal([]);
      }
      expect(res.headers['cache-control']).to.equal('no-store');
      expect(res.headers['x-frame-options']).to.equal('DENY');
    });
  }

  it('has no inline script, no inline event handler, no inline style, and loads nothing from another origin', async () => {
    const res = await request(ctx.bareApp).get('/portal');
    const scripts = [...res.text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).to.be.greaterThan(0);
    for (const [, attrs, body] of scripts) {
      expect(attrs, 'every script is a file').to.match(/\bsrc="\/[^"]+"/);
      expect(body!.trim(), 'a script element with a body').to.equal('');
    }
    expect(res.text).not.to.match(/\son[a-z]+\s*=/i);
    expect(res.text).not.to.match(/\sstyle\s*=/i);
    expect(res.text).not.to.match(/<style\b/i);
    const urls = [...res.text.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    for (const url of urls) expect(url, 'same-origin URL').to.match(/^(\/|#)/);
  });

  it('serves every stylesheet and module the page loads, and every module those modules import', async () => {
    const page = await request(ctx.bareApp).get('/portal');
    const styles = [...page.text.matchAll(/<link rel="stylesheet" href="([^"]+)"/g)].map((m) => m[1]!);
    expect(styles).to.include.members(['/assets/ds/theme.css', '/assets/ds/designsystemet.css', '/portal/assets/portal.css']);
    for (const href of styles) {
      const res = await request(ctx.bareApp).get(href);
      expect(res.status, href).to.equal(200);
      expect(res.headers['content-type'], href).to.match(/^text\/css/);
    }
    const queue = [...page.text.matchAll(/<script type="module" src="([^"]+)"/g)].map((m) => m[1]!);
    expect(queue).to.deep.equal(['/portal/assets/portal.js']);
    const seen = new Set<string>();
    while (queue.length > 0) {
      const url = queue.shift()!;
      if (seen.has(url)) continue;
      seen.add(url);
      const res = await request(ctx.bareApp).get(url);
      expect(res.status, url).to.equal(200);
      expect(res.headers['content-type'], url).to.match(/^application\/javascript/);
      for (const m of res.text.matchAll(/\bfrom '(\.\/[^']+)'/g)) queue.push(new URL(m[1]!, `http://x${url}`).pathname);
    }
    expect([...seen].sort()).to.deep.equal(['/portal/assets/fhir-view.js', '/portal/assets/i18n.js', '/portal/assets/portal.js', '/portal/assets/smart.js']);
  });

  it('the scripts never write markup: no innerHTML, outerHTML, insertAdjacentHTML, document.write or eval', async () => {
    for (const name of ['portal.js', 'fhir-view.js', 'smart.js', 'i18n.js']) {
      const res = await request(ctx.bareApp).get(`/portal/assets/${name}`);
      expect(res.text, name).not.to.match(/\b(innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval|Function)\s*[(=]/);
    }
  });

  it('settings.json names the registered first-party client and its exact redirect URI; discovery offers PKCE S256', async () => {
    const res = await request(ctx.bareApp).get('/portal/settings.json');
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal({ fhirBase: ctx.config.fhirBase, clientId: PORTAL_CLIENT_ID, redirectUri: `${ctx.config.baseUrl}/portal/callback` });
    const client = await getClient(ctx.db, PORTAL_CLIENT_ID);
    expect(client?.clientType).to.equal('public');
    expect(client?.redirectUris).to.deep.equal([res.body.redirectUri]);
    const smart = await request(ctx.bareApp).get('/fhir/.well-known/smart-configuration');
    expect(smart.body.code_challenge_methods_supported).to.deep.equal(['S256']);
  });

  it('an unknown asset, a path outside the folder, and odd bytes are a FHIR 404, never a file', async () => {
    for (const path of ['/portal/assets/router.ts', '/portal/assets/..%2Frouter.ts', '/portal/assets/%2e%2e%2f%2e%2e%2fpackage.json', '/portal/assets/index.html', '/portal/assets/%00', '/portal/other']) {
      const res = await request(ctx.bareApp).get(path);
      expect(res.status, path).to.equal(404);
      expect(res.body.resourceType, path).to.equal('OperationOutcome');
    }
  });

  it('the portal reaches data only with a token: the FHIR API it calls refuses a request without one (401)', async () => {
    const res = await request(ctx.bareApp).get('/fhir/Appointment?patient=kari-nordmann').set('Accept', 'application/fhir+json');
    expect(res.status).to.equal(401);
    expect(res.body.resourceType).to.equal('OperationOutcome');
  });

  it('the index page and the development start banner point to the portal', async () => {
    const index = await request(ctx.bareApp).get('/');
    expect(index.text).to.match(/<a href="\/portal">Reference portal<\/a>/);
    const printed: string[] = [];
    const lines: string[] = [];
    logStartBanner(createLogger('info', {}, (l) => lines.push(l)), { ...ctx.config, production: false }, (text) => printed.push(text));
    expect(printed.join('')).to.contain(`${ctx.config.baseUrl}/portal`);
    expect(JSON.parse(lines[0]!).urls.portal).to.equal(`${ctx.config.baseUrl}/portal`);
  });
});
