/**
 * `npm run bench` (issue 11 §8): helsebro runs as users run it — `node dist/main.js` in its own
 * process (WORKERS processes on PostgreSQL), on a fresh database — and this process drives it with
 * autocannon over loopback, with real tokens: a citizen's and a proxy's from the SMART launch through
 * the login stand-in (terms, picker, consent), the system client's from the token endpoint. Beside every
 * row it prints a *ceiling*: bench/ceiling.ts, a minimal Express + pg server running the same SQL shape
 * on the same data, measured in the same run, and the ratio. Figures come from here, never from tests.
 *
 *   npm run bench                                   # PGlite in a temporary folder
 *   DATABASE_URL=postgres://… npm run bench         # a fresh database on that server, dropped afterwards
 *   BENCH_QUICK=1 npm run bench                     # small data, 3 s rows: a smoke run
 *   BENCH_SECONDS=10 BENCH_PATIENTS=1000 BENCH_OBS=50 BENCH_CONNECTIONS=1,32 npm run bench
 *   BENCH_ONLY=read,search npm run bench            # rows whose name contains one of these words
 *   BENCH_SEARCH=1 npm run bench                    # also the in-process search rounds (bench/search.ts)
 *   BENCH_PROFILE=/tmp/prof npm run bench           # helsebro's processes write V8 CPU profiles there (node --cpu-prof)
 *
 * Beside the rates it prints the server's CPU time per request (every process of the server, read from
 * /proc on Linux): unlike a rate on a shared machine it hardly depends on what else runs, so the CPU
 * ratio to the ceiling says where helsebro stands even when the machine is loaded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';
import type { AuthTestServer } from '../test/auth/support.js';
import { exchange, launch } from '../test/auth/support.js';
import { syntheticSamples } from './bridges.js';
import { runSearchBench } from './search.js';
import { observation, observationBundle, obtainSystemToken, patientBundle, PATIENT_FNR, printTable, type BenchRow } from './support.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const QUICK = process.env.BENCH_QUICK === '1';
const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 3 : 10));
const PATIENTS = Number(process.env.BENCH_PATIENTS ?? (QUICK ? 20 : 1000));
const OBS_PER_PATIENT = Number(process.env.BENCH_OBS ?? (QUICK ? 20 : 50));
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? '1,32').split(',').map(Number);
const ONLY = process.env.BENCH_ONLY?.split(',').filter(Boolean) ?? [];
const SAMPLES = 1000;

/** The demo population's citizen and one of her proxies (fixtures/README.md): the logins the bench uses. */
const KARI = { pid: '12847502159', patient: 'kari-nordmann' };
const OLA_PROXY_FOR_KARI = { pid: '03897302801', patient: 'kari-nordmann' };
const APP_REDIRECT = 'http://localhost:9/bench/callback';
const APP_SCOPE = 'launch/patient openid fhirUser patient/*.rs patient/Observation.c';

type Who = 'patient' | 'proxy' | 'system' | `pusher${number}`;
/** Citizens pushing at once in the push row: one per connection, as many phones syncing (issue 11 "push ≥ 5,000 samples/s"). */
const PUSHERS = 4;
interface Scenario {
  name: string;
  who: Who;
  unit: string;
  /** Resources (or samples) per request. */
  per: number;
  /** Fewer connections than BENCH_CONNECTIONS where more would only queue on one record. */
  maxConnections?: number;
  /** Request i; `conn` is the connection sending it (fixed-count rows only), for rows with a login per connection. */
  request: (i: number, conn: number) => { method: 'GET' | 'POST'; path: string; body?: string; who?: Who };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Starts a child and resolves once `ready()` says so; its output goes to a log file (shown on failure). */
async function startChild(name: string, args: string[], env: NodeJS.ProcessEnv, ready: () => Promise<boolean>, logFile: string): Promise<ChildProcess> {
  const out = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', out, out] });
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}):\n${fs.readFileSync(logFile, 'utf8').slice(-3000)}`);
    if (await ready().catch(() => false)) return child;
    await new Promise((r) => setTimeout(r, 250));
  }
  child.kill('SIGKILL');
  throw new Error(`${name} did not become ready:\n${fs.readFileSync(logFile, 'utf8').slice(-3000)}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  // A child ended by a signal has no exit code: waiting for its 'exit' again would leave nothing in the
  // event loop, and Node would end the bench silently before the table.
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

/** A fresh database: a new PostgreSQL database on the server in DATABASE_URL, or a PGlite folder. */
async function freshDatabase(tmp: string): Promise<{ kind: 'postgres' | 'pglite'; url: string; drop: () => Promise<void> }> {
  const url = process.env.DATABASE_URL;
  if (!url || !/^postgres(ql)?:\/\//.test(url)) {
    return { kind: 'pglite', url: `pglite://${path.join(tmp, 'data')}`, drop: async () => undefined };
  }
  const name = `helsebro_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(url);
  u.pathname = `/${name}`;
  return {
    kind: 'postgres',
    url: u.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** A citizen-side token through the real SMART launch (login stand-in, terms, picker, consent). */
async function launchToken(s: Pick<AuthTestServer, 'baseUrl' | 'fhirBase'>, clientId: string, pid: string, patient?: string): Promise<string> {
  const r = await launch(s as AuthTestServer, { clientId, pid, scope: APP_SCOPE, redirectUri: APP_REDIRECT, ...(patient ? { patient } : {}) });
  const t = await exchange(s as AuthTestServer, clientId, r, APP_REDIRECT);
  if (t.status !== 200) throw new Error(`token for ${pid} failed: ${t.status} ${JSON.stringify(t.body)}`);
  return t.body.access_token as string;
}

interface Measured {
  rate: number;
  p50: number;
  p99: number;
  errors: string;
  /** CPU milliseconds the server's processes spent per request (null where /proc is not readable). */
  cpuPerRequest: number | null;
}

const CLOCK_TICKS = 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on Linux

/** CPU time (ms) of a process and every process below it (cluster workers), from /proc; null elsewhere. */
function treeCpuMs(root: number | undefined): number | null {
  if (!root || process.platform !== 'linux') return null;
  try {
    const stats = new Map<number, { ppid: number; ticks: number }>();
    for (const name of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      let text: string;
      try {
        text = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      } catch {
        continue; // ended meanwhile
      }
      // Fields after the command name (which may hold spaces) start at field 3: state, ppid, …, utime (14), stime (15).
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(name), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
    }
    let ticks = 0;
    const walk = (pid: number) => {
      ticks += stats.get(pid)?.ticks ?? 0;
      for (const [child, st] of stats) if (st.ppid === pid) walk(child);
    };
    walk(root);
    return (ticks * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

async function measure(base: string, s: Scenario, connections: number, tokens: Record<Who, string> | null, pid: number | undefined): Promise<Measured> {
  let n = 0;
  const headers: Record<string, string> = { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' };
  if (tokens) headers.authorization = `Bearer ${tokens[s.who]}`;
  // One probe first: a row that only measures refusals says why, once.
  const probe = s.request(n++, 0);
  const answer = await fetch(`${base}${probe.path}`, { method: probe.method, headers: withWho(headers, tokens, probe.who), ...(probe.body ? { body: probe.body } : {}) });
  if (!answer.ok) process.stderr.write(`bench: ${s.name} answers ${answer.status}: ${(await answer.text()).slice(0, 400)}\n`);
  else await answer.arrayBuffer();
  const cpuBefore = treeCpuMs(pid);
  // A heavy write (a Bundle of 100, a push of 1,000) takes longer than autocannon's one-second tick, which
  // rounds a short run's duration up (4 transactions in 0.25 s read as 400 resources/s, whatever the
  // server): those rows run a fixed number of requests from this process's own clock instead.
  const r = s.per > 1 ? await fixedCount(base, s, connections, headers, tokens, () => n++) : await timed(base, s, connections, headers, () => n++);
  const cpuAfter = treeCpuMs(pid);
  const cpuPerRequest = cpuBefore !== null && cpuAfter !== null && r.total > 0 ? (cpuAfter - cpuBefore) / r.total : null;
  return { rate: (r.total / Math.max(r.seconds, 0.001)) * s.per, p50: r.p50, p99: r.p99, errors: r.errors, cpuPerRequest };
}

interface Run { total: number; seconds: number; p50: number; p99: number; errors: string }

/** A row measured by autocannon for SECONDS. */
async function timed(base: string, s: Scenario, connections: number, headers: Record<string, string>, next: () => number): Promise<Run> {
  const r = await autocannon({ url: base, connections, duration: SECONDS, timeout: 120, headers, requests: [{ setupRequest: (req) => ({ ...req, ...s.request(next(), 0) }) }] });
  const errors = r.non2xx === 0 && r.errors === 0 && r.timeouts === 0 ? '' : `${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`;
  return { total: r.requests.total, seconds: r.duration, p50: r.latency.p50, p99: r.latency.p99, errors };
}

/** A row of `max(3 × connections, 12)` requests, `connections` at a time, timed by this process's clock. */
/** The headers of a request sent as `who` (the row's own login when the request names none; no login for the ceiling). */
function withWho(headers: Record<string, string>, tokens: Record<Who, string> | null, who: Who | undefined): Record<string, string> {
  return tokens && who ? { ...headers, authorization: `Bearer ${tokens[who]}` } : headers;
}

async function fixedCount(base: string, s: Scenario, connections: number, headers: Record<string, string>, tokens: Record<Who, string> | null, next: () => number): Promise<Run> {
  const count = Math.max(3 * connections, 12);
  const latencies: number[] = [];
  let started = 0;
  let failed = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async (_, conn) => {
      while (started < count) {
        started++;
        const q = s.request(next(), conn);
        const t = performance.now();
        const answer = await fetch(`${base}${q.path}`, { method: q.method, headers: withWho(headers, tokens, q.who), ...(q.body ? { body: q.body } : {}) }).catch(() => null);
        if (!answer?.ok) failed++;
        await answer?.arrayBuffer();
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0);
  return { total: latencies.length - failed, seconds, p50: at(0.5), p99: at(0.99), errors: failed ? `${failed} failed` : '' };
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'helsebro-bench-'));
  const logFile = path.join(tmp, 'server.log');
  const db = await freshDatabase(tmp);
  const workers = db.kind === 'pglite' ? 1 : Number(process.env.WORKERS ?? os.cpus().length);
  process.stderr.write(`bench: ${db.kind}, ${workers} worker(s), ${PATIENTS} patients × ${OBS_PER_PATIENT} observations, ${SECONDS} s per row; logs in ${logFile}\n`);

  // helsebro as `npm start` runs it: the compiled server, its own process(es).
  await new Promise<void>((resolve, reject) => {
    const b = spawn(process.execPath, ['src/cli/build-if-stale.mjs'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    b.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`build failed (${code})`))));
  });
  const port = await freePort();
  const base = `http://localhost:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // Development mode only for the login stand-in the citizen tokens come from (and the dev-system
    // client); the request path is the production one. Logs at warn, as a production server would.
    NODE_ENV: 'development',
    DATABASE_URL: db.url,
    PORT: String(port),
    DEV_IDP_PORT: String(await freePort()),
    WORKERS: String(workers),
    LOG_LEVEL: 'warn',
    ACCESS_TOKEN_TTL: '3600',
    // The machine is shared: at load averages of 20 the demo seed's transaction sat idle past the
    // default 10 s idle-in-transaction deadline (DB_TIMEOUT_MS × 2) and the server did not start.
    DB_TIMEOUT_MS: process.env.DB_TIMEOUT_MS ?? '60000',
  };
  let server: ChildProcess | undefined;
  let rows: BenchRow[];
  try {
    // BENCH_PROFILE: every process of the server (cluster workers inherit the flags) writes a V8 CPU profile on exit.
    const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_PROFILE)}`] : [];
    server = await startChild('helsebro', [...profile, 'dist/main.js'], env, async () => (await fetch(`${base}/readyz`)).ok, logFile);
    const system = await obtainSystemToken(base, 'dev-system-secret');
    const sys = { authorization: `Bearer ${system}`, 'content-type': 'application/fhir+json' };
    const post = async (p: string, body: unknown) => {
      const res = await fetch(`${base}${p}`, { method: 'POST', headers: sys, body: JSON.stringify(body) });
      if (!res.ok) throw new Error(`POST ${p}: ${res.status} ${(await res.text()).slice(0, 500)}`);
      return res.json() as Promise<{ entry: Array<{ resource?: { id: string }; response?: { location?: string } }> }>;
    };
    const patientIds: string[] = [];
    for (let i = 0; i < PATIENTS; i += 50) {
      const out = await post('/fhir', patientBundle(i, Math.min(50, PATIENTS - i)));
      patientIds.push(...out.entry.map((e) => e.resource?.id ?? e.response!.location!.split('/')[1]!));
      process.stderr.write(`\rbench: patients ${patientIds.length}/${PATIENTS}`);
    }
    for (const [i, id] of patientIds.entries()) {
      await post('/fhir', observationBundle(id, OBS_PER_PATIENT));
      if (i % 10 === 0) process.stderr.write(`\rbench: observations for ${i + 1}/${patientIds.length} patients   `);
    }
    // Kari's own record gets the same number of Observations: the rows that read and search it.
    const kari = await post('/fhir', observationBundle(KARI.patient, Math.max(OBS_PER_PATIENT, 20)));
    const kariObs = kari.entry.map((e) => e.resource?.id ?? e.response!.location!.split('/')[1]!);
    if (db.kind === 'postgres') {
      // The planner statistics a running server has (autovacuum analyses tables as they fill); without
      // them a freshly loaded database plans `patient&code` by guesswork (docs/bench.md, w8-search).
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      await c.query('ANALYZE');
      await c.end();
    }
    process.stderr.write('\nbench: tokens through the SMART launch\n');

    const reg = await fetch(`${base}/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Bench app', redirect_uris: [APP_REDIRECT], token_endpoint_auth_method: 'none', scope: APP_SCOPE }),
    });
    if (reg.status !== 201) throw new Error(`registration failed: ${reg.status} ${await reg.text()}`);
    const { client_id: clientId } = (await reg.json()) as { client_id: string };
    const s = { baseUrl: base, fhirBase: `${base}/fhir` };
    const tokens: Record<Who, string> = {
      patient: await launchToken(s, clientId, KARI.pid),
      proxy: await launchToken(s, clientId, OLA_PROXY_FOR_KARI.pid, OLA_PROXY_FOR_KARI.patient),
      system,
    };
    // Pushes go to other citizens' records (the first bench patients, one per connection: one citizen's
    // pushes queue on their record for sample de-duplication, many phones syncing at once do not), so
    // Kari's record, which the read rows use, is the same for helsebro and for the ceiling.
    for (let k = 0; k < PUSHERS; k++) tokens[`pusher${k}`] = await launchToken(s, clientId, PATIENT_FNR(k));
    const code = 'http://loinc.org|8867-4';
    const all: Scenario[] = [
      { name: 'read Observation by id, patient token', who: 'patient', unit: 'req/s', per: 1, request: (i) => ({ method: 'GET', path: `/fhir/Observation/${kariObs[i % kariObs.length]}` }) },
      { name: 'read Observation by id, proxy token', who: 'proxy', unit: 'req/s', per: 1, request: (i) => ({ method: 'GET', path: `/fhir/Observation/${kariObs[i % kariObs.length]}` }) },
      { name: 'compartment search Patient/{id}/Observation (20 hits), patient token', who: 'patient', unit: 'req/s', per: 1, request: () => ({ method: 'GET', path: `/fhir/Patient/${KARI.patient}/Observation?_count=20` }) },
      { name: 'search Observation?patient&code, proxy token', who: 'proxy', unit: 'req/s', per: 1, request: () => ({ method: 'GET', path: `/fhir/Observation?patient=${KARI.patient}&code=${encodeURIComponent(code)}` }) },
      { name: 'search AuditEvent?patient, patient token', who: 'patient', unit: 'req/s', per: 1, request: () => ({ method: 'GET', path: `/fhir/AuditEvent?patient=${KARI.patient}` }) },
      { name: 'create Observation, system client', who: 'system', unit: 'req/s', per: 1, request: (i) => ({ method: 'POST', path: '/fhir/Observation', body: JSON.stringify(observation(patientIds[1 + (i % (patientIds.length - 1))]!, i)) }) },
      { name: 'transaction of 100 Observations, system client', who: 'system', unit: 'resources/s', per: 100, request: (i) => ({ method: 'POST', path: '/fhir', body: JSON.stringify(observationBundle(patientIds[1 + (i % (patientIds.length - 1))]!, 100)) }) },
      { name: `HealthKit push of ${SAMPLES} samples, patient token, a citizen per connection`, who: 'pusher0', unit: 'samples/s', per: SAMPLES, maxConnections: PUSHERS, request: (_, conn) => ({ method: 'POST', path: `/bridges/healthkit?patient=${patientIds[conn]!}`, body: JSON.stringify({ samples: syntheticSamples(SAMPLES) }), who: `pusher${conn}` }) },
    ];
    const scenarios = all.filter((x) => ONLY.length === 0 || ONLY.some((w) => x.name.toLowerCase().includes(w.toLowerCase())));

    const results = new Map<string, { server?: Measured; ceiling?: Measured }>();
    const key = (sc: Scenario, c: number) => `${sc.name}|${c}`;
    // The push row has a citizen per connection, and PUSHERS logins.
    const connsOf = (sc: Scenario) => [...new Set(CONNECTIONS.map((c) => Math.min(c, sc.maxConnections ?? c)))];
    const cport = await freePort();
    const cbase = `http://127.0.0.1:${cport}`;
    let ceilingPid: number | undefined;
    const startCeiling = () => startChild('ceiling', ['--import', 'tsx', 'bench/ceiling.ts'], { ...env, PORT: String(cport) }, async () => (await fetch(`${cbase}/fhir/Observation/${kariObs[0]}`)).ok, logFile);
    const runServer = async (sc: Scenario, c: number) => {
      process.stderr.write(`bench: helsebro — ${sc.name}, ${c} conn\n`);
      results.set(key(sc, c), { ...results.get(key(sc, c)), server: await measure(base, sc, c, tokens, server?.pid) });
    };
    const runCeiling = async (sc: Scenario, c: number) => {
      process.stderr.write(`bench: ceiling — ${sc.name}, ${c} conn\n`);
      results.set(key(sc, c), { ...results.get(key(sc, c)), ceiling: await measure(cbase, sc, c, null, ceilingPid) });
    };
    if (db.kind === 'postgres') {
      // Both servers up at once, rows alternating: the machine's load (shared) is the same for a row and its ceiling.
      const ceiling = await startCeiling();
      ceilingPid = ceiling.pid;
      try {
        for (const sc of scenarios) for (const c of connsOf(sc)) {
          await runServer(sc, c);
          await runCeiling(sc, c);
        }
      } finally {
        await stopChild(ceiling);
      }
    } else {
      // PGlite has one owner at a time: every helsebro row, then the ceiling on the same folder.
      for (const sc of scenarios) for (const c of connsOf(sc)) await runServer(sc, c);
      await stopChild(server);
      const ceiling = await startCeiling();
      ceilingPid = ceiling.pid;
      try {
        for (const sc of scenarios) for (const c of connsOf(sc)) await runCeiling(sc, c);
      } finally {
        await stopChild(ceiling);
      }
    }
    rows = scenarios.flatMap((sc) =>
      connsOf(sc).map((c) => {
        const { server: m, ceiling: ce } = results.get(key(sc, c))!;
        const ratio = ce && ce.rate > 0 ? m!.rate / ce.rate : 0;
        return {
          name: `${sc.name} (${c} conn)`,
          rate: `${Math.round(m!.rate)} ${sc.unit}`,
          p50: `${m!.p50} ms`,
          p99: `${m!.p99} ms`,
          // The ceiling's own p99 beside its rate: a tail the minimal server shows too is the machine's, not helsebro's.
          ceiling: `${Math.round(ce!.rate)} ${sc.unit} (p99 ${ce!.p99} ms)`,
          ratio: `${ratio.toFixed(2)}×`,
          ...(m!.cpuPerRequest !== null && ce!.cpuPerRequest !== null
            ? { cpu: `${m!.cpuPerRequest.toFixed(2)} ms`, cpuRatio: `${(ce!.cpuPerRequest / Math.max(m!.cpuPerRequest, 1e-9)).toFixed(2)}×` }
            : {}),
          note: [m!.errors && `helsebro: ${m!.errors}`, ce!.errors && `ceiling: ${ce!.errors}`].filter(Boolean).join('; '),
        };
      }),
    );
  } finally {
    if (server) await stopChild(server);
    await db.drop();
  }
  const load = os.loadavg().map((x) => x.toFixed(1)).join(' ');
  printTable(`${db.kind}, ${workers} worker process(es), load average at the end ${load}`, rows);
  fs.rmSync(tmp, { recursive: true, force: true });

  // The search rounds grow their own database between rounds (bench/search.ts, in-process).
  if (process.env.BENCH_SEARCH === '1') {
    const search = await runSearchBench();
    printTable(`${db.kind}, search rounds (in-process)`, search.rows);
    console.log(`\n\`\`\`\n${search.explain}\n\`\`\``);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
