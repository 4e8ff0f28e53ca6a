/**
 * Backup and restore of the whole database (issue 17), for both storage modes:
 * - PostgreSQL: `pg_dump --format=custom` / `pg_restore`, found in /usr/lib/postgresql/<n>/bin or PATH;
 * - PGlite: its data-folder dump (`dumpDataDir`, a gzipped tar) / `loadDataDir`.
 * Every resource, every history version and the whole access log (its own table, migration 007) are
 * in the tables dumped, so a restore gives back exactly what was stored.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { DatabaseTarget } from '../config/config.js';
import { CENSUS_SQL, type Census } from '../fhir/repository/repository.js';
import { acquireDataDirLock } from './lock.js';
import { openPostgres } from './pg.js';

export type Progress = (message: string) => void;

export class RestoreRefusedError extends Error {}

/** Counts a restore must reproduce, also printed as progress. */
export type Counts = Census;
const COUNTS_SQL = CENSUS_SQL;

export function findPgBinary(name: 'pg_dump' | 'pg_restore'): string {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const candidate = path.join(root, v, 'bin', name);
    if (fs.existsSync(candidate)) return candidate;
  }
  return name; // from PATH
}

export async function backup(target: DatabaseTarget, file: string, progress: Progress): Promise<Counts> {
  const out = path.resolve(file);
  if (target.kind === 'postgres') {
    const counts = await countsOf(target);
    progress(`dumping PostgreSQL (${describe(counts)}) with ${findPgBinary('pg_dump')}`);
    await run(findPgBinary('pg_dump'), ['--format=custom', '--no-owner', '--verbose', `--file=${out}`, `--dbname=${target.url}`], progress);
    progress(`wrote ${out} (${(await fsp.stat(out)).size} bytes)`);
    return counts;
  }
  if (!target.dataDir) throw new Error('An in-memory PGlite database (pglite://memory) has nothing to back up');
  const lock = await acquireDataDirLock(target.dataDir); // the server must not write while the folder is copied
  try {
    const pg = await PGlite.create({ dataDir: target.dataDir });
    try {
      const counts = (await pg.query<Counts>(COUNTS_SQL)).rows[0]!;
      progress(`dumping PGlite folder ${target.dataDir} (${describe(counts)})`);
      const dump = await pg.dumpDataDir('gzip');
      await fsp.writeFile(out, Buffer.from(await dump.arrayBuffer()));
      progress(`wrote ${out} (${dump.size} bytes)`);
      return counts;
    } finally {
      await pg.close();
    }
  } finally {
    await lock.release();
  }
}

export async function restore(target: DatabaseTarget, file: string, opts: { force: boolean }, progress: Progress): Promise<Counts> {
  const from = path.resolve(file);
  if (!fs.existsSync(from)) throw new Error(`No backup file at ${from}`);
  if (target.kind === 'postgres') {
    const existing = await countsOf(target).catch(() => null); // no tables yet: an empty database
    if (existing && existing.resources > 0 && !opts.force) throw refused(existing);
    progress(`restoring ${from} into PostgreSQL with ${findPgBinary('pg_restore')}${existing ? ` (replacing ${describe(existing)})` : ''}`);
    await run(findPgBinary('pg_restore'), ['--clean', '--if-exists', '--no-owner', '--exit-on-error', '--single-transaction', '--verbose', `--dbname=${target.url}`, from], progress);
    const counts = await countsOf(target);
    progress(`restored ${describe(counts)}`);
    return counts;
  }
  if (!target.dataDir) throw new Error('Restoring into an in-memory PGlite database (pglite://memory) would be lost at exit');
  const lock = await acquireDataDirLock(target.dataDir);
  try {
    if (fs.existsSync(target.dataDir) && (await fsp.readdir(target.dataDir)).length > 0) {
      const pg = await PGlite.create({ dataDir: target.dataDir });
      const existing = await pg.query<Counts>(COUNTS_SQL).then((r) => r.rows[0]!, () => null);
      await pg.close();
      if (existing && existing.resources > 0 && !opts.force) throw refused(existing);
      progress(`removing the current PGlite folder ${target.dataDir}`);
      await fsp.rm(target.dataDir, { recursive: true, force: true });
    }
    progress(`restoring ${from} into PGlite folder ${target.dataDir}`);
    const blob = new Blob([await fsp.readFile(from)]);
    const pg = await PGlite.create({ dataDir: target.dataDir, loadDataDir: blob });
    try {
      const counts = (await pg.query<Counts>(COUNTS_SQL)).rows[0]!;
      progress(`restored ${describe(counts)}`);
      return counts;
    } finally {
      await pg.close();
    }
  } finally {
    await lock.release();
  }
}

function refused(existing: Counts): RestoreRefusedError {
  return new RestoreRefusedError(`The target database is not empty (${describe(existing)}); restore with --force to replace everything in it`);
}

function describe(c: Counts): string {
  return `${c.resources} resources, ${c.versions} history versions, ${c.auditEvents} access-log entries`;
}

async function countsOf(target: Extract<DatabaseTarget, { kind: 'postgres' }>): Promise<Counts> {
  const db = await openPostgres(target.url);
  try {
    return (await db.query<Counts & Record<string, unknown>>(COUNTS_SQL))[0]!;
  } finally {
    await db.close();
  }
}

/** Runs a PostgreSQL tool, passing its verbose lines on as progress; fails on a non-zero exit. */
function run(bin: string, args: string[], progress: Progress): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let tail = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      for (const line of chunk.split('\n').filter(Boolean)) {
        progress(line.replace(/postgres(ql)?:\/\/[^\s]*/g, '<database>'));
        tail = line;
      }
    });
    child.on('error', (err) => reject(new Error(`${bin} could not be started: ${err.message} (install postgresql-client)`)));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(bin)} failed (exit ${code}): ${tail}`))));
  });
}
