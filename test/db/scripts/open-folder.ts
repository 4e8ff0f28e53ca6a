// Child process that tries to open a PGlite folder and reports how that went.
import { openDatabase } from '../../../src/db/open.js';
import { DataDirLockedError } from '../../../src/db/lock.js';

try {
  const db = await openDatabase({ kind: 'pglite', dataDir: process.argv[2]! });
  process.stdout.write('OPENED\n');
  await db.close();
} catch (err) {
  process.stdout.write(err instanceof DataDirLockedError ? `LOCKED ${err.message}\n` : `ERROR ${(err as Error).message}\n`);
  process.exitCode = 3;
}
