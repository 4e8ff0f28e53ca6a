/**
 * `npx tsx bench/access-log.ts`: what the access log costs a patient-token read (issue 11 §1).
 * Starts helsebro in process on a fresh database (PGlite, or the PostgreSQL of DATABASE_URL in a
 * throwaway schema), gives one patient 200 Observations and a patient token (`patient/*.rs`), then
 *  1. counts the SQL statements of one read by id and one search, and which tables they write;
 *  2. drives reads, searches and (when the server has one) the AuditEvent view with autocannon.
 *
 *   BENCH_SECONDS=10 BENCH_CONNECTIONS=32 npx tsx bench/access-log.ts
 *   BENCH_VERBOSE=1 …   also lists the statements of the counted requests
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import type { Observation, Patient } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../src/access/access-context.js';
import { saveClient } from '../src/auth/clients.js';
import { createGrant } from '../src/auth/grants.js';
import { KeyStore } from '../src/auth/keys.js';
import { recordTermsAcceptance } from '../src/identity/terms.js';
import { signAccessToken } from '../src/auth/tokens.js';
import { testConfig } from '../src/config/config.js';
import type { Db, Queryable, Row } from '../src/db/db.js';
import { openDatabase } from '../src/db/open.js';
import { createLogger } from '../src/log.js';
import { buildServer, createRepository } from '../src/server.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);

/** Every statement the server sends, so one request's SQL can be counted. */
class Counter {
  statements: string[] = [];
  on = false;
  wrap(q: Queryable): Queryable {
    return {
      query: <T extends Row = Row>(text: string, params?: readonly unknown[]) => {
        if (this.on) this.statements.push(text);
        return q.query<T>(text, params);
      },
      exec: (script: string) => q.exec(script),
    };
  }
  wrapDb(db: Db): Db {
    const inner = this.wrap(db);
    return {
      kind: db.kind,
      query: inner.query,
      exec: inner.exec,
      transaction: (fn) => {
        if (this.on) this.statements.push('BEGIN … COMMIT');
        return db.transaction((tx) => fn(this.wrap(tx)));
      },
      close: () => db.close(),
    };
  }
}

function writtenTables(statements: string[]): string[] {
  const tables = new Set<string>();
  for (const s of statements) for (const m of s.matchAll(/INSERT INTO (\w+)|UPDATE (\w+) SET|DELETE FROM (\w+)/gi)) tables.add(m[1] ?? m[2] ?? m[3]!);
  return [...tables].sort();
}

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'helsebro-bench-log-'));
  const target = url && /^postgres/.test(url) ? ({ kind: 'postgres', url } as const) : ({ kind: 'pglite', dataDir: path.join(tmp, 'data') } as const);
  const raw = await openDatabase(target, { schema: `bench_${randomBytes(4).toString('hex')}`, max: 40 });
  const counter = new Counter();
  const db = counter.wrapDb(raw);
  const config = testConfig({ database: target, port: 0, logLevel: 'silent' });
  const repo = createRepository(db);
  const { app, extraClosers } = await buildServer({ config, db, logger: createLogger('silent'), repo, devIdp: false });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const patient: Patient = { resourceType: 'Patient', name: [{ family: 'Benk', given: ['Kari'] }], birthDate: '1980-02-29' };
  const patientId = (await repo.create(patient, SYSTEM_ACCESS)).resource.id!;
  await recordTermsAcceptance(repo, patientId);
  const obs: Observation[] = Array.from({ length: 200 }, (_, i) => ({
    resourceType: 'Observation', status: 'final', subject: { reference: `Patient/${patientId}` },
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] }, effectiveDateTime: new Date(Date.UTC(2026, 0, 1) + i * 3_600_000).toISOString(),
    valueQuantity: { value: 60 + (i % 30), unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  }));
  const obsIds: string[] = [];
  for (const o of obs) obsIds.push((await repo.create(o, SYSTEM_ACCESS)).resource.id!);
  const scope = 'launch/patient patient/*.rs';
  await saveClient(db, { clientId: 'bench-app', clientName: 'Bench app', clientType: 'public', authMethod: 'none', redirectUris: ['https://bench.example/cb'], launchUris: [], grantTypes: ['authorization_code'], scope, jwksUri: null, jwks: null, firstParty: false });
  const grant = await createGrant(db, { clientId: 'bench-app', kind: 'patient', sub: null, patientId, fhirUser: `Patient/${patientId}`, scope, context: {}, sessionId: null, authTime: null, ttlSeconds: 7200 });
  const { token } = await signAccessToken(new KeyStore(db), config, { grantId: grant.grantId, clientId: 'bench-app', scope, patientId, fhirUser: `Patient/${patientId}`, ttl: 7200 });
  const headers = { authorization: `Bearer ${token}`, accept: 'application/fhir+json' };

  const measure = async (label: string, p: string) => {
    await fetch(`${base}${p}`, { headers }); // warm caches
    counter.statements = [];
    counter.on = true;
    const res = await fetch(`${base}${p}`, { headers });
    await res.text();
    counter.on = false;
    console.log(`${label}: HTTP ${res.status}, ${counter.statements.length} SQL statements, writes to: ${writtenTables(counter.statements).join(', ') || 'nothing'}`);
    if (process.env.BENCH_VERBOSE) for (const s of counter.statements) console.log(`   ${s.replace(/\s+/g, ' ').slice(0, 110)}`);
  };
  await measure('read Observation by id', `/fhir/Observation/${obsIds[0]}`);
  await measure('search Observation?_count=20', '/fhir/Observation?_count=20');

  const run = async (label: string, paths: (i: number) => string) => {
    let n = 0;
    const r = await autocannon({ url: base, connections: CONNECTIONS, duration: SECONDS, headers, requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: paths(n++) }) }] });
    const bad = r.non2xx + r.errors;
    console.log(`| ${label} (${CONNECTIONS} conn) | ${Math.round(r.requests.average)} req/s | p50 ${r.latency.p50} ms | p99 ${r.latency.p99} ms |${bad ? ` ${bad} failed` : ''}`);
  };
  console.log(`\n${target.kind}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${SECONDS} s per row`);
  await run('read Observation by id, patient token', (i) => `/fhir/Observation/${obsIds[i % obsIds.length]}`);
  await run('search Observation?_count=20, patient token', () => '/fhir/Observation?_count=20');
  await run('AuditEvent?patient=…&_count=20, patient token', () => `/fhir/AuditEvent?patient=Patient/${patientId}&_count=20`);

  server.close();
  for (const close of extraClosers) await close();
  await db.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
