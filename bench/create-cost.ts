/**
 * What one create costs, measured in-process (issue 11 "create Observation, system client ≥ 0.4 ×
 * ceiling"): this process's CPU time per `POST /fhir/Observation` with the system client's token, the
 * SQL statements per create, and — on PostgreSQL, when its processes' /proc entries are readable — the
 * CPU the server's backends spent per create (parsing and planning a statement that is not prepared
 * shows there, not here), at 1 and BENCH_CREATE_CONCURRENCY requests in flight. A delete row follows
 * (statements and CPU per `DELETE /fhir/Observation/:id`). CPU/create stays meaningful on a loaded
 * machine where creates/s does not; with PGlite the database runs in this process, so its share is in
 * the figure.
 *
 *   npx tsx bench/create-cost.ts                                  # PGlite in memory
 *   DATABASE_URL=postgres://… npx tsx bench/create-cost.ts        # a throwaway schema on that server
 *   BENCH_CREATES=2000 BENCH_SQL=1 BENCH_PROFILE=/tmp/prof npx tsx bench/create-cost.ts
 *
 * BENCH_SQL=1 lists the statements with their count and time per create; BENCH_PROFILE=dir writes a
 * V8 CPU profile of the measured creates only.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Session } from 'node:inspector/promises';
import type { Patient } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../src/access/access-context.js';
import { getDevSystemToken, startAuthTestServer } from '../test/auth/support.js';
import { countStatements, type AroundStatement } from '../test/support/count-statements.js';
import { observation } from './support.js';

const CREATES = Number(process.env.BENCH_CREATES ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CREATE_CONCURRENCY ?? 32);

const timeOf = new Map<string, number>();
const timed: AroundStatement = async (t, running) => {
  const t0 = performance.now();
  try {
    return await running;
  } finally {
    const k = t.slice(0, 120);
    timeOf.set(k, (timeOf.get(k) ?? 0) + performance.now() - t0);
  }
};

const s = await startAuthTestServer();
const token = await getDevSystemToken(s.baseUrl);
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json', accept: 'application/fhir+json' };
const patientId = (await s.repo.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Bench' }] }, SYSTEM_ACCESS)).resource.id!;
const created: string[] = [];

async function create(i: number): Promise<void> {
  const res = await fetch(`${s.fhirBase}/Observation`, { method: 'POST', headers, body: JSON.stringify(observation(patientId, i)) });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${await res.text()}`);
  created.push(((await res.json()) as { id: string }).id);
}

async function remove(i: number): Promise<void> {
  const res = await fetch(`${s.fhirBase}/Observation/${created[i]}`, { method: 'DELETE', headers });
  if (res.status !== 200 && res.status !== 204) throw new Error(`delete failed: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
}

async function run(op: (i: number) => Promise<void>, from: number, n: number, concurrency: number): Promise<void> {
  let next = from;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < from + n) await op(next++);
  }));
}

/** The PostgreSQL backends of the pool (every connection it holds once `CONCURRENCY` transactions overlap). */
async function backendPids(): Promise<number[]> {
  if (s.db.kind !== 'postgres') return [];
  const pids = new Set<number>();
  await Promise.all(Array.from({ length: 40 }, () => s.db.transaction(async (tx) => {
    const [row] = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    pids.add(row!.pid);
    await new Promise((r) => setTimeout(r, 200));
  })));
  return [...pids];
}

/** CPU ms of the given processes (utime + stime from /proc), or null where unreadable. */
function cpuOf(pids: readonly number[]): number | null {
  if (pids.length === 0) return null;
  let ticks = 0;
  let read = 0;
  for (const pid of pids) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // a connection the pool closed meanwhile (idle timeout): its CPU is lost to the figure
    }
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    ticks += Number(f[11]) + Number(f[12]);
    read++;
  }
  return read > 0 ? ticks * 10 : null;
}

// Warm-up: JIT, prepared statements, token cache.
await run(create, 0, 300, 4);

const session = process.env.BENCH_PROFILE ? new Session() : null;
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
}
const counter = countStatements(s.db, timed);
async function measure(label: string, op: (i: number) => Promise<void>, from: number, n: number, c: number): Promise<void> {
  // The pool's backends now (it closes idle ones and opens new ones): a backend that exits during the row loses its share.
  const pids = await backendPids();
  counter.take();
  timeOf.clear();
  const db0 = cpuOf(pids);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run(op, from, n, c);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const db1 = cpuOf(pids);
  const sql = counter.take();
  const dbPart = db0 !== null && db1 !== null ? `, PostgreSQL backends ${((db1 - db0) / n).toFixed(2)} ms/op` : '';
  console.log(`${s.db.kind} ${label}, ${c} in flight: ${Math.round(n / (ms / 1000))}/s, CPU ${((cpu.user + cpu.system) / 1000 / n).toFixed(2)} ms/op${dbPart}, ${(sql.length / n).toFixed(2)} statements/op`);
  if (process.env.BENCH_SQL === '1') {
    const kinds = new Map<string, number>();
    for (const q of sql) kinds.set(q.slice(0, 120), (kinds.get(q.slice(0, 120)) ?? 0) + 1);
    for (const [q, k] of [...kinds].sort((a, b) => b[1] - a[1])) console.log(`  ${(k / n).toFixed(2).padStart(6)} × ${((timeOf.get(q) ?? 0) / k).toFixed(3).padStart(7)} ms  ${q}`);
  }
}
let at = 300;
for (const c of [1, CONCURRENCY]) {
  await measure('create Observation, system client', create, at, CREATES, c);
  at += CREATES;
}
await measure('delete Observation, system client', remove, 300, Math.min(CREATES, 500), 1);
counter.stop();
if (session) {
  const { profile } = await session.post('Profiler.stop');
  fs.mkdirSync(process.env.BENCH_PROFILE!, { recursive: true });
  const file = path.join(process.env.BENCH_PROFILE!, `create-${s.db.kind}-${Date.now()}.cpuprofile`);
  fs.writeFileSync(file, JSON.stringify(profile));
  console.log(`profile: ${file}`);
}
await s.close();
