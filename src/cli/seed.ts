/**
 * npm run seed [-- --force] [--dry-run]
 *
 * Loads the demo population (fixtures/demo-*.json transaction Bundles) into the database given by
 * DATABASE_URL, through the same transaction processor as `POST /fhir` (validation, indexes,
 * history). Every entry is a PUT with a stable id, so a second run finds the same resources; a
 * Bundle whose resources are all stored unchanged is not sent again, so re-seeding adds no
 * history versions. Refuses in production (NODE_ENV=production) unless `--force`: the demo people
 * have made-up fødselsnumre and proxy rights that must not appear in a real portal by accident.
 *
 * Structured JSON logs go to stdout (src/log.ts); a human progress line goes to stderr.
 * Exit codes: 0 done, 1 failure, 2 bad usage or configuration, 3 database folder in use.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Bundle, Resource } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../access/access-context.js';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import type { Db } from '../db/db.js';
import { DataDirLockedError } from '../db/lock.js';
import { openDatabase } from '../db/open.js';
import { processBundle } from '../fhir/bundle/transaction.js';
import { rewriteReferences } from '../fhir/bundle/references.js';
import type { Repository } from '../fhir/repository/repository.js';
import { createLogger, type Logger } from '../log.js';
import { demoBundleFiles } from '../seed/seed.js';
import { createRepository } from '../server.js';

const USAGE = 'usage: npm run seed [-- --force] [--dry-run]   (database from DATABASE_URL; see README "Configuration")';

export interface SeedFileResult {
  file: string;
  entries: number;
  /** `loaded`: the Bundle was sent; `unchanged`: every resource was already stored as in the file. */
  status: 'loaded' | 'unchanged' | 'would-load';
  created: number;
  updated: number;
}

export interface SeedSummary {
  files: SeedFileResult[];
  resources: number;
  created: number;
  updated: number;
  unchanged: number;
  elapsedMs: number;
}

/** Loads every demo Bundle; `onFile` is called after each one (progress). */
export async function seed(repo: Repository, config: Config, opts: { dryRun?: boolean; files?: string[]; onFile?: (r: SeedFileResult, done: number, of: number) => void } = {}): Promise<SeedSummary> {
  const started = Date.now();
  const files = opts.files ?? demoBundleFiles();
  const results: SeedFileResult[] = [];
  for (const [i, file] of files.entries()) {
    const bundle = JSON.parse(fs.readFileSync(file, 'utf8')) as Bundle;
    const entries = bundle.entry ?? [];
    const name = path.basename(file);
    let result: SeedFileResult;
    if (await allUnchanged(repo, bundle)) {
      result = { file: name, entries: entries.length, status: 'unchanged', created: 0, updated: 0 };
    } else if (opts.dryRun) {
      result = { file: name, entries: entries.length, status: 'would-load', created: 0, updated: 0 };
    } else {
      const response = await processBundle({ repo, fhirBase: config.fhirBase, defaultCount: config.searchDefaultCount, maxCount: config.searchMaxCount }, bundle, SYSTEM_ACCESS);
      const statuses = (response.entry ?? []).map((e) => e.response?.status ?? '');
      result = { file: name, entries: entries.length, status: 'loaded', created: statuses.filter((s) => s.startsWith('201')).length, updated: statuses.filter((s) => s.startsWith('200')).length };
    }
    results.push(result);
    opts.onFile?.(result, i + 1, files.length);
  }
  const sum = (f: (r: SeedFileResult) => number) => results.reduce((n, r) => n + f(r), 0);
  return {
    files: results,
    resources: sum((r) => r.entries),
    created: sum((r) => r.created),
    updated: sum((r) => r.updated),
    unchanged: sum((r) => (r.status === 'unchanged' ? r.entries : 0)),
    elapsedMs: Date.now() - started,
  };
}

/**
 * True when every PUT of the Bundle would store what is stored already. References are compared
 * as the transaction stores them (`urn:uuid:` fullUrls resolved to `Type/id`), and server-owned
 * meta is ignored. Any other entry shape counts as a change, so the Bundle is sent.
 */
async function allUnchanged(repo: Repository, bundle: Bundle): Promise<boolean> {
  const entries = bundle.entry ?? [];
  const idFor = new Map(entries.flatMap((e) => (e.fullUrl && e.resource?.id ? [[e.fullUrl, `${e.resource.resourceType}/${e.resource.id}`] as const] : [])));
  for (const e of entries) {
    const r = e.resource;
    if (e.request?.method !== 'PUT' || !r?.id || e.request.url !== `${r.resourceType}/${r.id}`) return false;
    const row = await repo.visibleRow(r.resourceType, r.id, SYSTEM_ACCESS);
    if (!row || row.deleted || !row.content) return false;
    const stored = typeof row.content === 'string' ? (JSON.parse(row.content) as Resource) : row.content;
    const wanted = rewriteReferences(r, (ref) => idFor.get(ref) ?? ref);
    if (canonical(withoutServerMeta(stored)) !== canonical(withoutServerMeta(wanted))) return false;
  }
  return entries.length > 0;
}

function withoutServerMeta(r: Resource): Resource {
  if (!r.meta) return r;
  const { versionId: _v, lastUpdated: _l, ...meta } = r.meta;
  const copy = { ...r, meta };
  if (Object.keys(meta).length === 0) delete (copy as Partial<Resource>).meta;
  return copy;
}

/** JSON with object keys sorted: JSONB does not keep the key order of the file. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v));
}

function progressLine(r: SeedFileResult, done: number, of: number, total: number): string {
  return `seed: ${done}/${of} files · ${total} resources · ${r.file} ${r.status}${r.status === 'loaded' ? ` (${r.created} created, ${r.updated} updated)` : ''}`;
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({ options: { force: { type: 'boolean', default: false }, 'dry-run': { type: 'boolean', default: false }, help: { type: 'boolean', default: false } } }).values;
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.error(USAGE);
    return 0;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    return 2;
  }
  const logger: Logger = createLogger(config.logLevel, { service: 'helsebro', command: 'seed' });
  const database = config.database.kind === 'postgres' ? config.database.url.replace(/:[^:@/]*@/, ':***@') : `pglite://${config.database.dataDir ?? 'memory'}`;
  if (config.production && !args.force) {
    logger.error('seed refused in production', { database, hint: 'the demo population is synthetic; pass --force to load it anyway' });
    console.error('seed: refusing to load demo data with NODE_ENV=production (use --force if you really mean it)');
    return 2;
  }
  if (config.database.kind === 'pglite' && config.database.dataDir === null) {
    logger.warn('seeding an in-memory database: the data is gone when this command ends', { database });
  }

  let db: Db;
  try {
    db = await openDatabase(config.database);
  } catch (err) {
    if (!(err instanceof DataDirLockedError)) throw err;
    logger.error('database folder in use', { database, error: err.message });
    console.error(`seed: ${err.message}`);
    return 3;
  }
  const tty = process.stderr.isTTY;
  let total = 0;
  try {
    logger.info('seed started', { database, force: args.force, dryRun: args['dry-run'] });
    const summary = await seed(createRepository(db, config), config, {
      dryRun: args['dry-run'],
      onFile: (r, done, of) => {
        total += r.entries;
        logger.info('seed progress', { ...r, done, of });
        process.stderr.write(tty ? `\r${progressLine(r, done, of, total)}\u001b[K` : `${progressLine(r, done, of, total)}\n`);
      },
    });
    if (tty) process.stderr.write('\n');
    logger.info('seed done', { database, ...summary, files: summary.files.length });
    return 0;
  } finally {
    await db.close();
  }
}

// Run only as a command, so `seed()` can be imported without side effects.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      const e = err as Error & { issues?: unknown };
      console.error(JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: 'seed failed', error: e.message, issues: e.issues }));
      process.exit(1);
    },
  );
}
