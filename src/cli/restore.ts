/**
 * npm run restore -- <file> [--force]
 *
 * Restores a backup made by `npm run backup` into the database given by DATABASE_URL (the same
 * storage mode it was taken from). Refuses a database that already holds resources unless
 * `--force`, which replaces everything in it. Stop the server first. Progress lines go to stderr.
 * Exit codes: 0 done, 1 failure, 2 bad usage or configuration, 3 database folder in use,
 * 4 target not empty (no --force).
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/config.js';
import { restore, RestoreRefusedError } from '../db/backup.js';
import { DataDirLockedError } from '../db/lock.js';

const USAGE = 'usage: npm run restore -- <file> [--force]   (database from DATABASE_URL)';

let file: string | undefined;
let force = false;
try {
  const { values, positionals } = parseArgs({ options: { force: { type: 'boolean', default: false } }, allowPositionals: true });
  [file] = positionals;
  force = values.force;
} catch {
  file = undefined;
}
if (!file) {
  console.error(USAGE);
  process.exit(2);
}
try {
  const config = loadConfig();
  await restore(config.database, file, { force }, (m) => console.error(`restore: ${m}`));
  console.error('restore: done');
} catch (err) {
  console.error(`restore: ${(err as Error).message}`);
  process.exit(err instanceof ConfigError ? 2 : err instanceof DataDirLockedError ? 3 : err instanceof RestoreRefusedError ? 4 : 1);
}
