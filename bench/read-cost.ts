/**
 * What one read by id costs, measured in-process (issue 11 "read by id ≥ 0.5 × ceiling"): this
 * process's CPU time per read, the SQL statements per read and the time each statement took, for a
 * patient token and a proxy token from the portal's SMART launch (test/access/world.ts), at 1 and
 * BENCH_READ_CONCURRENCY requests in flight. CPU/read stays meaningful on a loaded machine where
 * req/s does not; with PGlite the database runs in this process, so its share is in the figure.
 *
 *   npx tsx bench/read-cost.ts                                  # PGlite in memory
 *   DATABASE_URL=pglite:///tmp/rc npx tsx bench/read-cost.ts    # PGlite in a folder, as `npm start` runs it
 *   DATABASE_URL=postgres://… npx tsx bench/read-cost.ts        # a throwaway schema on that server
 *   BENCH_READS=2000 BENCH_SQL=1 BENCH_EXPLAIN=1 BENCH_PROFILE=/tmp/prof npx tsx bench/read-cost.ts
 *
 * Each row prints the reads' latency p50/p99; BENCH_LATENCY=1 adds where it goes: each read's wait for its
 * access-log row, the event-loop delay and the GC time per read (docs/bench.md "Read latency and cost per request").
 *
 * BENCH_SQL=1 lists the statements with their time per read; BENCH_EXPLAIN=1 prints the plan of
 * each distinct statement once, as it ran (EXPLAIN ANALYZE), BENCH_EXPLAIN=generic the generic plan of each search statement; BENCH_PROFILE=dir writes a V8 CPU
 * profile of the measured reads only.
 *
 * BENCH_DBCPU=1 (with PGAPPNAME set, PostgreSQL on this machine) adds the database backends' CPU per request.
 *
 * BENCH_ANALYZE=1 runs ANALYZE before measuring (the statistics autovacuum has after the bench's load).
 *
 * BENCH_OBSERVATIONS=n (default 100) sets how many of the citizen's own device readings exist (performer =
 * the citizen, the policy's "patient-generated" slice), the data a read's access check must not scale with.
 *
 * BENCH_SEARCH=1 measures the bench's compartment search instead (`Patient/{id}/Observation?_count=20`,
 * 20 hits, issue 11 "compartment search ≥ 0.5 × ceiling"), per search. Sent with
 * `Accept-Encoding: identity`, as autocannon in `npm run bench` sends no Accept-Encoding: the figure is
 * the server's work, not this process gunzipping the Bundle. BENCH_SEARCH=code measures the bench's
 * `Observation?patient={id}&code=http://loinc.org|8867-4` instead (every reading has that code: 20 hits).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { AccessLog } from '../src/audit/access-log.js';
import type { Observation } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../src/access/access-context.js';
import type { Row } from '../src/db/db.js';
import { countStatements, type AroundStatement } from '../test/support/count-statements.js';
import { buildWorld } from '../test/access/world.js';

const READS = Number(process.env.BENCH_READS ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_READ_CONCURRENCY ?? 32);
const OBSERVATIONS = Number(process.env.BENCH_OBSERVATIONS ?? 100);

const timeOf = new Map<string, number>();
const explained = new Set<string>();
let logInserts = 0;
let logRows = 0;
const timeAndExplain: AroundStatement = async (t, running, q, params) => {
  if (t.startsWith('INSERT INTO access_log')) {
    logInserts++;
    logRows += (JSON.parse(String(params?.[0])) as unknown[]).length;
  }
  const t0 = performance.now();
  let rows: Row[];
  try {
    rows = await running;
  } finally {
    const k = t.slice(0, 140);
    timeOf.set(k, (timeOf.get(k) ?? 0) + performance.now() - t0);
  }
  if (process.env.BENCH_DUMP && !explained.has('dump' + t.slice(0, 140))) {
    explained.add('dump' + t.slice(0, 140));
    fs.appendFileSync(process.env.BENCH_DUMP, JSON.stringify({ text: t, params }) + '\n');
  }
  if (process.env.BENCH_EXPLAIN === 'generic' && t.startsWith('WITH') && !explained.has(t.slice(0, 140))) {
    // The plan PostgreSQL uses for a prepared text once it settles on a generic one (no values known).
    explained.add(t.slice(0, 140));
    const literal = (v: unknown): string => v === null || v === undefined ? 'NULL' : typeof v === 'number' ? String(v)
      : `'${(Array.isArray(v) ? `{${v.map((x) => `"${String(x).replace(/["\\]/g, '\\$&')}"`).join(',')}}` : String(v)).replace(/'/g, "''")}'`;
    const plan = await w.s.db.transaction(async (tx) => {
      await tx.query('SET LOCAL plan_cache_mode = force_generic_plan');
      await tx.query(`PREPARE bench_generic AS ${t}`);
      const explainedPlan = await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, COSTS OFF) EXECUTE bench_generic(${(params ?? []).map(literal).join(', ')})`);
      await tx.query('DEALLOCATE bench_generic');
      return explainedPlan;
    });
    console.log(`\n(generic plan) ${t}\n${plan.map((r) => r['QUERY PLAN']).join('\n')}`);
  }
  if (process.env.BENCH_EXPLAIN === '1' && !explained.has(t.slice(0, 140))) {
    explained.add(t.slice(0, 140));
    const plan = await q.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, COSTS OFF) ${t}`, params);
    console.log(`\n${t}\n${plan.map((r) => r['QUERY PLAN']).join('\n')}`);
  }
  return rows;
};

const w = await buildWorld();
const ids: string[] = [];
for (let i = 0; i < OBSERVATIONS; i++) {
  const o: Observation = { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] }, subject: { reference: 'Patient/kari-nordmann' }, performer: [{ reference: 'Patient/kari-nordmann' }], valueQuantity: { value: 60 + (i % 30), unit: '/min' } };
  ids.push((await w.s.repo.create(o, SYSTEM_ACCESS)).resource.id!);
}

const CODE_SEARCH = process.env.BENCH_SEARCH === 'code';
const SEARCH = process.env.BENCH_SEARCH === '1' || CODE_SEARCH;
const WHAT = CODE_SEARCH ? 'Observation?patient&code (20 hits)' : SEARCH ? 'compartment search (20 hits)' : 'read by id';
const SEARCH_PATH = CODE_SEARCH ? `Observation?patient=kari-nordmann&code=${encodeURIComponent('http://loinc.org|8867-4')}` : 'Patient/kari-nordmann/Observation?_count=20';
const UNIT = SEARCH ? 'search' : 'read';
let latencies: number[] = [];
// Where a read's latency goes (BENCH_LATENCY=1): the wait for its access-log row, event-loop delay, GC pauses.
let logWaits: number[] = [];
let gcMs = 0;
let gcMax = 0;
let gcMajor = 0;
let gcMinor = 0;
const LATENCY = process.env.BENCH_LATENCY === '1';
if (LATENCY) {
  const recordRows = AccessLog.prototype.recordRows;
  AccessLog.prototype.recordRows = function (this: AccessLog, rows) {
    const t0 = performance.now();
    return recordRows.call(this, rows).finally(() => void logWaits.push(performance.now() - t0));
  };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcMs += e.duration;
      const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      if (kind === 1) gcMinor++;
      else gcMajor++;
      gcMax = Math.max(gcMax, e.duration);
    }
  }).observe({ entryTypes: ['gc'] });
}
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
async function read(token: string, i: number): Promise<void> {
  const started = performance.now();
  const res = SEARCH
    ? await fetch(`${w.s.fhirBase}/${SEARCH_PATH}`, { headers: { authorization: `Bearer ${token}`, 'accept-encoding': 'identity' } })
    : await fetch(`${w.s.fhirBase}/Observation/${ids[i % ids.length]}`, { headers: { authorization: `Bearer ${token}`, 'accept-encoding': 'identity' } });
  if (res.status !== 200) throw new Error(`read failed: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
  latencies.push(performance.now() - started);
}
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? 0;

async function run(token: string, n: number, concurrency: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) await read(token, next++);
  }));
}

// BENCH_ANALYZE=1: planner statistics as autovacuum leaves them after `npm run bench` loads its data.
if (process.env.BENCH_ANALYZE === '1') await w.s.db.query('ANALYZE');
// Warm-up: JIT, compiled access SQL, prepared statements, token caches.
for (const token of [w.tokens.self, w.tokens.standard]) await run(token, 300, 4);

const session = process.env.BENCH_PROFILE ? new Session() : null;
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
}
/**
 * BENCH_DBCPU=1 with PGAPPNAME=<a name of this run's own> on a PostgreSQL on this machine: the CPU the
 * database's backends for this process spent (/proc/<pid>/stat, 10 ms ticks), which the in-process
 * figure does not hold and which shares the bench's two cores with the server.
 */
const DBCPU = process.env.BENCH_DBCPU === '1' && w.s.db.kind === 'postgres' && Boolean(process.env.PGAPPNAME);
async function backendTicks(): Promise<Map<number, number>> {
  const ticks = new Map<number, number>();
  if (!DBCPU) return ticks;
  for (const { pid } of await w.s.db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [process.env.PGAPPNAME])) {
    try {
      const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks.set(pid, Number(f[11]) + Number(f[12]));
    } catch {
      // The backend ended meanwhile: its ticks are lost to the figure.
    }
  }
  return ticks;
}
const counter = countStatements(w.s.db, timeAndExplain);
for (const [who, token] of [['patient', w.tokens.self], ['proxy', w.tokens.standard]] as const) {
  for (const c of [1, CONCURRENCY]) {
    const db0 = await backendTicks();
    counter.take();
    timeOf.clear();
    logInserts = logRows = 0;
    latencies = [];
    logWaits = [];
    gcMs = gcMax = gcMajor = gcMinor = 0;
    loopDelay.reset();
    if (LATENCY) loopDelay.enable();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await run(token, READS, c);
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const sql = counter.take();
    const db1 = await backendTicks();
    const dbTicks = [...db1].reduce((sum, [pid, t]) => sum + t - (db0.get(pid) ?? 0), 0);
    console.log(`${w.s.db.kind} ${WHAT}, ${who} token, ${c} in flight: ${Math.round(READS / (ms / 1000))} req/s, CPU ${((cpu.user + cpu.system) / 1000 / READS).toFixed(2)} ms/${UNIT}, ${(sql.length / READS).toFixed(2)} statements/${UNIT}, ${(logRows / Math.max(1, logInserts)).toFixed(1)} rows per access-log insert, latency p50 ${pct(latencies, 0.5).toFixed(1)} ms p99 ${pct(latencies, 0.99).toFixed(1)} ms`);
    if (LATENCY) {
      loopDelay.disable();
      console.log(`  access-log wait p50 ${pct(logWaits, 0.5).toFixed(1)} ms p99 ${pct(logWaits, 0.99).toFixed(1)} ms; event-loop delay p50 ${(loopDelay.percentile(50) / 1e6).toFixed(1)} ms p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms max ${(loopDelay.max / 1e6).toFixed(1)} ms; GC ${(gcMs / READS).toFixed(3)} ms/${UNIT}, longest pause ${gcMax.toFixed(1)} ms, ${gcMinor} scavenges and ${gcMajor} other collections, heap ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB`);
    }
    if (DBCPU) console.log(`  database backends: CPU ${((dbTicks * 10) / READS).toFixed(2)} ms/${UNIT}`);
    if (process.env.BENCH_SQL === '1') {
      const kinds = new Map<string, number>();
      for (const s of sql) kinds.set(s.slice(0, 140), (kinds.get(s.slice(0, 140)) ?? 0) + 1);
      for (const [s, k] of [...kinds].sort((a, b) => b[1] - a[1])) console.log(`  ${(k / READS).toFixed(2).padStart(6)} × ${((timeOf.get(s) ?? 0) / k).toFixed(3).padStart(7)} ms  ${s}`);
    }
  }
}
counter.stop();
if (process.env.BENCH_PLANS === '1' && w.s.db.kind === 'postgres') {
  // Generic or custom plans for the prepared statements (a custom plan is planned on every execution).
  for (let i = 0; i < 3; i++) console.log(await w.s.db.query(`SELECT left(statement, 60) AS s, generic_plans, custom_plans FROM pg_prepared_statements`));
}
if (session) {
  const { profile } = await session.post('Profiler.stop');
  fs.mkdirSync(process.env.BENCH_PROFILE!, { recursive: true });
  const file = path.join(process.env.BENCH_PROFILE!, `${UNIT}-${w.s.db.kind}-${Date.now()}.cpuprofile`);
  fs.writeFileSync(file, JSON.stringify(profile));
  console.log(`profile: ${file}`);
}
await w.s.close();
