/**
 * Data scenarios (issue 17) against one running server: optimistic concurrency, conditional-create
 * storms, transaction atomicity, a soak, and backup/restore of a seeded database.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Bundle, BundleEntry, Patient } from 'fhir/r4';
import { openDatabase } from '../../src/db/open.js';
import { adminQuery, call, canonical, Checks, percentile, ROOT, sleep, tagged, withDatabase, type ProbeSample, type Reply, type Store } from './harness.js';

type Running = { base: string; token: string; pid: number; probe?: () => Promise<ProbeSample> };

const patient = (family: string): Patient => ({ resourceType: 'Patient', name: [{ family }] });

export async function optimisticConcurrency({ base, token }: Running): Promise<Checks> {
  const checks = new Checks();
  const fresh = async () => {
    const r = await call(base, token, 'POST', 'Patient', patient('Occ'));
    if (r.status !== 201) throw new Error(`creating the Patient to race on failed: ${r.status} ${r.error ?? JSON.stringify(r.body?.issue?.[0] ?? '')}`);
    return r.body.id as string;
  };
  const tally = (rs: Array<{ status: number }>) => rs.reduce<Record<number, number>>((m, r) => ({ ...m, [r.status]: (m[r.status] ?? 0) + 1 }), {});
  const patchBody = Buffer.from(JSON.stringify([{ op: 'replace', path: '/name/0/family', value: 'Patched' }]));
  for (const kind of ['PUT', 'PATCH', 'DELETE'] as const) {
    const id = await fresh();
    const rs = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        kind === 'PUT'
          ? call(base, token, 'PUT', `Patient/${id}`, { ...patient(`W${i}`), id }, { 'if-match': 'W/"1"' })
          : kind === 'PATCH'
            ? fetch(`${base}/fhir/Patient/${id}`, { method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json-patch+json', 'if-match': 'W/"1"' }, body: patchBody }).then(async (r) => ({ status: r.status, t: await r.text() }))
            : call(base, token, 'DELETE', `Patient/${id}`, undefined, { 'if-match': 'W/"1"' }),
      ),
    );
    const t = tally(rs);
    const winners = rs.filter((r) => r.status >= 200 && r.status < 300).length;
    checks.that(winners === 1 && t[412] === 49, `${kind}: ${JSON.stringify(t)} (want 1 winner and 49 × 412)`);
    const h = await call(base, token, 'GET', `Patient/${id}/_history`);
    checks.that(h.body?.total === 2 || h.body?.entry?.length === 2, `${kind}: ${h.body?.entry?.length} versions in history (want 2)`);
  }
  return checks;
}

export async function conditionalStorms({ base, token }: Running): Promise<Checks> {
  const checks = new Checks();
  const count = async (value: string) => Number((await call(base, token, 'GET', `Patient?identifier=${encodeURIComponent(`urn:storm|${value}`)}&_summary=count`)).body?.total);
  const withId = (value: string): Patient => ({ ...patient('Storm'), identifier: [{ system: 'urn:storm', value }] });
  const plain = randomUUID();
  const r1 = await Promise.all(Array.from({ length: 50 }, () => call(base, token, 'POST', 'Patient', withId(plain), { 'if-none-exist': `identifier=urn:storm|${plain}` })));
  checks.that(r1.every((r) => r.status === 200 || r.status === 201), `plain storm: statuses ${[...new Set(r1.map((r) => r.status))].join(',')}`);
  checks.that((await count(plain)) === 1, `plain storm stored ${await count(plain)} Patients`);
  const inTx = randomUUID();
  const bundle = (): Bundle => ({ resourceType: 'Bundle', type: 'transaction', entry: [{ fullUrl: `urn:uuid:${randomUUID()}`, resource: withId(inTx), request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=urn:storm|${inTx}` } }] });
  const r2 = await Promise.all(Array.from({ length: 50 }, () => call(base, token, 'POST', '', bundle())));
  checks.that(r2.every((r) => r.status === 200), `transaction storm: statuses ${[...new Set(r2.map((r) => r.status))].join(',')}`);
  checks.that((await count(inTx)) === 1, `transaction storm stored ${await count(inTx)} Patients`);
  return checks;
}

/** Transactions of 20 entries with one bad entry at a random place: 4xx, nothing stored, no version bump. */
export async function transactionAtomicity({ base, token }: Running, n: number): Promise<Checks> {
  const checks = new Checks();
  const anchor = (await call(base, token, 'POST', 'Patient', patient('Anchor'))).body as Patient;
  const badEntries: Array<() => BundleEntry> = [
    () => ({ resource: { resourceType: 'Patient', birthDate: 'not-a-date' } as never, request: { method: 'POST', url: 'Patient' } }), // invalid → 422
    () => ({ resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient?identifier=urn:none|nobody' } }, request: { method: 'POST', url: 'Observation' } }), // unresolvable → 412
    () => ({ resource: { ...patient('Stale'), id: anchor.id }, request: { method: 'PUT', url: `Patient/${anchor.id}`, ifMatch: 'W/"999"' } }), // stale → 412
  ];
  for (let i = 0; i < n; i++) {
    const tag = `atom-${randomUUID()}`;
    const entries: BundleEntry[] = Array.from({ length: 19 }, (_, j) => ({ fullUrl: `urn:uuid:${randomUUID()}`, resource: tagged(patient(`A${j}`), tag), request: { method: 'POST' as const, url: 'Patient' } }));
    entries.splice(3, 0, { resource: { ...patient('AnchorChanged'), id: anchor.id }, request: { method: 'PUT', url: `Patient/${anchor.id}` } });
    entries.splice(Math.floor(Math.random() * 20), 1, badEntries[i % badEntries.length]!());
    const r = await call(base, token, 'POST', '', { resourceType: 'Bundle', type: 'transaction', entry: entries.slice(0, 20) });
    checks.that(r.status >= 400 && r.status < 500, `transaction ${i}: status ${r.status} (want 4xx)`);
    const stored = Number((await call(base, token, 'GET', `Patient?_tag=${encodeURIComponent(`urn:reliability|${tag}`)}&_summary=count`)).body?.total);
    checks.that(stored === 0, `transaction ${i}: ${stored} entries persisted`);
  }
  const now = (await call(base, token, 'GET', `Patient/${anchor.id}`)).body as Patient;
  checks.that(now.meta?.versionId === '1' && now.name?.[0]?.family === 'Anchor', `the anchor Patient changed to version ${now.meta?.versionId}`);
  return checks;
}

/** Requests per second `clients` clients reach without pauses during `ms` (after one request each to warm up). */
async function maxRate(one: () => Promise<Reply>, clients: number, ms: number): Promise<{ perSecond: number; ms: number; errors: number }> {
  await Promise.all(Array.from({ length: clients }, one));
  let done = 0;
  let errors = 0;
  const start = Date.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (Date.now() - start < ms) {
        const r = await one();
        if (r.status >= 500 || r.status === 0) errors++;
        done++;
      }
    }),
  );
  const took = Date.now() - start;
  return { perSecond: (done * 1000) / took, ms: took, errors };
}

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(0);

/**
 * A mixed workload at half the maximum rate measured just before (4 clients without pauses): 0 5xx, memory growth after warm-up < 10 %, p99 stable,
 * event-loop delay p99 < 100 ms. Memory is the server's RSS after a full garbage collection
 * (probe.mjs): under load V8 defers full collections and RSS sampled in between climbs by hundreds
 * of MB of garbage that the next full collection returns, which says nothing about a leak. The peak
 * RSS under load is printed as well.
 */
export async function soak({ base, token, pid, probe }: Running, minutes: number): Promise<Checks> {
  const checks = new Checks();
  if (!probe) throw new Error('the soak needs a server started with { probe: true }');
  const ms = minutes * 60_000;
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) ids.push((await call(base, token, 'POST', 'Patient', patient(`Soak${i % 5}`))).body.id);
  const one = (): Promise<Reply> => {
    const p = Math.random();
    return p < 0.5
      ? call(base, token, 'GET', `Patient/${ids[Math.floor(Math.random() * ids.length)]}`)
      : p < 0.8
        ? call(base, token, 'GET', `Patient?name=Soak${Math.floor(Math.random() * 5)}&_count=10`)
        : call(base, token, 'POST', 'Observation', { resourceType: 'Observation', status: 'final', code: { text: 'puls' }, subject: { reference: `Patient/${ids[0]}` }, valueQuantity: { value: 60 } });
  };
  // "Half the measured maximum" (issue 17), measured here and now rather than assumed: 4 clients
  // without pauses for a few seconds, the same mix. On a machine shared with other work the maximum
  // is measured under that same contention, so the soak asks half of what the server can do now.
  const max = await maxRate(one, 4, Math.min(15_000, Math.max(10_000, minutes * 60_000 * 0.05)));
  const target = max.perSecond / 2;
  await probe(); // resets the event-loop delay histogram: startup and the measurement are not part of the soak
  const start = Date.now();
  const samples: Array<{ t: number; ms: number; status: number; error?: string }> = [];
  let peakRss = 0;
  let stop = false;
  const sampler = (async () => {
    while (!stop) {
      peakRss = Math.max(peakRss, rssOf(pid));
      await sleep(2000);
    }
  })();
  // Paced: request k starts at start + k / target (shared by the clients), or at once when behind.
  let ticket = 0;
  const client = async () => {
    for (;;) {
      const due = start + (ticket++ * 1000) / target;
      if (due - start >= ms) break;
      if (due > Date.now()) await sleep(due - Date.now());
      const t0 = Date.now() - start;
      const r = await one();
      samples.push({ t: t0, ms: r.ms, status: r.status, ...(r.error ? { error: r.error } : {}) });
    }
  };
  // Warm-up: a fifth of a long soak, half of a short (CI) one. On PGlite the database's buffer pool
  // lives in this process and WebAssembly memory never shrinks, so memory climbs until the pool is
  // warm; growth is judged after that, from a full collection at the end of the warm-up to one at the end.
  const warm = ms >= 5 * 60_000 ? ms * 0.2 : ms * 0.5;
  const measured = (async () => {
    await sleep(warm);
    const p0 = await probe();
    return { p0, from: p0.at - start };
  })();
  await Promise.all([client(), client(), client()]);
  const { p0, from } = await measured;
  const p1 = await probe();
  stop = true;
  await sampler;
  const failed = samples.filter((s) => s.status >= 500 || s.status === 0);
  const errors = failed.length;
  checks.that(errors === 0, `${errors} 5xx or failed requests of ${samples.length} (${[...new Set(failed.map((f) => f.error ?? String(f.status)))].slice(0, 3).join('; ')})`);
  const growth = ((p1.rss - p0.rss) / p0.rss) * 100;
  checks.that(p1.rss <= p0.rss * 1.1, `RSS after a full GC grew ${growth.toFixed(1)} % after warm-up (${mb(p0.rss)} → ${mb(p1.rss)} MB; JS heap ${mb(p0.heapUsed)} → ${mb(p1.heapUsed)} MB)`);
  const machine = `the main thread ran ${(p1.eld.cpuShare * 100).toFixed(0)} % of the time and waited for a CPU ${(p1.eld.waitShare * 100).toFixed(0)} %, load average ${os.loadavg()[0]!.toFixed(1)}`;
  checks.that(p1.eld.p99 < 100, `event-loop delay p99 ${p1.eld.p99.toFixed(0)} ms after warm-up (max ${p1.eld.max.toFixed(0)} ms; want < 100; ${machine})`);
  // The first and last minute after warm-up (thirds of a shorter soak); the first starts after the
  // warm-up's forced collection, whose pause is not the server's latency.
  const slice = Math.min(60_000, (ms - from) / 3);
  const first = percentile(samples.filter((s) => s.t >= from && s.t < from + slice).map((s) => s.ms), 99);
  const lastP = percentile(samples.filter((s) => s.t >= ms - slice).map((s) => s.ms), 99);
  checks.that(lastP <= Math.max(first * 1.5, first + 20), `p99 ${lastP.toFixed(0)} ms at the end vs ${first.toFixed(0)} ms at the start (${machine})`);
  const achieved = samples.length / (ms / 1000);
  console.log(
    `    maximum measured ${max.perSecond.toFixed(1)} requests/s (4 clients without pauses, ${(max.ms / 1000).toFixed(0)} s, ${max.errors} failed), soak target ${target.toFixed(1)}/s; ` +
      `${samples.length} requests in ${minutes} min (${achieved.toFixed(1)}/s${achieved < target * 0.8 ? ', behind its target: the server or the machine was slower than during the measurement' : ''}), p99 ${first.toFixed(0)} → ${lastP.toFixed(0)} ms, ` +
      `RSS after full GC ${mb(p0.rss)} → ${mb(p1.rss)} MB (${growth >= 0 ? '+' : ''}${growth.toFixed(1)} %), JS heap ${mb(p0.heapUsed)} → ${mb(p1.heapUsed)} MB, ` +
      `peak RSS under load ${mb(peakRss)} MB, event-loop delay p99 ${p1.eld.p99.toFixed(0)} ms (max ${p1.eld.max.toFixed(0)} ms; ${machine})`,
  );
  return checks;
}

/** Seeds history and access log through the server, which must be running on `store`. */
export async function seedForBackup({ base, token }: Running): Promise<void> {
  for (let i = 0; i < 15; i++) {
    const id = (await call(base, token, 'POST', 'Patient', patient(`Backup${i}`))).body.id as string;
    if (i % 2 === 0) await call(base, token, 'PUT', `Patient/${id}`, { ...patient(`Backup${i}b`), id });
    if (i % 5 === 0) await call(base, token, 'DELETE', `Patient/${id}`);
    await call(base, token, 'GET', `Patient/${id}`); // a read of patient data → the access log
  }
}

async function fingerprint(store: Store): Promise<{ hash: string; versions: number; audit: number }> {
  const db = await openDatabase(store.target);
  try {
    const hist = await db.query<{ resource_type: string; id: string; version_id: number; deleted: boolean; content: unknown }>('SELECT resource_type, id, version_id, deleted, content FROM resource_history ORDER BY resource_type, id, version_id');
    const cur = await db.query<{ resource_type: string; id: string; version_id: number; content: unknown }>('SELECT resource_type, id, version_id, content FROM resources ORDER BY resource_type, id');
    const log = await db.query('SELECT * FROM access_log ORDER BY seq');
    const hash = createHash('sha256').update(canonical({ hist, cur, log })).digest('hex');
    return { hash, versions: hist.length, audit: log.length };
  } finally {
    await db.close();
  }
}

/** npm run backup, npm run restore into an empty database: identical in canonical JSON; a non-empty target is refused without --force. */
export async function backupRestore(store: Store, mode: 'pglite' | 'postgres', pgUrl: string | undefined): Promise<Checks> {
  const checks = new Checks();
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'helsebro-bak-')), 'backup.dump');
  const cli = (script: string, url: string, args: string[]) => {
    try {
      execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli', script), ...args], { cwd: ROOT, env: { ...process.env, DATABASE_URL: url }, stdio: ['ignore', 'ignore', 'pipe'] });
      return 0;
    } catch (err) {
      return (err as { status?: number }).status ?? -1;
    }
  };
  let target: Store;
  if (mode === 'pglite') {
    const dir = path.join(path.dirname(file), 'restored');
    target = { url: `pglite://${dir}`, target: { kind: 'pglite', dataDir: dir }, drop: async () => undefined };
  } else {
    const name = `rel_restore_${randomUUID().slice(0, 8)}`;
    await adminQuery(pgUrl!, `CREATE DATABASE ${name}`);
    const url = withDatabase(pgUrl!, name);
    target = { url, target: { kind: 'postgres', url }, drop: () => adminQuery(pgUrl!, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
  }
  try {
    const original = await fingerprint(store);
    checks.that(original.versions > 20 && original.audit > 0, `the seeded database has ${original.versions} versions and ${original.audit} access-log entries`);
    checks.that(cli('backup.ts', store.url, [file]) === 0, 'npm run backup failed');
    checks.that(cli('restore.ts', target.url, [file]) === 0, 'npm run restore into an empty database failed');
    const restored = await fingerprint(target);
    checks.that(restored.hash === original.hash, `restored database differs (${restored.versions} vs ${original.versions} versions, ${restored.audit} vs ${original.audit} access-log entries)`);
    checks.that(cli('restore.ts', target.url, [file]) === 4, 'a restore into a non-empty database was not refused with exit 4');
    checks.that(cli('restore.ts', target.url, [file, '--force']) === 0, 'restore --force into a non-empty database failed');
    checks.that((await fingerprint(target)).hash === original.hash, 'after restore --force the database differs');
    console.log(`    ${original.versions} history versions, ${original.audit} access-log entries, backup ${fs.statSync(file).size} bytes`);
  } finally {
    await target.drop();
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
  return checks;
}
