/**
 * Search benchmark: shows that search is index-backed by measuring the same queries on a small and
 * a large population in one database (it grows between rounds), so the table reads "rate at small
 * vs large". Queries whose answer has a fixed size (one patient's data, a date window that only two
 * patients fall in, a page of a common code without a total) should stay flat; the EXPLAIN ANALYZE
 * of every query each scenario issued is printed per size, and a plan that reads a table of
 * resources or index rows without an index (a Seq Scan) is flagged. Called by `bench/run.ts`, or
 * standalone:
 *
 *   npx tsx bench/search.ts
 *   BENCH_SEARCH_SIZES=200,2000 BENCH_SEARCH_OBS=20 BENCH_SECONDS=5 npx tsx bench/search.ts
 *   DATABASE_URL=postgres://… BENCH_SEARCH_RESOURCES=100000,1000000 npx tsx bench/search.ts   # issue 11 §8
 *
 * BENCH_SEARCH_RESOURCES (total resources per round) with BENCH_SEARCH_PER_PATIENT (default 100: the
 * Patient and 99 Observations) sets the rounds in resources: 1,000,000 is 10,000 patients. The data is
 * stored by the direct loader (bench/search-load.ts: the repository's own validation, extraction and
 * bulk insert, no HTTP); BENCH_SEARCH_LOAD=http posts transaction Bundles instead. After loading,
 * the tables are VACUUM ANALYZEd as autovacuum would after a bulk load. BENCH_SEARCH_CONNECTIONS
 * (default 1,8) lists the autocannon connection counts: 1 gives the latency of one search, 8 the rate.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import type { Bundle, BundleEntry, FhirResource } from 'fhir/r4';
import { testConfig } from '../src/config/config.js';
import type { Db } from '../src/db/db.js';
import { openDatabase } from '../src/db/open.js';
import { createLogger } from '../src/log.js';
import { buildServer, createRepository } from '../src/server.js';
import { benchDay, benchPatientId, loadRange, patientResources } from './search-load.js';
import { obtainSystemToken, PATIENT_FNR, printTable, type BenchRow } from './support.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const PER_PATIENT = Number(process.env.BENCH_SEARCH_PER_PATIENT ?? (process.env.BENCH_SEARCH_RESOURCES ? 100 : Number(process.env.BENCH_SEARCH_OBS ?? 20) + 1));
/** Rounds as patient counts: from BENCH_SEARCH_RESOURCES (÷ resources per patient) or BENCH_SEARCH_SIZES. */
const SIZES = (process.env.BENCH_SEARCH_RESOURCES
  ? process.env.BENCH_SEARCH_RESOURCES.split(',').map((r) => Math.round(Number(r) / PER_PATIENT))
  : (process.env.BENCH_SEARCH_SIZES ?? '200,2000').split(',').map(Number)
)
  .filter((n) => n > 0)
  .sort((a, b) => a - b);
const CONNECTIONS = (process.env.BENCH_SEARCH_CONNECTIONS ?? '1,8').split(',').map(Number).filter((n) => n > 0);
const LOAD = process.env.BENCH_SEARCH_LOAD ?? 'direct';
const FNR_SYSTEM = 'urn:oid:2.16.578.1.12.4.1.4.1';
/** Patient p's observations fall on day p after 2000-01-01, so this window holds two patients' data at any size. */
const WINDOW = `date=ge${benchDay(31)}&date=lt${benchDay(33)}`;
/**
 * Scans of data without an index. Not sp_date_multi: it lists only versions with several values of a date
 * parameter (migration 011), none in this data, and PGlite rightly reads an empty table by a Seq Scan.
 */
const INDEX_TABLES = /Seq Scan on (resources|resource_history|sp_(?!date_multi\b)\w+|access_log)\b/;

interface Scenario {
  name: string;
  /** A path per request (rotating through patients where the query names one). */
  path: (n: number) => string;
}

type Headers = () => Promise<Record<string, string>>;

/** System tokens live at most 5 minutes and loading the large round takes longer: renew every 2. */
function freshHeaders(base: string, secret: string): Headers {
  let current: { at: number; headers: Record<string, string> } | null = null;
  return async () => {
    if (!current || Date.now() - current.at > 120_000) {
      current = { at: Date.now(), headers: { authorization: `Bearer ${await obtainSystemToken(base, secret)}`, 'content-type': 'application/fhir+json' } };
    }
    return current.headers;
  };
}

interface Recorded {
  on: boolean;
  queries: Array<{ text: string; params: readonly unknown[] }>;
}

/** Records the SQL the server issues while `on`, so EXPLAIN runs on exactly what search built. */
function recording(db: Db, log: Recorded): Db {
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'query') {
        return (text: string, params?: readonly unknown[]) => {
          if (log.on) log.queries.push({ text, params: params ?? [] });
          return target.query(text, params);
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** `onRound` gets each round's rows and plans as soon as it is measured (a 1M round takes a while). */
export async function runSearchBench(onRound?: (rows: BenchRow[], explain: string) => void): Promise<{ rows: BenchRow[]; explain: string }> {
  const url = process.env.DATABASE_URL;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'helsebro-bench-search-'));
  const target = url && /^postgres/.test(url) ? ({ kind: 'postgres', url } as const) : ({ kind: 'pglite', dataDir: path.join(tmp, 'data') } as const);
  const log: Recorded = { on: false, queries: [] };
  const schema = `bench_search_${randomBytes(4).toString('hex')}`;
  const raw = await openDatabase(target, { schema, max: 20 });
  const db = recording(raw, log);
  const config = testConfig({ database: target, port: 0, logLevel: 'silent', bodyLimit: 50 * 1024 * 1024 });
  const { app, extraClosers } = await buildServer({ config, db, logger: createLogger('silent'), repo: createRepository(db), devIdp: false });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const headers = freshHeaders(base, config.devSystemClientSecret);

  let loaded = 0;
  const rows: BenchRow[] = [];
  const explain: string[] = [];
  try {
    for (const size of SIZES) {
      if (LOAD === 'http') await growHttp(base, headers, loaded, size);
      else await loadRange(raw, { url: target.kind === 'postgres' ? target.url : undefined, schema }, loaded, size, PER_PATIENT);
      loaded = size;
      await settle(raw);
      const label = `${(size * PER_PATIENT).toLocaleString('en')} resources`;
      const scenarios = searchScenarios(size);
      const round: BenchRow[] = [];
      for (const s of scenarios) for (const c of CONNECTIONS) round.push(await measure(base, headers, s, label, c));
      const plans = await explainQueries(base, headers, raw, log, scenarios, label);
      rows.push(...round);
      explain.push(plans);
      onRound?.(round, plans);
    }
  } finally {
    server.close();
    for (const close of extraClosers) await close();
    await raw.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return { rows, explain: explain.join('\n\n') };
}

/**
 * What autovacuum does after a bulk load, done at once so every round is measured on fresh
 * statistics and all-visible pages (index-only scans). Table by table: a bare VACUUM would also
 * vacuum the other schemas of a shared server.
 */
async function settle(db: Db): Promise<void> {
  const started = Date.now();
  const tables = ['resources', 'resource_history', 'sp_token', 'sp_string', 'sp_reference', 'sp_date', 'sp_date_multi', 'sp_number', 'sp_quantity', 'sp_uri'];
  for (const t of tables) await db.query(db.kind === 'postgres' ? `VACUUM (ANALYZE) ${t}` : `ANALYZE ${t}`);
  process.stderr.write(`bench search: VACUUM ANALYZE ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}

function searchScenarios(patients: number): Scenario[] {
  const pick = (n: number) => (n * 7919) % patients; // spread over the population
  return [
    { name: 'token code=8867-4 (¼ of Observations match; no total above 2,000)', path: () => '/fhir/Observation?code=http://loinc.org|8867-4&_count=20' },
    { name: 'token code=8867-4, _total=none', path: () => '/fhir/Observation?code=http://loinc.org|8867-4&_count=20&_total=none' },
    { name: 'Observation?patient&code (one patient)', path: (n) => `/fhir/Observation?patient=${benchPatientId(pick(n))}&code=http://loinc.org|8867-4&_count=20` },
    { name: 'date range (fixed early window, 2 patients)', path: () => `/fhir/Observation?${WINDOW}&_count=20` },
    { name: 'date range (latest 2 days, 2 patients)', path: () => `/fhir/Observation?date=ge${benchDay(patients - 2)}&date=lt${benchDay(patients)}&_count=20` },
    // Open (docs/bench.md, "Search at scale"): neither bound is selective in the middle of the data.
    { name: 'date range (middle 2 days, 2 patients)', path: () => `/fhir/Observation?date=ge${benchDay(Math.floor(patients / 2))}&date=lt${benchDay(Math.floor(patients / 2) + 2)}&_count=20` },
    { name: 'chained subject:Patient.identifier', path: (n) => `/fhir/Observation?subject:Patient.identifier=${FNR_SYSTEM}|${PATIENT_FNR(pick(n))}&_count=20` },
    { name: '_include Observation:subject (date window)', path: () => `/fhir/Observation?${WINDOW}&_include=Observation:subject&_count=20` },
    { name: '_revinclude Observation:subject (one Patient)', path: (n) => `/fhir/Patient?_id=${benchPatientId(pick(n))}&_revinclude=Observation:subject&_count=20` },
    { name: 'compartment Patient/{id}/Observation', path: (n) => `/fhir/Patient/${benchPatientId(pick(n))}/Observation?_count=20` },
    { name: 'string prefix Patient?name=ped (1/12 of Patients match)', path: () => '/fhir/Patient?name=ped&_count=20' },
  ];
}

async function measure(base: string, fresh: Headers, s: Scenario, label: string, connections: number): Promise<BenchRow> {
  const headers = await fresh();
  // One plain request first: it must succeed, and its total says how much the query matched.
  const probe = await fetch(`${base}${s.path(0)}`, { headers });
  const body = (await probe.json()) as Bundle;
  if (!probe.ok) throw new Error(`${s.name}: ${probe.status} ${JSON.stringify(body).slice(0, 300)}`);
  let n = 0;
  const r = await autocannon({
    url: base,
    connections,
    duration: SECONDS,
    headers,
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: s.path(n++) }) }],
  });
  const errors = r.non2xx === 0 && r.errors === 0 ? '' : `; ${r.non2xx} non-2xx, ${r.errors} errors`;
  const matches = body.entry?.filter((e) => e.search?.mode === 'match').length ?? 0;
  const matched = body.total !== undefined ? `total ${body.total}` : `no total, ${matches} matches on page 1`;
  return {
    name: `${s.name} @ ${label}, ${connections} conn`,
    rate: `${Math.round(r.requests.average)} req/s`,
    p50: `${r.latency.p50} ms`,
    p99: `${r.latency.p99} ms`,
    note: `${matched}, ${(body.entry ?? []).length} entries${errors}`,
  };
}

/** The HTTP alternative to the direct loader: the same resources as transaction Bundles of 10 patients. */
async function growHttp(base: string, headers: Headers, from: number, to: number): Promise<void> {
  const started = Date.now();
  for (let p = from; p < to; p += 10) {
    const entry: Array<BundleEntry<FhirResource>> = [];
    for (let q = p; q < Math.min(p + 10, to); q++) {
      // PUT keeps the bench's deterministic ids (the direct loader's), so scenarios can name them.
      for (const r of patientResources(q, PER_PATIENT)) entry.push({ resource: r as FhirResource, request: { method: 'PUT' as const, url: `${r.resourceType}/${r.id}` } });
    }
    await post(base, headers, { resourceType: 'Bundle', type: 'transaction', entry });
    process.stderr.write(`\rbench search: ${Math.min(p + 10, to)}/${to} patients over HTTP`);
  }
  process.stderr.write(` (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
}

async function post(base: string, headers: Headers, bundle: Bundle<FhirResource>): Promise<Bundle> {
  const res = await fetch(`${base}/fhir`, { method: 'POST', headers: await headers(), body: JSON.stringify(bundle) });
  const out = (await res.json()) as Bundle;
  if (!res.ok) throw new Error(`load failed: ${res.status} ${JSON.stringify(out).slice(0, 300)}`);
  return out;
}

/**
 * EXPLAIN ANALYZE of every query over resources or index rows that one request of each scenario
 * issued (count, page, includes), captured from a real request; a plan with a sequential scan of such
 * a table is flagged "NOT AN INDEX PATH".
 */
async function explainQueries(base: string, headers: Headers, db: Db, log: Recorded, scenarios: Scenario[], label: string): Promise<string> {
  const out: string[] = [`EXPLAIN ANALYZE at ${label} (${db.kind})`];
  const flagged: string[] = [];
  await new Promise((r) => setTimeout(r, 3000)); // requests autocannon left in flight finish first
  for (const s of scenarios) {
    log.queries = [];
    log.on = true;
    await fetch(`${base}${s.path(1)}`, { headers: await headers() });
    log.on = false;
    const searchQueries = log.queries.filter((x) => /^\s*SELECT/i.test(x.text) && /\b(resources|sp_\w+)\s+\w+/.test(x.text) && !/^SELECT max\(seq\)/.test(x.text));
    for (const q of searchQueries) {
      const plan = await db.query<Record<string, string>>(`EXPLAIN (ANALYZE, COSTS OFF, BUFFERS OFF) ${q.text}`, q.params);
      const lines = plan.map((row) => Object.values(row)[0]!);
      const kind = q.text.startsWith('SELECT count') ? 'count' : /ORDER BY/.test(q.text) && /LIMIT/.test(q.text) ? 'page' : 'include/other';
      const time = lines.find((l) => l.startsWith('Execution Time'))?.replace('Execution Time: ', '') ?? '';
      const bad = lines.some((l) => INDEX_TABLES.test(l));
      if (bad) flagged.push(`${s.name} (${kind})`);
      out.push('', `-- ${s.name}: ${kind} query, ${time}${bad ? '  ** NOT AN INDEX PATH **' : ''}`, ...lines);
    }
  }
  out.splice(1, 0, flagged.length === 0 ? 'Every plan reaches resources and index rows through indexes.' : `NOT AN INDEX PATH: ${flagged.join('; ')}`);
  return out.join('\n');
}

// Standalone: `npx tsx bench/search.ts`.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runSearchBench((rows, explain) => {
    printTable(`${process.env.DATABASE_URL ? 'postgres' : 'pglite'} (search), load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`, rows);
    console.log(`\n\`\`\`\n${explain}\n\`\`\``);
  });
}
