import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import { openDatabase } from '../../src/db/open.js';
import { Repository } from '../../src/fhir/repository/repository.js';

// Run the scripts in a plain `node --import tsx` process, so the pid we SIGKILL is the process
// holding the database (the tsx CLI would leave its node child running).
const NODE_ARGS = ['--import', 'tsx'];
const script = (name: string) => path.join(import.meta.dirname, 'scripts', name);

describe('the embedded PGlite store', function () {
  this.timeout(120_000);
  let dir: string;
  beforeEach(() => {
    dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'helsebro-')), 'data');
  });
  afterEach(() => {
    fs.rmSync(path.dirname(dir), { recursive: true, force: true });
  });

  it('an acknowledged write survives kill -9 of the server process', async () => {
    const child = spawn(process.execPath, [...NODE_ARGS, script('write-then-hang.ts'), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const id = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /ACK (\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.on('exit', (code) => reject(new Error(`child exited early with ${code}`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const db = await openDatabase({ kind: 'pglite', dataDir: dir });
    try {
      const patient = await new Repository(db).read('Patient', id, SYSTEM_ACCESS);
      expect(patient.id).to.equal(id);
    } finally {
      await db.close();
    }
  });

  it('a second process refuses to open a data folder that is in use, with a clear message', async () => {
    const db = await openDatabase({ kind: 'pglite', dataDir: dir });
    try {
      const res = spawnSync(process.execPath, [...NODE_ARGS, script('open-folder.ts'), dir], { encoding: 'utf8' });
      expect(res.stdout).to.match(/^LOCKED .*in use by another helsebro process/);
      expect(res.status).to.equal(3);
    } finally {
      await db.close();
    }
    const again = spawnSync(process.execPath, [...NODE_ARGS, script('open-folder.ts'), dir], { encoding: 'utf8' });
    expect(again.stdout).to.equal('OPENED\n');
  });

  it('migrations are numbered, applied once, and a reopen applies nothing new', async () => {
    const db = await openDatabase({ kind: 'pglite', dataDir: dir });
    const versions = (await db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).map((r) => Number(r.version));
    await db.close();
    expect(versions[0]).to.equal(1);
    expect(versions).to.deep.equal([...versions].sort((a, b) => a - b));
    const db2 = await openDatabase({ kind: 'pglite', dataDir: dir });
    const again = (await db2.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations'))[0]!.n;
    await db2.close();
    expect(Number(again)).to.equal(versions.length);
  });
});
