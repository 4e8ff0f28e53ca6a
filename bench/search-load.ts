/**
 * Direct loader for the search bench at scale (issue 11 §8: search rows at 100k and 1M resources).
 * Posting a million resources through HTTP transactions takes longer than a bench run should, so
 * the bench stores them through the repository's own first-version path instead: each resource is
 * validated (`validateResource`), stamped with server meta (`withServerMeta`, versionId 1 and
 * lastUpdated) and stored by `insertFirstVersions` (fhir/repository/bulk-insert.ts), which a
 * transaction Bundle's creates go through too: the same `resources`, `resource_history` and search
 * index rows (extracted by `extractIndexRows`), the same compartments, one statement per batch.
 * What it leaves out is what a create does besides storing: access checks and write rules (the
 * system client may create these), and the access-log row of the write, which no search reads.
 *
 * Patient *p* has a deterministic id (so parallel loaders and the bench agree without asking), is
 * `patientBundle`'s patient *p* (name, fødselsnummer), and has `perPatient − 1` Observations spread
 * over day *p* after 2000-01-01, so a two-day window holds two patients' Observations at any size.
 *
 * On PostgreSQL the range is split over `BENCH_SEARCH_LOADERS` child processes (default 2), each
 * running this file: extraction is CPU work, and one Node process would be the bottleneck.
 */
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Observation, Patient, Resource } from 'fhir/r4';
import type { Db } from '../src/db/db.js';
import { openPostgres } from '../src/db/pg.js';
import { insertFirstVersions } from '../src/fhir/repository/bulk-insert.js';
import { withServerMeta } from '../src/fhir/repository/rows.js';
import { validateResource } from '../src/fhir/validation/validate.js';
import { observation, patientBundle } from './support.js';

const DAY_MS = 86_400_000;
/** Resources per statement: ten patients' worth at 100 per patient. */
const BATCH = 1000;

/** Patient p's id: UUID-shaped like a server-assigned one, the same in every process. */
export function benchPatientId(p: number): string {
  const h = createHash('sha1').update(`helsebro-bench-patient-${p}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The day patient p's Observations fall on (YYYY-MM-DD). */
export const benchDay = (p: number): string => new Date(Date.UTC(2000, 0, 1) + p * DAY_MS).toISOString().slice(0, 10);

/** Patient p and its Observations, as a client would send them (no meta). */
export function patientResources(p: number, perPatient: number): Resource[] {
  const patient = { ...(patientBundle(p, 1).entry![0]!.resource as Patient), id: benchPatientId(p) };
  const n = perPatient - 1;
  const step = Math.floor(DAY_MS / Math.max(n, 1));
  const observations = Array.from({ length: n }, (_, j): Observation => {
    const h = createHash('sha1').update(`${p}/${j}`).digest('hex');
    const id = `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-b${h.slice(17, 20)}-${h.slice(20, 32)}`;
    return { ...observation(patient.id!, j), id, effectiveDateTime: new Date(Date.UTC(2000, 0, 1) + p * DAY_MS + j * step).toISOString() };
  });
  return [patient, ...observations];
}

const isError = (i: { severity?: string }) => (i.severity ?? 'error') === 'error' || i.severity === 'fatal';

/** Stores patients [from, to) with their Observations in batches; `progress` gets resources stored. */
export async function loadPatients(db: Db, from: number, to: number, perPatient: number, progress: (stored: number) => void): Promise<void> {
  const perBatch = Math.max(1, Math.floor(BATCH / perPatient));
  for (let p = from; p < to; p += perBatch) {
    const batch: Resource[] = [];
    for (let q = p; q < Math.min(p + perBatch, to); q++) {
      for (const r of patientResources(q, perPatient)) {
        const errors = validateResource(r).filter(isError);
        if (errors.length > 0) throw new Error(`bench resource ${r.resourceType}/${r.id} is invalid: ${JSON.stringify(errors[0])}`);
        // Stamped one by one, as the server stamps each create of a transaction (a shared stamp would
        // give a thousand resources the same lastUpdated, which no client produces).
        batch.push(withServerMeta(r, 1, new Date().toISOString()));
      }
    }
    await db.transaction((tx) => insertFirstVersions(tx, batch.map((resource) => ({ resource, method: 'POST' }))));
    progress(batch.length);
  }
}

/**
 * Loads patients [from, to): in this process on PGlite (one connection), in `loaders` child processes
 * on PostgreSQL. Prints progress (resources stored, rate) to stderr.
 */
export async function loadRange(db: Db, target: { url?: string; schema: string }, from: number, to: number, perPatient: number): Promise<void> {
  const started = Date.now();
  const total = (to - from) * perPatient;
  let stored = 0;
  let last = 0;
  const report = (n: number) => {
    stored += n;
    if (Date.now() - last < 1000 && stored < total) return;
    last = Date.now();
    const s = (Date.now() - started) / 1000;
    process.stderr.write(`\rbench search: loaded ${stored}/${total} resources (${Math.round(stored / s)}/s, ${s.toFixed(0)} s)   `);
  };
  const loaders = Number(process.env.BENCH_SEARCH_LOADERS ?? 2);
  if (db.kind !== 'postgres' || !target.url || loaders <= 1) {
    await loadPatients(db, from, to, perPatient, report);
  } else {
    const per = Math.ceil((to - from) / loaders);
    const self = fileURLToPath(import.meta.url);
    await Promise.all(
      Array.from({ length: loaders }, (_, k) => [from + k * per, Math.min(to, from + (k + 1) * per)] as const)
        .filter(([a, b]) => b > a)
        .map(
          ([a, b]) =>
            new Promise<void>((resolve, reject) => {
              const child = fork(self, ['--load', target.url!, target.schema, String(a), String(b), String(perPatient)], {
                execArgv: ['--import', 'tsx'],
                cwd: path.resolve(path.dirname(self), '..'),
              });
              child.on('message', (m: { stored?: number }) => m.stored && report(m.stored));
              child.on('error', reject);
              child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`bench loader for patients ${a}–${b} exited with ${code}`))));
            }),
        ),
    );
  }
  process.stderr.write(`\rbench search: loaded ${total} resources in ${((Date.now() - started) / 1000).toFixed(0)} s (${Math.round(total / ((Date.now() - started) / 1000))}/s)\n`);
}

// Child process: `--load <url> <schema> <from> <to> <perPatient>`.
if (process.argv[2] === '--load' && process.send) {
  const [url, schema, from, to, perPatient] = process.argv.slice(3);
  const db = await openPostgres(url!, { schema, max: 1 });
  try {
    await loadPatients(db, Number(from), Number(to), Number(perPatient), (stored) => process.send!({ stored }));
  } catch (err) {
    console.error(err);
    process.exit(1);
  }
  // Not db.close(): closing a Db opened with a schema drops that schema, which the bench still uses.
  process.exit(0);
}
