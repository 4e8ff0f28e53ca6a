/**
 * What one bridge push costs, measured in-process (issue 11 "HealthKit push ≥ 5,000 samples/s"):
 * wall time, this process's CPU time and the SQL statements per push of BENCH_PUSH_SAMPLES fresh
 * HealthKit samples, then of a re-push of the same samples. CPU/push and statements/push stay
 * meaningful on a loaded machine where samples/s does not. With BENCH_PROFILE=dir it writes a V8 CPU
 * profile of the measured pushes only (no start-up, no schema compilation).
 *
 *   npx tsx bench/push-cost.ts                          # PGlite in memory
 *   DATABASE_URL=postgres://… npx tsx bench/push-cost.ts # a throwaway schema on that server
 *   BENCH_PUSHES=5 BENCH_PUSH_SAMPLES=1000 BENCH_PROFILE=/tmp/prof npx tsx bench/push-cost.ts
 */
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Session } from 'node:inspector/promises';
import type { BridgeResponse } from '../src/bridges/router.js';
import type { Row } from '../src/db/db.js';
import { BRIDGE_SCOPE, createPatient, startBridgeServer, tokenFor } from '../test/bridges/http-support.js';
import { countStatements, type AroundStatement } from '../test/support/count-statements.js';
import { syntheticSamples } from './bridges.js';

/** Time per statement text (its first 110 characters); BENCH_EXPLAIN=prefix prints the plan of every statement starting with that text, as it ran. */
const timeOf = new Map<string, number>();
const timeAndExplain: AroundStatement = async (t, running, q, params) => {
  const t0 = performance.now();
  let rows: Row[];
  try {
    rows = await running;
  } finally {
    const k = t.slice(0, 110);
    timeOf.set(k, (timeOf.get(k) ?? 0) + performance.now() - t0);
  }
  const explain = process.env.BENCH_EXPLAIN;
  if (explain && t.startsWith(explain)) {
    const plan = await q.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, COSTS OFF) ${t}`, params);
    console.log(plan.map((r) => r['QUERY PLAN']).join('\n'));
  }
  return rows;
};

const PUSHES = Number(process.env.BENCH_PUSHES ?? 5);
const SAMPLES = Number(process.env.BENCH_PUSH_SAMPLES ?? 1000);

const server = await startBridgeServer();
const listener = server.app.listen(0);
const base = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
const patient = await createPatient(server, 'Bench');
const token = await tokenFor(server, patient, BRIDGE_SCOPE);

async function push(samples: unknown[]): Promise<BridgeResponse> {
  const res = await fetch(`${base}/bridges/healthkit`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ samples }) });
  if (!res.ok) throw new Error(`push failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as BridgeResponse;
}

// Warm-up: JIT, schema compilation, prepared statements, token cache.
await push(syntheticSamples(SAMPLES, Date.now() - 90 * 86_400_000));

const session = process.env.BENCH_PROFILE ? new Session() : null;
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
}
const counter = countStatements(server.db, timeAndExplain);
const measure = async (label: string, body: () => Promise<BridgeResponse>, n: number) => {
  counter.take();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let last: BridgeResponse | undefined;
  for (let i = 0; i < n; i++) last = await body();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const sql = counter.take();
  console.log(`${label}: ${Math.round((n * SAMPLES) / (ms / 1000))} samples/s, ${(ms / n).toFixed(0)} ms/push, CPU ${((cpu.user + cpu.system) / 1000 / n).toFixed(0)} ms/push, ${(sql.length / n).toFixed(1)} statements/push; last summary ${JSON.stringify(last!.summary)}`);
  if (process.env.BENCH_SQL === '1') {
    const kinds = new Map<string, number>();
    for (const s of sql) kinds.set(s.slice(0, 110), (kinds.get(s.slice(0, 110)) ?? 0) + 1);
    for (const [s, k] of [...kinds].sort((a, b) => b[1] - a[1])) console.log(`  ${(k / n).toFixed(1).padStart(7)} × ${((timeOf.get(s) ?? 0) / n).toFixed(0).padStart(6)} ms  ${s}`);
    timeOf.clear();
  }
};
let day = 0;
const fresh = () => syntheticSamples(SAMPLES, Date.now() - 60 * 86_400_000 + day++ * 86_400_000);
await measure(`${server.db.kind} fresh push of ${SAMPLES}`, () => push(fresh()), PUSHES);
const again = fresh();
await push(again);
await measure(`${server.db.kind} re-push of ${SAMPLES}`, () => push(again), Math.max(1, Math.ceil(PUSHES / 2)));
counter.stop();
if (session) {
  const { profile } = await session.post('Profiler.stop');
  fs.mkdirSync(process.env.BENCH_PROFILE!, { recursive: true });
  const file = path.join(process.env.BENCH_PROFILE!, `push-${server.db.kind}-${Date.now()}.cpuprofile`);
  fs.writeFileSync(file, JSON.stringify(profile));
  console.log(`profile: ${file}`);
}
// Close what was opened (the listener and its keep-alive connections, the server's workers, the database), so the bench exits.
await new Promise<void>((done) => {
  listener.close(() => done());
  listener.closeAllConnections();
});
await server.close();
