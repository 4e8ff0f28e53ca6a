/**
 * Numbered migrations (`migrations/NNN-name.sql`) applied in order at start, each in its own
 * transaction, recorded in `schema_migrations`. A server-wide advisory lock keeps two processes
 * starting on one PostgreSQL database from applying the same migration twice.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitForXactLock } from './advisory-lock.js';
import type { Db, Queryable } from './db.js';

const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');
const LOCK_KEY = 724_201_1;

/**
 * Steps that run in TypeScript right after a migration's SQL, in the same transaction, for data SQL
 * cannot derive (index rows and compartments of old versions need FHIRPath extraction). Loaded only
 * when their migration is pending: the search indexer pulls in FHIRPath and the search parameter
 * definitions, and a restart of an up-to-date database must not wait for them (issue 17: ready ≤ 5 s).
 */
const DATA_STEPS: Readonly<Record<number, (tx: Queryable) => Promise<unknown>>> = {
  6: async (tx) => (await import('../fhir/search/version-backfill.js')).backfillVersionIndex(tx),
};

export async function listMigrations(): Promise<Array<{ version: number; name: string; file: string }>> {
  const files = (await fs.readdir(MIGRATIONS_DIR)).filter((f) => /^\d{3}-[\w-]+\.sql$/.test(f)).sort();
  return files.map((file) => ({ version: Number(file.slice(0, 3)), name: file.slice(4, -4), file: path.join(MIGRATIONS_DIR, file) }));
}

export async function migrate(db: Db): Promise<number[]> {
  const applied: number[] = [];
  await db.transaction(async (tx) => {
    if (db.kind === 'postgres') {
      // A migration may take longer than a request's deadline (DB_TIMEOUT_MS).
      await tx.query('SET LOCAL statement_timeout = 0');
      // …and the TypeScript data steps between its statements may leave it idle for longer than the
      // idle-in-transaction deadline on a busy machine (seen: a fresh database failing to start at load 18).
      await tx.query('SET LOCAL idle_in_transaction_session_timeout = 0');
      await waitForXactLock(tx, LOCK_KEY);
    }
    await tx.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
    const done = new Set((await tx.query<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => Number(r.version)));
    for (const m of await listMigrations()) {
      if (done.has(m.version)) continue;
      const sql = await fs.readFile(m.file, 'utf8');
      await tx.exec(sql);
      await DATA_STEPS[m.version]?.(tx);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
  });
  return applied;
}
