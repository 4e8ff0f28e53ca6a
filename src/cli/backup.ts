/**
 * npm run backup -- <file>
 *
 * Writes a full backup of the database given by DATABASE_URL: PostgreSQL → a pg_dump custom-format
 * archive; PGlite → a gzipped tar of its data folder (the server must be stopped: the folder is
 * locked by one process at a time). Progress lines go to stderr.
 * Exit codes: 0 done, 1 failure, 2 bad usage or configuration, 3 database folder in use.
 */
import { ConfigError, loadConfig } from '../config/config.js';
import { backup } from '../db/backup.js';
import { DataDirLockedError } from '../db/lock.js';

const USAGE = 'usage: npm run backup -- <file>   (database from DATABASE_URL)';

const file = process.argv.slice(2).find((a) => !a.startsWith('-'));
if (!file) {
  console.error(USAGE);
  process.exit(2);
}
try {
  const config = loadConfig();
  await backup(config.database, file, (m) => console.error(`backup: ${m}`));
  console.error('backup: done');
} catch (err) {
  console.error(`backup: ${(err as Error).message}`);
  process.exit(err instanceof ConfigError ? 2 : err instanceof DataDirLockedError ? 3 : 1);
}
