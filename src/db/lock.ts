/**
 * An exclusive lock on a PGlite data folder. PGlite has no postmaster and no lock file, so two
 * processes on one folder would both write the WAL and corrupt it; the second must refuse to start.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

export interface DataDirLock {
  release(): Promise<void>;
}

export class DataDirLockedError extends Error {
  constructor(dataDir: string, pid: number) {
    super(`The data folder ${dataDir} is in use by another helsebro process (pid ${pid}). Stop it first, or set DATABASE_URL to another folder.`);
  }
}

export async function acquireDataDirLock(dataDir: string): Promise<DataDirLock> {
  await fs.mkdir(path.dirname(dataDir), { recursive: true });
  const lockFile = `${dataDir}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await fs.open(lockFile, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      let released = false;
      const release = async () => {
        if (released) return;
        released = true;
        await fs.rm(lockFile, { force: true });
      };
      return { release };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await fs.readFile(lockFile, 'utf8').catch(() => '')).trim());
      if (pid && pid !== process.pid && isAlive(pid)) throw new DataDirLockedError(dataDir, pid);
      if (pid === process.pid) throw new DataDirLockedError(dataDir, pid);
      // The owner died without cleaning up (kill -9): the lock is stale, take it over.
      await fs.rm(lockFile, { force: true });
    }
  }
  throw new Error(`Could not lock the data folder ${dataDir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
