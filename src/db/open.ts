import type { DatabaseTarget } from '../config/config.js';
import type { Db } from './db.js';
import { migrate } from './migrate.js';
import { openPglite } from './pglite.js';
import { openPostgres, type PgOptions } from './pg.js';

/** Opens the configured database and brings its schema up to date. */
export async function openDatabase(target: DatabaseTarget, pgOptions: PgOptions = {}): Promise<Db> {
  const db = target.kind === 'pglite' ? await openPglite(target.dataDir) : await openPostgres(target.url, pgOptions);
  try {
    await migrate(db);
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}
