/**
 * The reliability suite's tools (issue 17): real helsebro servers as child processes
 * (`node dist/main.js`), fresh databases per scenario (a PGlite folder, or a new database on the
 * PostgreSQL server of DATABASE_URL), a keep-alive HTTP client with a system token, and checks.
 * All traffic stays on loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Resource } from 'fhir/r4';
import pg from 'pg';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import type { DatabaseTarget } from '../../src/config/config.js';
import { openDatabase } from '../../src/db/open.js';
import { createRepository } from '../../src/server.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const SECRET = 'reliability-secret';
export const FHIR = 'application/fhir+json';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Store {
  /** DATABASE_URL for the server. */
  url: string;
  target: DatabaseTarget;
  drop(): Promise<void>;
}

/** A fresh, primed database: one resource in it, so the development server loads no demo data. */
export async function freshStore(mode: 'pglite' | 'postgres', baseUrl?: string): Promise<Store> {
  let store: Store;
  if (mode === 'pglite') {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'helsebro-rel-')), 'data');
    store = { url: `pglite://${dir}`, target: { kind: 'pglite', dataDir: dir }, drop: async () => fs.rmSync(path.dirname(dir), { recursive: true, force: true }) };
  } else {
    const name = `rel_${randomBytes(5).toString('hex')}`;
    await adminQuery(baseUrl!, `CREATE DATABASE ${name}`);
    const url = withDatabase(baseUrl!, name);
    store = { url, target: { kind: 'postgres', url }, drop: () => adminQuery(baseUrl!, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined) };
  }
  const db = await openDatabase(store.target);
  await createRepository(db).create({ resourceType: 'Organization', name: 'reliability primer' }, SYSTEM_ACCESS);
  await db.close();
  return store;
}

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Server {
  child: ChildProcess;
  base: string;
  port: number;
  exited: Promise<number | null>;
  exitCode(): number | null | undefined;
  output(): string;
  /** With `probe: true`: memory after a full GC and event-loop delay since the last probe (probe.mjs). */
  probe?(): Promise<ProbeSample>;
}

export interface ProbeSample {
  at: number;
  rss: number;
  heapUsed: number;
  external: number;
  /**
   * Event-loop delay in ms since the previous probe (monitorEventLoopDelay, 10 ms resolution), and
   * the shares of that time the main thread ran on a CPU and waited, runnable, for one.
   */
  eld: { p99: number; max: number; mean: number; cpuShare: number; waitShare: number };
}

/**
 * CPU time of a process's main thread (the event loop) and the time it spent runnable but waiting
 * for a CPU (Linux /proc/<pid>/schedstat; zeros elsewhere). The wait is what a loaded machine adds
 * to every wall-clock bound, so the suite reports it next to each timing it checks.
 */
export function schedOf(pid: number): { cpuMs: number; waitMs: number } {
  try {
    const [run, wait] = fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ').map(Number);
    return { cpuMs: Math.round(run! / 1e6), waitMs: Math.round(wait! / 1e6) };
  } catch {
    return { cpuMs: 0, waitMs: 0 };
  }
}

/** Starts `node dist/main.js` on the store; resolves when /readyz answers 200 (or rejects). */
export async function startServer(store: Store, opts: { port?: number; readyWithinMs?: number; env?: Record<string, string>; probe?: boolean } = {}): Promise<Server & { readyMs: number; readySched: { cpuMs: number; waitMs: number } }> {
  const port = opts.port ?? (await freePort());
  const probeFile = opts.probe ? path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'helsebro-probe-')), 'probe.jsonl') : undefined;
  const nodeArgs = probeFile ? ['--expose-gc', '--import', path.join(ROOT, 'test/reliability/probe.mjs')] : [];
  const started = Date.now();
  const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'dist/main.js')], {
    cwd: ROOT,
    // One server process (RELIABILITY_WORKERS to change it): the pid the faults kill is the one serving;
    // several processes over one database are tested in test/db/workers.test.ts.
    env: { ...process.env, PORT: String(port), DEV_IDP_PORT: '0', DATABASE_URL: store.url, NODE_ENV: 'development', DEV_SYSTEM_CLIENT_SECRET: SECRET, LOG_LEVEL: 'warn', ACCESS_TOKEN_TTL: '3600', WORKERS: process.env.RELIABILITY_WORKERS ?? '1', ...(probeFile ? { RELIABILITY_PROBE_FILE: probeFile } : {}), ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  let code: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c, signal) => resolve((code = c ?? (signal ? -1 : null)))));
  if (probeFile) child.once('exit', () => fs.rmSync(path.dirname(probeFile), { recursive: true, force: true }));
  const server: Server = { child, port, base: `http://127.0.0.1:${port}`, exited, exitCode: () => code, output: () => out };
  if (probeFile) {
    server.probe = async () => {
      const lines = () => (fs.existsSync(probeFile) ? fs.readFileSync(probeFile, 'utf8').trim().split('\n').filter(Boolean) : []);
      const before = lines().length;
      child.kill('SIGUSR2');
      for (const until = Date.now() + 30_000; Date.now() < until; await sleep(50)) {
        const now = lines();
        if (now.length > before) return JSON.parse(now[now.length - 1]!) as ProbeSample;
      }
      throw new Error('the server did not answer the memory probe within 30 s');
    };
  }
  const limit = opts.readyWithinMs ?? 90_000; // a bound for a loaded machine; "ready ≤ 5 s after restart" is checked separately
  // Last seen CPU time and CPU wait of the main thread: /proc/<pid> is gone once it exits.
  let sched = schedOf(child.pid!);
  while (Date.now() - started < limit) {
    if (code !== undefined) throw new Error(`server exited with ${code} before ready (main thread last seen ${sched.cpuMs} ms on a CPU, ${sched.waitMs} ms waiting for one): ${out.slice(-2000)}`);
    const now = schedOf(child.pid!);
    if (now.cpuMs + now.waitMs > 0) sched = now;
    const ok = await fetch(`${server.base}/readyz`).then((r) => r.ok, () => false);
    if (ok) return { ...server, readyMs: Date.now() - started, readySched: schedOf(child.pid!) };
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`server not ready within ${limit} ms: ${out.slice(-2000)}`);
}

export async function stopServer(server: Server, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (server.exitCode() === undefined) server.child.kill(signal);
  return server.exited;
}

export async function systemToken(base: string): Promise<string> {
  const res = await fetch(`${base}/auth/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`dev-system:${SECRET}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&scope=system/*.*',
  });
  if (!res.ok) throw new Error(`token refused: ${res.status}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

export interface Reply {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- FHIR JSON of any shape, checked by the scenario
  headers: Headers;
  ms: number;
  /** Network failure instead of an HTTP answer (ECONNRESET, ECONNREFUSED …). */
  error?: string;
}

/** One FHIR call; never throws: a network failure is a Reply with `error` and status 0. */
export async function call(base: string, token: string, method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const t0 = performance.now();
  try {
    const res = await fetch(`${base}/fhir/${url}`, {
      method,
      headers: { authorization: `Bearer ${token}`, accept: FHIR, ...(body !== undefined ? { 'content-type': FHIR } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers, ms: performance.now() - t0 };
  } catch (err) {
    // undici says for some socket failures what the connection had carried: bytes read before the
    // failure mean a reused keep-alive connection (a close racing a reuse), none a fresh one.
    const e = err as Error & { cause?: { code?: string; message?: string; socket?: { bytesRead?: number; bytesWritten?: number } } };
    const socket = e.cause?.socket;
    const carried = socket?.bytesRead !== undefined ? ` (connection had read ${socket.bytesRead} and written ${socket.bytesWritten} bytes)` : '';
    return { status: 0, body: undefined, headers: new Headers(), ms: performance.now() - t0, error: `${e.cause?.code ?? e.cause?.message ?? e.message}${carried}` };
  }
}

/** Canonical JSON: keys sorted at every level, so equal content gives equal text. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(value);
}

export const tagged = (resource: Resource, tag: string): Resource => ({ ...resource, meta: { tag: [{ system: 'urn:reliability', code: tag }] } });

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** A check: collects failures instead of stopping at the first, so a report says everything. */
export class Checks {
  readonly failures: string[] = [];
  that(ok: boolean, message: string): void {
    if (!ok) this.failures.push(message);
  }
}
