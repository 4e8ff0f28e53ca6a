/**
 * `npm run seed` as a user runs it: a separate process on a pglite:// folder, configured only by
 * the environment. Afterwards the folder is opened here and every resource of every demo Bundle
 * must be stored as the file has it.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Bundle, Resource } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import { openDatabase } from '../../src/db/open.js';
import type { Repository } from '../../src/fhir/repository/repository.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { demoBundleFiles } from '../../src/seed/seed.js';
import { createRepository } from '../../src/server.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Production settings the configuration insists on, so only the seed's own refusal is tested. */
const PRODUCTION_ENV = { NODE_ENV: 'production', SESSION_SECRET: 'x'.repeat(40), IDPORTEN_ISSUER: 'https://idporten.example', IDPORTEN_CLIENT_SECRET: 'secret', REGISTRATION_TOKEN: 'reg' };

function runSeed(databaseUrl: string, args: string[] = [], env: Record<string, string> = {}): Promise<Run> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'info', ...env };
  if (!env.NODE_ENV) delete childEnv.NODE_ENV;
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'src/cli/seed.ts'), ...args], { cwd: PROJECT_ROOT, env: childEnv }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const logLines = (out: string) => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

const expected: Resource[] = demoBundleFiles().flatMap((f) => ((JSON.parse(fs.readFileSync(f, 'utf8')) as Bundle).entry ?? []).map((e) => e.resource!));

async function withDb<T>(dataDir: string, fn: (repo: Repository) => Promise<T>): Promise<T> {
  const db = await openDatabase({ kind: 'pglite', dataDir });
  try {
    return await fn(createRepository(db));
  } finally {
    await db.close();
  }
}

describe('npm run seed (src/cli/seed.ts)', function () {
  this.timeout(180_000);
  let tmp: string;
  let dataDir: string;
  let url: string;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'helsebro-seed-'));
    dataDir = path.join(tmp, 'data');
    url = `pglite://${dataDir}`;
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('has fixtures to load', () => {
    expect(expected.length).to.be.greaterThan(10);
  });

  it('refuses in production without --force, and touches nothing', async () => {
    const run = await runSeed(url, [], PRODUCTION_ENV);
    expect(run.code).to.equal(2);
    expect(run.stderr).to.match(/refusing/);
    expect(logLines(run.stdout).some((l) => l.level === 'error' && l.msg === 'seed refused in production')).to.equal(true);
    expect(fs.existsSync(dataDir)).to.equal(false);
  });

  it('loads every demo resource, logging JSON progress on stdout and a progress line on stderr', async () => {
    const run = await runSeed(url);
    expect(run.code, run.stderr).to.equal(0);
    const logs = logLines(run.stdout);
    const files = demoBundleFiles().length;
    expect(logs.filter((l) => l.msg === 'seed progress')).to.have.length(files);
    expect(logs.find((l) => l.msg === 'seed done')).to.deep.include({ resources: expected.length, created: expected.length, unchanged: 0 });
    expect(run.stderr).to.include(`seed: ${files}/${files} files · ${expected.length} resources`);

    await withDb(dataDir, async (repo) => {
      for (const r of expected) {
        const stored = await repo.read(r.resourceType, r.id!, SYSTEM_ACCESS);
        expect(stored.meta?.versionId, `${r.resourceType}/${r.id}`).to.equal('1');
        // Fields other than references (which the transaction resolves from urn:uuid) are stored as sent.
        for (const key of ['identifier', 'name', 'birthDate', 'status', 'code'] as const) {
          if (key in r) expect((stored as unknown as Record<string, unknown>)[key], `${r.resourceType}/${r.id}.${key}`).to.deep.equal((r as unknown as Record<string, unknown>)[key]);
        }
      }
    });
  });

  it('is idempotent: a second run (here in production with --force) finds everything unchanged and writes no version', async () => {
    const run = await runSeed(url, ['--force'], PRODUCTION_ENV);
    expect(run.code, run.stderr).to.equal(0);
    expect(logLines(run.stdout).find((l) => l.msg === 'seed done')).to.deep.include({ created: 0, updated: 0, unchanged: expected.length });
    await withDb(dataDir, async (repo) => {
      const rows = await repo.queryable.query<{ n: string | number; max: string | number }>('SELECT count(*) AS n, max(version_id) AS max FROM resources');
      expect(Number(rows[0]!.n)).to.equal(expected.length);
      expect(Number(rows[0]!.max)).to.equal(1);
    });
  });

  it('a changed resource is written again; the rest of its Bundle keeps its content', async () => {
    const patient = expected.find((r) => r.resourceType === 'Patient')!;
    await withDb(dataDir, async (repo) => {
      await repo.update({ ...patient, birthDate: '1901-01-01' } as Resource, SYSTEM_ACCESS);
    });
    const run = await runSeed(url);
    expect(run.code, run.stderr).to.equal(0);
    const done = logLines(run.stdout).find((l) => l.msg === 'seed done')!;
    expect(done.updated).to.be.greaterThan(0);
    await withDb(dataDir, async (repo) => {
      const stored = await repo.read(patient.resourceType, patient.id!, SYSTEM_ACCESS);
      expect((stored as { birthDate?: string }).birthDate).to.equal((patient as { birthDate?: string }).birthDate);
    });
  });

  it('refuses with exit code 3 while another process holds the database folder', async () => {
    const db = await openDatabase({ kind: 'pglite', dataDir });
    try {
      const run = await runSeed(url);
      expect(run.code).to.equal(3);
      expect(run.stderr).to.match(/in use/);
    } finally {
      await db.close();
    }
  });
});
