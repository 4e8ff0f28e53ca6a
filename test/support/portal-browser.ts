/**
 * Support for the reference portal's browser tests: the real helsebro as `npm start` builds it in
 * development mode (buildServer with the ID-porten stand-in, the demo population seeded), listening
 * on an ephemeral port; Debian's Chromium driven by playwright-core with a fresh profile per
 * context; axe-core run inside the page; screenshots under test-output/screenshots/.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { testConfig, type Config } from '../../src/config/config.js';
import type { Db } from '../../src/db/db.js';
import type { Repository } from '../../src/fhir/repository/repository.js';
import { createLogger } from '../../src/log.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { seedIfEmpty } from '../../src/seed/seed.js';
import { buildServer, createRepository } from '../../src/server.js';
import { openDatabase } from '../../src/db/open.js';
import { openTestDatabase } from './app.js';

const require = createRequire(import.meta.url);

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOT_DIR = path.join(PROJECT_ROOT, 'test-output', 'screenshots');

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The production default of DB_TIMEOUT_MS: past it a request answers 503 (PostgreSQL). */
const DB_TIMEOUT_MS = 5000;

export function onPostgres(): boolean {
  return /^postgres(ql)?:\/\//.test(process.env.DATABASE_URL ?? '');
}

/** As openTestDatabase, with the server's statement deadline on PostgreSQL (so an outage is a 503, as in production). */
async function openDevDatabase(): Promise<{ db: Db; schema: string | null }> {
  if (!onPostgres()) return { db: await openTestDatabase(), schema: null };
  const schema = `t_${randomBytes(6).toString('hex')}`;
  return { db: await openDatabase({ kind: 'postgres', url: process.env.DATABASE_URL! }, { schema, max: 5, timeoutMs: DB_TIMEOUT_MS }), schema };
}

/**
 * Makes the record unreachable the way a stuck database does: a connection of its own (no deadlines)
 * holds an exclusive lock on the resources table of this server's schema until the returned function
 * releases it (PostgreSQL only).
 */
export async function lockRecord(server: DevServer): Promise<() => Promise<void>> {
  if (!server.schema) throw new Error('lockRecord needs PostgreSQL');
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL!, options: `-c search_path=${server.schema}` });
  await client.connect();
  await client.query('BEGIN');
  await client.query('LOCK TABLE resources IN ACCESS EXCLUSIVE MODE');
  return async () => {
    await client.query('ROLLBACK');
    await client.end();
  };
}

export function chromiumAvailable(): boolean {
  return fs.existsSync(CHROMIUM);
}

export interface DevServer {
  baseUrl: string;
  config: Config;
  db: Db;
  /** The PostgreSQL schema of this server's tables (null on PGlite). */
  schema: string | null;
  repo: Repository;
  close(): Promise<void>;
}

/** helsebro in development mode on port 0, seeded with the demo population, with its login stand-ins. */
export async function startDevServer(): Promise<DevServer> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, resolve));
  const baseUrl = `http://localhost:${(server.address() as AddressInfo).port}`;
  const base = testConfig({ baseUrl, fhirBase: `${baseUrl}/fhir`, devIdpPort: 0, sessionSecret: randomBytes(32).toString('hex') });
  if (base.production) throw new Error('the portal browser test needs development mode');
  const { db, schema } = await openDevDatabase();
  const logger = createLogger('silent');
  const repo = createRepository(db);
  await seedIfEmpty(repo, logger, base.fhirBase);
  const { app, config, extraClosers } = await buildServer({ config: base, db, logger, repo });
  server.on('request', app);
  return {
    baseUrl,
    config,
    db,
    schema,
    repo,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      for (const close of extraClosers) await close();
      await db.close();
    },
  };
}

export interface PortalBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A Chromium with a fresh user-data-dir (no cookies, storage or cache from an earlier run). */
export async function launchPortalBrowser(): Promise<PortalBrowser> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helsebro-portal-chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1100, height: 800 },
    locale: 'nb-NO',
  });
  return {
    context,
    close: async () => {
      await context.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/**
 * Runs axe-core (WCAG 2.1 A and AA rules, colour contrast included) in the page and returns the
 * violations. axe is evaluated through the DevTools protocol, not as a page script, so the
 * portal's self-only CSP stays as it is.
 */
export async function runAxe(page: Page): Promise<AxeViolation[]> {
  const source = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(source);
  return page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown[] }> }> }> } }).axe;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }, resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => JSON.stringify(n.target)) }));
  });
}

/** The serious and critical ones: what the tests refuse. */
export function seriousViolations(violations: AxeViolation[]): AxeViolation[] {
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** A full-page screenshot under test-output/screenshots/; the path is printed so a person can look. */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`      screenshot: ${path.relative(process.cwd(), file)}`);
  return file;
}
