/**
 * Bridge benchmark (issue 6 "Speed", issue 15): one push of 5,000 HealthKit samples, one push of
 * 1,000 Health Connect records (BENCH_BRIDGE_HC_RECORDS), then the Apple Health
 * importer on a generated 200,000-record export.xml, run as its own process so its peak memory is
 * its own. Prints samples/s and peak RSS. Called by `bench/run.ts` with a server and a bridge
 * token, or standalone (it then starts helsebro on a fresh database and mints the token):
 *
 *   npx tsx bench/bridges.ts                        # PGlite in a temporary folder
 *   DATABASE_URL=postgres://… npx tsx bench/bridges.ts
 *   BENCH_BRIDGE_SAMPLES=5000 BENCH_BRIDGE_RECORDS=200000 npx tsx bench/bridges.ts
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Patient } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../src/access/access-context.js';
import { saveClient } from '../src/auth/clients.js';
import { createGrant } from '../src/auth/grants.js';
import { KeyStore } from '../src/auth/keys.js';
import { recordTermsAcceptance } from '../src/identity/terms.js';
import { signAccessToken } from '../src/auth/tokens.js';
import type { ImportSummary } from '../src/bridges/apple-import.js';
import { writeExport } from '../src/bridges/generate-export.js';
import type { HealthKitSample } from '../src/bridges/healthkit.js';
import type { BridgeResponse } from '../src/bridges/router.js';
import { testConfig, type Config } from '../src/config/config.js';
import type { Db } from '../src/db/db.js';
import { openDatabase } from '../src/db/open.js';
import type { Repository } from '../src/fhir/repository/repository.js';
import { createLogger } from '../src/log.js';
import { buildServer, createRepository } from '../src/server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface BenchBridgesOptions {
  /** Server root (the bridges live at `{baseUrl}/bridges/…`). */
  baseUrl: string;
  /** A token granting patient/Observation.c (vital-signs and activity) for one patient, valid for the whole run. */
  token: string;
  samples?: number;
  records?: number;
  /** Health Connect records in one push (a HeartRate record holds 5 samples). */
  healthConnectRecords?: number;
  /** Where the generated export goes (a temporary folder by default, removed afterwards). */
  workDir?: string;
}

/** Same shape as bench/run.ts rows, so the lead can print them in one table. */
export interface BridgeBenchRow {
  name: string;
  rate: string;
  p50: string;
  p99: string;
  note: string;
}

export interface BenchBridgesResult {
  rows: BridgeBenchRow[];
  push: { samples: number; seconds: number; samplesPerSecond: number; created: number; rejected: number };
  healthConnect: { records: number; samples: number; seconds: number; samplesPerSecond: number; created: number; rejected: number };
  importer: ImportSummary & { records: number; fileMb: number; seconds: number };
}

/** `n` plausible HealthKit samples of the mapped types, each with a fresh UUID. */
export function syntheticSamples(n: number, end = Date.now() - 3_600_000): HealthKitSample[] {
  const kinds: Array<[string, string, (i: number) => number]> = [
    ['HKQuantityTypeIdentifierHeartRate', 'count/min', (i) => 55 + (i % 60)],
    ['HKQuantityTypeIdentifierStepCount', 'count', (i) => 10 + (i % 800)],
    ['HKQuantityTypeIdentifierBodyMass', 'kg', (i) => 60 + (i % 20)],
    ['HKQuantityTypeIdentifierOxygenSaturation', '%', (i) => 0.93 + (i % 6) / 100],
    ['HKQuantityTypeIdentifierRespiratoryRate', 'count/min', (i) => 12 + (i % 8)],
    ['HKQuantityTypeIdentifierBodyTemperature', 'degC', (i) => 36 + (i % 15) / 10],
  ];
  return Array.from({ length: n }, (_, i) => {
    const [type, unit, value] = kinds[i % kinds.length]!;
    const start = new Date(end - (n - i) * 60_000);
    const stop = type.endsWith('StepCount') ? new Date(start.getTime() + 50_000) : start;
    return { uuid: randomUUID(), type, value: value(i), unit, startDate: start.toISOString(), endDate: stop.toISOString(), sourceName: 'Bench Watch' };
  });
}

/** `n` plausible Health Connect records of six types; every sixth a HeartRate record with 5 samples. */
export function syntheticHealthConnectRecords(n: number, end = Date.now() - 3_600_000): Array<Record<string, unknown>> {
  const origin = { dataOrigin: { packageName: 'no.helsebro.bench' }, device: { manufacturer: 'Bench', model: 'Watch', type: 1 } };
  return Array.from({ length: n }, (_, i) => {
    const t = end - (n - i) * 300_000;
    const at = new Date(t).toISOString();
    const metadata = { ...origin, id: randomUUID() };
    switch (i % 6) {
      case 0:
        return { recordType: 'HeartRate', startTime: at, endTime: new Date(t + 240_000).toISOString(), startZoneOffset: '+01:00', endZoneOffset: '+01:00', samples: Array.from({ length: 5 }, (_, k) => ({ time: new Date(t + k * 60_000).toISOString(), beatsPerMinute: 55 + ((i + k) % 60) })), metadata };
      case 1:
        return { recordType: 'Steps', startTime: at, endTime: new Date(t + 240_000).toISOString(), count: 10 + (i % 800), metadata };
      case 2:
        return { recordType: 'Weight', time: at, zoneOffset: '+01:00', weight: { inKilograms: 60 + (i % 20) }, metadata };
      case 3:
        return { recordType: 'OxygenSaturation', time: at, zoneOffset: '+01:00', percentage: { value: 93 + (i % 6) }, metadata };
      case 4:
        return { recordType: 'BloodPressure', time: at, zoneOffset: '+01:00', systolic: { inMillimetersOfMercury: 110 + (i % 30) }, diastolic: { inMillimetersOfMercury: 70 + (i % 15) }, metadata };
      default:
        return { recordType: 'Distance', startTime: at, endTime: new Date(t + 240_000).toISOString(), distance: { inMeters: 100 + (i % 900) }, metadata };
    }
  });
}

export async function benchBridges(opts: BenchBridgesOptions): Promise<BenchBridgesResult> {
  const samples = opts.samples ?? 5000;
  const records = opts.records ?? 200_000;
  const workDir = opts.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'helsebro-bridges-'));
  const rows: BridgeBenchRow[] = [];

  const body = JSON.stringify({ samples: syntheticSamples(samples) });
  const t0 = performance.now();
  const res = await fetch(`${opts.baseUrl}/bridges/healthkit`, { method: 'POST', headers: { authorization: `Bearer ${opts.token}`, 'content-type': 'application/json' }, body });
  if (!res.ok) throw new Error(`push failed: ${res.status} ${await res.text()}`);
  const out = (await res.json()) as BridgeResponse;
  const seconds = (performance.now() - t0) / 1000;
  const push = { samples, seconds, samplesPerSecond: Math.round(samples / seconds), created: out.summary.created, rejected: out.summary.rejected };
  rows.push({ name: `HealthKit push of ${samples} samples (1 request)`, rate: `${push.samplesPerSecond} samples/s`, p50: `${Math.round(seconds * 1000)} ms`, p99: '—', note: `${push.created} created, ${push.rejected} rejected` });

  const hcRecords = opts.healthConnectRecords ?? 1000;
  const hcBody = JSON.stringify({ records: syntheticHealthConnectRecords(hcRecords) });
  const t2 = performance.now();
  const hcRes = await fetch(`${opts.baseUrl}/bridges/health-connect`, { method: 'POST', headers: { authorization: `Bearer ${opts.token}`, 'content-type': 'application/json' }, body: hcBody });
  if (!hcRes.ok) throw new Error(`Health Connect push failed: ${hcRes.status} ${await hcRes.text()}`);
  const hcOut = (await hcRes.json()) as BridgeResponse;
  const hcSeconds = (performance.now() - t2) / 1000;
  const healthConnect = { records: hcRecords, samples: hcOut.summary.received, seconds: hcSeconds, samplesPerSecond: Math.round(hcOut.summary.received / hcSeconds), created: hcOut.summary.created, rejected: hcOut.summary.rejected };
  rows.push({
    name: `Health Connect push of ${hcRecords} records, ${healthConnect.samples} samples (1 request)`,
    rate: `${healthConnect.samplesPerSecond} samples/s (${Math.round(hcRecords / hcSeconds)} records/s)`,
    p50: `${Math.round(hcSeconds * 1000)} ms`,
    p99: '—',
    note: `${healthConnect.created} created, ${healthConnect.rejected} rejected`,
  });

  const file = path.join(workDir, 'export.xml');
  const stats = await writeExport(file, { records, seed: 42 });
  const t1 = performance.now();
  const summary = await runImporter(file, opts.baseUrl, opts.token);
  const importSeconds = (performance.now() - t1) / 1000;
  const importer = { ...summary, records, fileMb: Math.round(stats.bytes / 1e5) / 10, seconds: importSeconds };
  rows.push({
    name: `Apple Health import, ${records} records (${importer.fileMb} MB)`,
    rate: `${importer.samplesPerSecond} samples/s (${Math.round(records / importSeconds)} records/s)`,
    p50: `${Math.round(importSeconds)} s total`,
    p99: '—',
    note: `importer peak RSS ${importer.peakRssMb} MB; ${importer.created} created, ${importer.rejected} rejected`,
  });
  if (!opts.workDir) fs.rmSync(workDir, { recursive: true, force: true });
  return { rows, push, healthConnect, importer };
}

/** The CLI as a separate process, so the RSS it reports is the importer's alone. */
function runImporter(file: string, baseUrl: string, token: string): Promise<ImportSummary> {
  const tokenFile = path.join(path.dirname(file), 'token');
  fs.writeFileSync(tokenFile, token, { mode: 0o600 });
  const args = ['--import', 'tsx', path.join(ROOT, 'src/cli/import-apple-health.ts'), file, '--base-url', baseUrl, '--token-file', tokenFile, '--quiet'];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`importer failed: ${err.message}\n${stderr}\n${stdout.slice(0, 2000)}`));
      resolve(JSON.parse(stdout) as ImportSummary);
    });
  });
}

/**
 * A bridge token as the token endpoint would issue it: a Patient who accepted the terms, a public
 * bridge client and a live grant with vital-signs and activity `patient/Observation.c`, valid 2 h.
 */
export async function bridgeToken(db: Db, repo: Repository, config: Config): Promise<string> {
  const keys = new KeyStore(db);
  const patient: Patient = { resourceType: 'Patient', name: [{ family: 'Benk', given: ['Kari'] }], birthDate: '1980-02-29' };
  const patientId = (await repo.create(patient, SYSTEM_ACCESS)).resource.id!;
  await recordTermsAcceptance(repo, patientId);
  const category = 'http://terminology.hl7.org/CodeSystem/observation-category';
  const scope = `launch/patient patient/Observation.c?category=${category}|vital-signs patient/Observation.c?category=${category}|activity`;
  await saveClient(db, { clientId: 'bench-bridge', clientName: 'Bench bridge', clientType: 'public', authMethod: 'none', redirectUris: ['https://bench.example/cb'], launchUris: [], grantTypes: ['authorization_code'], scope, jwksUri: null, jwks: null, firstParty: false });
  const grant = await createGrant(db, { clientId: 'bench-bridge', kind: 'patient', sub: null, patientId, fhirUser: `Patient/${patientId}`, scope, context: {}, sessionId: null, authTime: null, ttlSeconds: 7200 });
  const { token } = await signAccessToken(keys, config, { grantId: grant.grantId, clientId: 'bench-bridge', scope, patientId, fhirUser: `Patient/${patientId}`, ttl: 7200 });
  return token;
}

/** Standalone: helsebro on a fresh database, a patient who accepted the terms, and a bridge token. */
async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'helsebro-bench-bridges-'));
  const target = url && /^postgres/.test(url) ? ({ kind: 'postgres', url } as const) : ({ kind: 'pglite', dataDir: path.join(tmp, 'data') } as const);
  const db = await openDatabase(target, { schema: `bench_${randomBytes(4).toString('hex')}`, max: 10 });
  const config = testConfig({ database: target, logLevel: 'silent' });
  const logger = createLogger('silent');
  const repo = createRepository(db);
  const { app } = await buildServer({ config, db, logger, repo, devIdp: false });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const token = await bridgeToken(db, repo, config);

  let serverPeak = process.memoryUsage().rss;
  const sampler = setInterval(() => (serverPeak = Math.max(serverPeak, process.memoryUsage().rss)), 200);
  const result = await benchBridges({
    baseUrl,
    token,
    samples: Number(process.env.BENCH_BRIDGE_SAMPLES ?? 5000),
    records: Number(process.env.BENCH_BRIDGE_RECORDS ?? 200_000),
    healthConnectRecords: Number(process.env.BENCH_BRIDGE_HC_RECORDS ?? 1000),
  });
  clearInterval(sampler);

  console.log(`\n### helsebro bridges bench — ${target.kind}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}\n`);
  console.log('| benchmark | throughput | time | p99 | note |');
  console.log('|---|---|---|---|---|');
  for (const r of result.rows) console.log(`| ${r.name} | ${r.rate} | ${r.p50} | ${r.p99} | ${r.note} |`);
  console.log(`\nserver process peak RSS (database in process: ${target.kind === 'pglite' ? 'yes' : 'no'}): ${Math.round(serverPeak / 1024 / 1024)} MB`);
  server.close();
  await db.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
