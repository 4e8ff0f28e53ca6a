/**
 * All cores (issue 11 item 5): servers started at the same moment on one PostgreSQL both come up
 * (migrations are serialised) and behave as one server, and `WORKERS=2` runs two processes that
 * share the port. Real processes over a fresh database; PostgreSQL only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import pg from 'pg';

const PG_URL = process.env.DATABASE_URL && /^postgres(ql)?:\/\//.test(process.env.DATABASE_URL) ? process.env.DATABASE_URL : null;
const ROOT = path.resolve(import.meta.dirname, '../..');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

interface Running {
  child: ChildProcess;
  base: string;
  log: () => string;
}

async function start(url: string, env: Record<string, string>): Promise<Running> {
  const port = await freePort();
  const devIdp = await freePort();
  let out = '';
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/main.ts')], {
    cwd: ROOT,
    // Stand-in ports well away from each other: two servers in development each start their own.
    env: { ...process.env, DATABASE_URL: url, PORT: String(port), DEV_IDP_PORT: String(devIdp), LOG_LEVEL: 'info', DEV_SYSTEM_CLIENT_SECRET: 'workers-test-secret', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, base: `http://localhost:${port}`, log: () => out };
}

async function ready(r: Running, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (r.child.exitCode !== null) throw new Error(`server exited with ${r.child.exitCode}: ${r.log().slice(-2000)}`);
    const ok = await fetch(`${r.base}/readyz`).then((res) => res.ok, () => false);
    if (ok) return;
    await new Promise((res) => setTimeout(res, 250));
  }
  throw new Error(`server not ready in ${timeoutMs} ms: ${r.log().slice(-2000)}`);
}

async function stop(r: Running): Promise<number | null> {
  if (r.child.exitCode !== null) return r.child.exitCode;
  const exited = new Promise<number | null>((resolve) => r.child.once('exit', (code) => resolve(code)));
  r.child.kill('SIGTERM');
  return exited;
}

async function systemToken(base: string): Promise<string> {
  const res = await fetch(`${base}/auth/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from('dev-system:workers-test-secret').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&scope=system/*.cruds',
  });
  expect(res.status, await res.clone().text()).to.equal(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

describe('several server processes over one PostgreSQL (issue 11 item 5)', function () {
  this.timeout(180_000);
  let dbName: string;
  let dbUrl: string;
  const running: Running[] = [];

  before(async function () {
    // PGlite is an in-process database: one process by design (README, Decisions).
    if (!PG_URL) this.skip();
    dbName = `workers_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: PG_URL! });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const u = new URL(PG_URL!);
    u.pathname = `/${dbName}`;
    dbUrl = u.toString();
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map(stop));
  });

  after(async () => {
    if (!PG_URL) return;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  });

  it('two servers started at the same moment on an empty database both come up and act as one', async () => {
    // Behind one load balancer both answer for the same public URL, so tokens carry one issuer.
    const shared = { WORKERS: '1', BASE_URL: 'https://helsebro.example', ALLOW_DEV_ON_NETWORK: '1' };
    const a = await start(dbUrl, shared);
    const b = await start(dbUrl, shared);
    running.push(a, b);
    await Promise.all([ready(a), ready(b)]);
    const token = await systemToken(a.base);
    const created = await fetch(`${a.base}/fhir/Patient`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Samtidig' }] }),
    });
    expect(created.status).to.equal(201);
    const { id } = (await created.json()) as { id: string };
    // A token issued by one process is honoured by the other, and it reads what the first wrote.
    const read = await fetch(`${b.base}/fhir/Patient/${id}`, { headers: { authorization: `Bearer ${token}` } });
    expect(read.status).to.equal(200);
    expect(((await read.json()) as { name: Array<{ family: string }> }).name[0]!.family).to.equal('Samtidig');
  });

  it('WORKERS=2 runs two processes on one port, serves every request, and stops cleanly on SIGTERM', async () => {
    const s = await start(dbUrl, { WORKERS: '2' });
    running.push(s);
    await ready(s);
    const token = await systemToken(s.base);
    const statuses = await Promise.all(
      Array.from({ length: 40 }, () => fetch(`${s.base}/fhir/Patient?_count=1`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status)),
    );
    expect(new Set(statuses)).to.deep.equal(new Set([200]));
    const until = Date.now() + 30_000;
    while ((s.log().match(/"msg":"listening"/g) ?? []).length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    expect((s.log().match(/"msg":"listening"/g) ?? []).length).to.equal(2);
    running.splice(running.indexOf(s), 1);
    expect(await stop(s)).to.equal(0);
  });
});
