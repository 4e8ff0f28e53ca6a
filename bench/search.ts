/**
 * Search benchmark: shows that search is index-backed by measuring the same queries on a small and
 * a large population in one database (it grows between rounds), so the table reads "rate at small
 * vs large". Queries whose answer has a fixed size (one patient's data, a date window that only a
 * few patients fall in) should stay flat; queries whose answer grows with the data (a common code,
 * a common name prefix) grow with it, mostly through `_total` counting every match. Called by
 * `bench/run.ts`, or standalone:
 *
 *   npx tsx bench/search.ts
 *   BENCH_SEARCH_SIZES=200,2000 BENCH_SEARCH_OBS=20 BENCH_SECONDS=5 npx tsx bench/search.ts
 *   DATABASE_URL=postgres://… npx tsx bench/search.ts
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import type { Bundle, FhirResource, Patient } from 'fhir/r4';
import { testConfig } from '../src/config/config.js';
import type { Db } from '../src/db/db.js';
import { openDatabase } from '../src/db/open.js';
import { createLogger } from '../src/log.js';
import { buildServer, createRepository } from '../src/server.js';
import { observation, obtainSystemToken, patientBundle, printTable, type BenchRow } from './support.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const SIZES = (process.env.BENCH_SEARCH_SIZES ?? '200,2000').split(',').map(Number).filter((n) => n > 0).sort((a, b) => a - b);
const OBS_PER_PATIENT = Number(process.env.BENCH_SEARCH_OBS ?? 20);
const CONNECTIONS = Number(process.env.BENCH_SEARCH_CONNECTIONS ?? 8);
const FNR_SYSTEM = 'urn:oid:2.16.578.1.12.4.1.4.1';
/** Patient p's observations fall on day p after 2000-01-01, so this window holds two patients' data at any size. */
const WINDOW = 'date=ge2000-02-01&date=lt2000-02-03';
const DAY_MS = 86_400_000;
const day = (p: number) => new Date(Date.UTC(2000, 0, 1) + p * DAY_MS).toISOString().slice(0, 10);

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

export async function runSearchBench(): Promise<{ rows: BenchRow[]; explain: string }> {
  const url = process.env.DATABASE_URL;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'helsebro-bench-search-'));
  const target = url && /^postgres/.test(url) ? ({ kind: 'postgres', url } as const) : ({ kind: 'pglite', dataDir: path.join(tmp, 'data') } as const);
  const log: Recorded = { on: false, queries: [] };
  const raw = await openDatabase(target, { schema: `bench_search_${randomBytes(4).toString('hex')}`, max: 20 });
  const db = recording(raw, log);
  const config = testConfig({ database: target, port: 0, logLevel: 'silent', bodyLimit: 50 * 1024 * 1024 });
  const { app, extraClosers } = await buildServer({ config, db, logger: createLogger('silent'), repo: createRepository(db), devIdp: false });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const headers = freshHeaders(base, config.devSystemClientSecret);

  const patients: Array<{ id: string; fnr: string }> = [];
  const rows: BenchRow[] = [];
  let explain = '';
  try {
    for (const size of SIZES) {
      await grow(base, headers, patients, size);
      const scenarios = searchScenarios(patients);
      for (const s of scenarios) rows.push(await measure(base, headers, s, size));
      if (size === SIZES[SIZES.length - 1]) explain = await explainQueries(base, headers, raw, log, scenarios, size);
    }
  } finally {
    server.close();
    for (const close of extraClosers) await close();
    await raw.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return { rows, explain };
}

function searchScenarios(patients: Array<{ id: string; fnr: string }>): Scenario[] {
  const pick = (n: number) => patients[(n * 7919) % patients.length]!; // spread over the population
  return [
    { name: 'token code=8867-4 (grows: ¼ of all Observations match)', path: () => '/fhir/Observation?code=http://loinc.org|8867-4&_count=20' },
    { name: 'token code=8867-4, _total=none', path: () => '/fhir/Observation?code=http://loinc.org|8867-4&_count=20&_total=none' },
    { name: 'date range (fixed window, 2 patients)', path: () => `/fhir/Observation?${WINDOW}&_count=20` },
    { name: 'date range (latest 2 days, 2 patients)', path: () => `/fhir/Observation?date=ge${day(patients.length - 2)}&date=lt${day(patients.length)}&_count=20` },
    { name: 'chained subject:Patient.identifier', path: (n) => `/fhir/Observation?subject:Patient.identifier=${FNR_SYSTEM}|${pick(n).fnr}&_count=20` },
    { name: '_include Observation:subject (date window)', path: () => `/fhir/Observation?${WINDOW}&_include=Observation:subject&_count=20` },
    { name: '_revinclude Observation:subject (one Patient)', path: (n) => `/fhir/Patient?_id=${pick(n).id}&_revinclude=Observation:subject` },
    { name: 'compartment Patient/{id}/Observation', path: (n) => `/fhir/Patient/${pick(n).id}/Observation?_count=20` },
    { name: 'string prefix Patient?name=ped (grows: 1/12 match)', path: () => '/fhir/Patient?name=ped&_count=20' },
  ];
}

async function measure(base: string, fresh: Headers, s: Scenario, size: number): Promise<BenchRow> {
  const headers = await fresh();
  // One plain request first: it must succeed, and its total says how much the query matched.
  const probe = await fetch(`${base}${s.path(0)}`, { headers });
  const body = (await probe.json()) as Bundle;
  if (!probe.ok) throw new Error(`${s.name}: ${probe.status} ${JSON.stringify(body).slice(0, 300)}`);
  let n = 0;
  const r = await autocannon({
    url: base,
    connections: CONNECTIONS,
    duration: SECONDS,
    headers,
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: s.path(n++) }) }],
  });
  const errors = r.non2xx === 0 && r.errors === 0 ? '' : `; ${r.non2xx} non-2xx, ${r.errors} errors`;
  const matched = body.total !== undefined ? `total ${body.total}` : `${body.entry?.filter((e) => e.search?.mode === 'match').length ?? 0} on page 1`;
  return {
    name: `${s.name} @ ${size} patients`,
    rate: `${Math.round(r.requests.average)} req/s`,
    p50: `${r.latency.p50} ms`,
    p99: `${r.latency.p99} ms`,
    note: `${matched}, ${(body.entry ?? []).length} entries${errors}`,
  };
}

/** Adds patients (50 per transaction) and their Observations until the population has `size`. */
async function grow(base: string, headers: Headers, patients: Array<{ id: string; fnr: string }>, size: number): Promise<void> {
  const started = Date.now();
  while (patients.length < size) {
    const offset = patients.length;
    const batch = Math.min(50, size - offset);
    const out = await post(base, headers, patientBundle(offset, batch));
    const created = out.entry!.map((e) => e.resource as Patient);
    patients.push(...created.map((p) => ({ id: p.id!, fnr: p.identifier![0]!.value! })));
    // Observations of five patients per transaction, two transactions in flight.
    const groups: Array<Promise<Bundle>> = [];
    for (let k = 0; k < created.length; k += 5) {
      groups.push(post(base, headers, observationsFor(created.slice(k, k + 5).map((p, j) => ({ id: p.id!, index: offset + k + j })))));
      if (groups.length === 2) await Promise.all(groups.splice(0));
    }
    await Promise.all(groups);
    process.stderr.write(`\rbench search: ${patients.length}/${size} patients, ${patients.length * OBS_PER_PATIENT} observations`);
  }
  process.stderr.write(` (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
}

function observationsFor(list: Array<{ id: string; index: number }>): Bundle<FhirResource> {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: list.flatMap(({ id, index }) =>
      Array.from({ length: OBS_PER_PATIENT }, (_, j) => ({
        resource: { ...observation(id, j), effectiveDateTime: new Date(Date.UTC(2000, 0, 1) + index * DAY_MS + j * 3_600_000).toISOString() },
        request: { method: 'POST' as const, url: 'Observation' },
      })),
    ),
  };
}

async function post(base: string, headers: Headers, bundle: Bundle<FhirResource>): Promise<Bundle> {
  const res = await fetch(`${base}/fhir`, { method: 'POST', headers: await headers(), body: JSON.stringify(bundle) });
  const out = (await res.json()) as Bundle;
  if (!res.ok) throw new Error(`load failed: ${res.status} ${JSON.stringify(out).slice(0, 300)}`);
  return out;
}

/** EXPLAIN ANALYZE of the count and page queries of a few scenarios, captured from a real request. */
async function explainQueries(base: string, headers: Headers, db: Db, log: Recorded, scenarios: Scenario[], size: number): Promise<string> {
  const out: string[] = [`EXPLAIN ANALYZE at ${size} patients (${db.kind})`];
  await new Promise((r) => setTimeout(r, 3000)); // requests autocannon left in flight finish first
  for (const s of scenarios.filter((x) => /^(token code=8867-4 \(|date range \(latest|chained)/.test(x.name))) {
    log.queries = [];
    log.on = true;
    await fetch(`${base}${s.path(1)}`, { headers: await headers() });
    log.on = false;
    for (const q of log.queries.filter((x) => /FROM resources r WHERE/.test(x.text) && /^SELECT (count|r\.resource_type)/.test(x.text))) {
      const plan = await db.query<Record<string, string>>(`EXPLAIN (ANALYZE, COSTS OFF, BUFFERS OFF) ${q.text}`, q.params);
      out.push('', `-- ${s.name}: ${q.text.startsWith('SELECT count') ? 'count' : 'page'} query`, ...plan.map((row) => Object.values(row)[0]!));
    }
  }
  return out.join('\n');
}

// Standalone: `npx tsx bench/search.ts`.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { rows, explain } = await runSearchBench();
  printTable(`${process.env.DATABASE_URL ? 'postgres' : 'pglite'} (search)`, rows);
  console.log(`\n\`\`\`\n${explain}\n\`\`\``);
}
