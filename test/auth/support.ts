/**
 * Test support for the authorization server: a listening helsebro (FHIR API + SMART server) wired
 * the way src/app.ts and src/main.ts wire it, with the ID-porten stand-in on ephemeral ports, plus
 * helpers for tokens, citizens and launches. Other areas' tests use `getDevSystemToken` to call the
 * FHIR API with a real token.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { Patient } from 'fhir/r4';
import request from 'supertest';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import { createApp } from '../../src/app.js';
import { authenticateFhir } from '../../src/auth/resource-server.js';
import { endAppGrantsOnDeactivation } from '../../src/auth/account-grants.js';
import { createAuthRouter, createSecurityEvents, type AuthRouterDeps } from '../../src/auth/router.js';
import { KeyStore } from '../../src/auth/keys.js';
import { PORTAL_CLIENT_ID, registeredOrigins } from '../../src/auth/clients.js';
import { testConfig, type Config } from '../../src/config/config.js';
import type { Db } from '../../src/db/db.js';
import { startDevIdp, type DevIdp } from '../../src/dev-idp/start.js';
import type { Repository } from '../../src/fhir/repository/repository.js';
import { FNR_SYSTEM, syntheticFnr } from '../../src/fhir/validation/fnr.js';
import { createLogger } from '../../src/log.js';
import { openTestDatabase } from '../support/app.js';
import { Browser, radioValues, type Page } from './browser.js';
import { pkcePair } from './pkce.js';
import { createRepository, createServerAccessEngine } from '../../src/server.js';
import { eventsSinceRouter } from '../../src/portal/messages/events-router.js';

export { pkcePair };

export interface AuthTestServer {
  baseUrl: string;
  fhirBase: string;
  config: Config;
  db: Db;
  repo: Repository;
  app: Express;
  idp: DevIdp;
  /** The HelseID stand-in (clinician login). */
  helseid: DevIdp;
  keys: KeyStore;
  close(): Promise<void>;
}

/** A helsebro listening on an ephemeral port with the ID-porten stand-in beside it. */
export async function startAuthTestServer(overrides: Partial<Config> = {}, routerDeps: Partial<AuthRouterDeps> = {}, opts: { securityLog?: string[] } = {}): Promise<AuthTestServer> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, resolve));
  const baseUrl = `http://localhost:${(server.address() as AddressInfo).port}`;
  const base = testConfig({ baseUrl, fhirBase: `${baseUrl}/fhir`, devIdpPort: 0, sessionSecret: randomBytes(32).toString('hex'), ...overrides });
  // The stand-in never runs in production; production-mode tests still need a login provider.
  const idp = await startDevIdp({ ...base, production: false });
  // The clinicians' login (HelseID stand-in), a separate issuer with an HPR login form.
  const helseid = await startDevIdp({ ...base, production: false }, { flavour: 'helseid' });
  const config: Config = { ...base, idportenIssuer: idp.issuer, helseidIssuer: helseid.issuer };
  const db = await openTestDatabase();
  const repo = createRepository(db, config);
  const logger = createLogger('error');
  const keys = new KeyStore(db);
  // The real access engine, as buildServer wires it: gates, policy, picker and access log.
  const access = createServerAccessEngine(db, repo, logger);
  // Security events are logged at info/warn; a test may collect the lines it wants to inspect.
  const securityLog = opts.securityLog;
  const events = createSecurityEvents(db, securityLog ? createLogger('info', {}, (l) => securityLog.push(l)) : logger, access.accessLog);
  const authenticate = authenticateFhir({ config, db, logger, repo, keys, toAccess: access.toAccess });
  const app = createApp({
    config,
    db,
    logger,
    repo,
    authenticate,
    routers: [
      createAuthRouter({ config, db, logger, repo, keys, gate: access.gate, actingOptions: access.actingOptions, events, ...routerDeps }),
      eventsSinceRouter({ config, repo, authenticate, engine: access, portalClientId: PORTAL_CLIENT_ID }),
    ],
    onAccountChange: endAppGrantsOnDeactivation({ db, events }),
    registeredOrigins: () => registeredOrigins(db),
  });
  server.on('request', app);
  return {
    baseUrl,
    fhirBase: config.fhirBase,
    config,
    db,
    repo,
    app,
    idp,
    helseid,
    keys,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await idp.close();
      await helseid.close();
      await db.close();
    },
  };
}

/**
 * A `system/*.*` (or `scope`) access token for the built-in `dev-system` client, obtained through
 * a real `POST /auth/token` with client_secret_basic. `target` is an express app or a base URL.
 */
export async function getDevSystemToken(target: Express | string, opts: { secret?: string; scope?: string } = {}): Promise<string> {
  const basic = Buffer.from(`dev-system:${opts.secret ?? 'dev-system-secret'}`).toString('base64');
  const form = { grant_type: 'client_credentials', scope: opts.scope ?? 'system/*.*' };
  if (typeof target === 'string') {
    const res = await fetch(`${target}/auth/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form),
    });
    const body = (await res.json()) as { access_token?: string };
    if (!res.ok || !body.access_token) throw new Error(`dev-system token failed: ${res.status} ${JSON.stringify(body)}`);
    return body.access_token;
  }
  const res = await request(target).post('/auth/token').set('Authorization', `Basic ${basic}`).type('form').send(form);
  if (res.status !== 200) throw new Error(`dev-system token failed: ${res.status} ${JSON.stringify(res.body)}`);
  return (res.body as { access_token: string }).access_token;
}

/** A citizen with a synthetic fødselsnummer and a Patient record. */
export async function createCitizen(repo: Repository, opts: { birthDate?: string; seq?: number; family?: string; given?: string } = {}): Promise<{ patientId: string; pid: string }> {
  const birthDate = opts.birthDate ?? '1980-05-17';
  const pid = syntheticFnr(birthDate, opts.seq ?? 0);
  const patient: Patient = {
    resourceType: 'Patient',
    identifier: [{ system: FNR_SYSTEM, value: pid }],
    name: [{ use: 'official', family: opts.family ?? 'Nordmann', given: [opts.given ?? 'Kari'] }],
    birthDate,
  };
  const { resource } = await repo.create(patient, SYSTEM_ACCESS);
  return { patientId: resource.id!, pid };
}


export async function registerApp(s: AuthTestServer, metadata: Record<string, unknown>): Promise<{ client_id: string; client_secret?: string }> {
  const res = await fetch(`${s.baseUrl}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(metadata) });
  const body = (await res.json()) as { client_id: string; client_secret?: string };
  if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

export const APP_REDIRECT = 'http://localhost:9/app/callback';

export interface LaunchOptions {
  clientId: string;
  pid: string;
  /** HPR number for the HelseID stand-in's login form (clinician requests). */
  hpr?: string;
  scope?: string;
  redirectUri?: string;
  browser?: Browser;
  launch?: string;
  /** Which Patient id to pick (default: the first offered). */
  patient?: string;
  extra?: Record<string, string>;
}

export interface LaunchResult {
  code: string | null;
  state: string;
  verifier: string;
  location: URL;
  browser: Browser;
  /** The pages the person went through: login, terms, picker, consent. */
  steps: string[];
}

/**
 * Answers the pages a person meets — ID-porten stand-in login (pid), terms (first login), picker,
 * consent — until a redirect leaves for `stopAt` or a page is none of those.
 */
export async function drive(browser: Browser, first: Page, o: { pid: string; hpr?: string; patient?: string; acr?: string; decision?: 'approve' | 'deny' }, stopAt: string): Promise<{ page: Page; steps: string[] }> {
  let page = first;
  const steps: string[] = [];
  for (let step = 0; step < 8; step++) {
    if (page.location?.startsWith(stopAt)) break;
    const decision = o.decision ?? 'approve';
    if (page.body.includes('name="pid"')) {
      steps.push('login');
      page = await browser.submit(page, { pid: o.pid, acr: o.acr ?? 'idporten-loa-high' }, stopAt);
    } else if (page.body.includes('name="hpr"')) {
      steps.push('helseid-login');
      page = await browser.submit(page, { hpr: o.hpr ?? '' }, stopAt);
    } else if (page.body.includes('name="accept_terms"')) {
      steps.push('terms');
      page = await browser.submit(page, { accept_terms: 'yes', decision }, stopAt);
    } else if (page.body.includes('name="patient"')) {
      steps.push('picker');
      page = await browser.submit(page, { patient: o.patient ?? radioValues(page.body, 'patient')[0]!, decision }, stopAt);
    } else if (page.body.includes('value="approve"')) {
      steps.push('consent');
      page = await browser.submit(page, { decision }, stopAt);
    } else if (appReturnLink(page.body)) {
      // A refusal page (issue 16 §3): the person presses "Tilbake til appen", a link carrying the error.
      steps.push('refusal');
      page = { ...page, status: 303, location: new URL(appReturnLink(page.body)!, page.url).toString() };
    } else break;
  }
  return { page, steps };
}

/** The "Tilbake til appen" link of a refusal page, or null. */
export function appReturnLink(html: string): string | null {
  const m = /<a [^>]*data-return="app" href="([^"]*)"/.exec(html);
  return m ? m[1]!.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'") : null;
}

/**
 * Drives a browser through /authorize → ID-porten stand-in login (pid) → terms (first login) →
 * picker → consent, until the redirect back to the app; returns what the app receives.
 */
export async function launch(s: AuthTestServer, o: LaunchOptions & { decision?: 'approve' | 'deny'; acr?: string }): Promise<LaunchResult> {
  const browser = o.browser ?? new Browser();
  const redirectUri = o.redirectUri ?? APP_REDIRECT;
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(16).toString('base64url');
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: o.clientId,
    redirect_uri: redirectUri,
    scope: o.scope ?? 'launch/patient openid fhirUser patient/*.rs offline_access',
    state,
    aud: s.fhirBase,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...(o.launch ? { launch: o.launch } : {}),
    ...o.extra,
  });
  const first = await browser.navigate('GET', `${s.baseUrl}/auth/authorize?${params}`, undefined, redirectUri);
  const { page, steps } = await drive(browser, first, o, redirectUri);
  if (!page.location?.startsWith(redirectUri)) throw new Error(`launch did not return to the app: ${page.status} ${page.body.slice(0, 300)}`);
  const location = new URL(page.location);
  return { code: location.searchParams.get('code'), state: location.searchParams.get('state') ?? '', verifier, location, browser, steps };
}

export async function tokenRequest(s: AuthTestServer, form: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${s.baseUrl}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers };
}

/** authorization_code exchange for a public client. */
export function exchange(s: AuthTestServer, clientId: string, r: LaunchResult, redirectUri = APP_REDIRECT) {
  return tokenRequest(s, { grant_type: 'authorization_code', code: r.code ?? '', redirect_uri: redirectUri, code_verifier: r.verifier, client_id: clientId });
}

export async function fhirGet(s: AuthTestServer, path: string, token?: string): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${s.fhirBase}/${path}`, { headers: { accept: 'application/fhir+json', ...(token ? { authorization: `Bearer ${token}` } : {}) } });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers };
}
