import type { DatabaseTarget } from '../config/config.js';
import type { Db } from './db.js';
import { migrate } from './migrate.js';
import { openPglite } from './pglite.js';
import { openPostgres, type PgOptions } from './pg.js';

/**
 * Opens the configured database and brings its schema up to date. `onLocked` runs as soon as this
 * process may use the database (PGlite: its folder lock is held; PostgreSQL: at once), so the caller
 * can start other work while the database opens without delaying a refusal (main.ts).
 */
export async function openDatabase(target: DatabaseTarget, pgOptions: PgOptions = {}, onLocked?: () => void): Promise<Db> {
  if (target.kind === 'postgres') onLocked?.();
  const db = target.kind === 'pglite' ? await openPglite(target.dataDir, onLocked) : await openPostgres(target.url, pgOptions);
  try {
    await migrate(db);
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}
