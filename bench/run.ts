/**
 * `npm run bench`: starts helsebro on a fresh database (PGlite in a temporary folder, or the
 * PostgreSQL server in DATABASE_URL, in a throwaway schema), loads a realistic volume, drives it
 * with autocannon on loopback and prints a table. Figures come from here, never from tests.
 *
 *   npm run bench                     # PGlite
 *   DATABASE_URL=postgres://… npm run bench
 *   BENCH_SECONDS=10 BENCH_PATIENTS=500 npm run bench
 *   BENCH_SEARCH_SIZES=200,2000 BENCH_SEARCH_OBS=20 npm run bench   # search rounds; BENCH_SEARCH=0 skips them
 *   BENCH_BRIDGE_SAMPLES=5000 BENCH_BRIDGE_RECORDS=200000 npm run bench   # bridge rows; BENCH_BRIDGES=0 skips them
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import { testConfig } from '../src/config/config.js';
import { openDatabase } from '../src/db/open.js';
import { createLogger } from '../src/log.js';
import { buildServer, createRepository } from '../src/server.js';
import { benchBridges, bridgeToken } from './bridges.js';
import { runSearchBench } from './search.js';
import { observation, observationBundle, obtainSystemToken, patientBundle, printTable, type BenchRow } from './support.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const PATIENTS = Number(process.env.BENCH_PATIENTS ?? 200);
const OBS_PER_PATIENT = Number(process.env.BENCH_OBS ?? 50);

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'helsebro-bench-'));
  const target = url && /^postgres/.test(url) ? ({ kind: 'postgres', url } as const) : ({ kind: 'pglite', dataDir: path.join(tmp, 'data') } as const);
  const db = await openDatabase(target, { schema: `bench_${randomBytes(4).toString('hex')}`, max: 40 });
  const config = testConfig({ database: target, port: 0, logLevel: 'silent' });
  const logger = createLogger('silent');
  const repo = createRepository(db);
  const { app, extraClosers } = await buildServer({ config, db, logger, repo, devIdp: false });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const token = await obtainSystemToken(base, config.devSystemClientSecret);
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' };

  process.stderr.write(`bench: ${target.kind}, loading ${PATIENTS} patients × ${OBS_PER_PATIENT} observations\n`);
  const patientIds: string[] = [];
  for (let i = 0; i < PATIENTS; i += 50) {
    const res = await fetch(`${base}/fhir`, { method: 'POST', headers, body: JSON.stringify(patientBundle(i, Math.min(50, PATIENTS - i))) });
    const out = (await res.json()) as { entry: Array<{ resource: { id: string } }> };
    patientIds.push(...out.entry.map((e) => e.resource.id));
    process.stderr.write(`\rbench: patients ${patientIds.length}/${PATIENTS}`);
  }
  for (const [i, id] of patientIds.entries()) {
    await fetch(`${base}/fhir`, { method: 'POST', headers, body: JSON.stringify(observationBundle(id, OBS_PER_PATIENT)) });
    if (i % 10 === 0) process.stderr.write(`\rbench: observations for ${i + 1}/${patientIds.length} patients`);
  }
  process.stderr.write('\n');

  const rows: BenchRow[] = [];
  let n = 0;
  const read = await autocannon({
    url: base,
    connections: 32,
    duration: SECONDS,
    headers,
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/fhir/Patient/${patientIds[n++ % patientIds.length]}` }) }],
  });
  rows.push(row('read Patient by id (32 conn)', read, 'req/s'));

  const create = await autocannon({
    url: base,
    connections: 16,
    duration: SECONDS,
    headers,
    requests: [{ method: 'POST', path: '/fhir/Observation', body: JSON.stringify(observation(patientIds[0]!, 1)) }],
  });
  rows.push(row('create Observation (16 conn)', create, 'req/s'));

  const tx = await autocannon({
    url: base,
    connections: 4,
    duration: SECONDS,
    headers,
    requests: [{ method: 'POST', setupRequest: (req) => ({ ...req, path: '/fhir', body: JSON.stringify(observationBundle(patientIds[n++ % patientIds.length]!, 100)) }) }],
  });
  rows.push(row('transaction of 100 Observations (4 conn)', tx, 'resources/s', 100));

  // Issue 6: one HealthKit push of 5,000 samples and the Apple Health importer on a generated export.
  if (process.env.BENCH_BRIDGES !== '0') {
    process.stderr.write('bench: bridges (one push, then the importer on a generated export.xml)\n');
    const bridges = await benchBridges({
      baseUrl: base,
      token: await bridgeToken(db, repo, config),
      samples: Number(process.env.BENCH_BRIDGE_SAMPLES ?? 5000),
      records: Number(process.env.BENCH_BRIDGE_RECORDS ?? 200_000),
    });
    rows.push(...bridges.rows);
  }

  server.close();
  for (const close of extraClosers) await close();
  await db.close();
  fs.rmSync(tmp, { recursive: true, force: true });

  // Search runs on its own database, which it grows between rounds (bench/search.ts).
  const search = process.env.BENCH_SEARCH === '0' ? null : await runSearchBench();
  printTable(target.kind, [...rows, ...(search?.rows ?? [])]);
  if (search) console.log(`\n\`\`\`\n${search.explain}\n\`\`\``);
}

function row(name: string, r: autocannon.Result, unit: string, multiplier = 1): BenchRow {
  const ok = r.non2xx === 0 && r.errors === 0 ? '' : ` (${r.non2xx} non-2xx, ${r.errors} errors)`;
  return { name, rate: `${Math.round(r.requests.average * multiplier)} ${unit}`, p50: `${r.latency.p50} ms`, p99: `${r.latency.p99} ms`, note: ok };
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
