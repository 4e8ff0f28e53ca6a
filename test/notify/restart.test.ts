/**
 * Nothing is lost on restart, nothing is sent twice (issue 14): a change is stored with its outbox
 * row while no server runs a worker; the next server process delivers it; the one after that finds
 * nothing left to send. On PGlite the database folder is really closed and reopened; on PostgreSQL
 * each "process" has its own connection pool on the same schema.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Basic, Resource } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import { CS } from '../../src/access/policy.js';
import { testConfig } from '../../src/config/config.js';
import type { Db } from '../../src/db/db.js';
import { openDatabase } from '../../src/db/open.js';
import { findMatchingIds } from '../../src/fhir/search/find-ids.js';
import { createLogger } from '../../src/log.js';
import { buildServer, createRepository } from '../../src/server.js';
import { preferences } from './support.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('notifications survive a restart and are delivered once (issue 14)', function () {
  this.timeout(120_000);
  const pgUrl = process.env.DATABASE_URL && /^postgres(ql)?:\/\//.test(process.env.DATABASE_URL) ? process.env.DATABASE_URL : null;
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const openedPg: Db[] = [];
  let dataDir: string;
  let outDir: string;

  before(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'helsebro-restart-db-'));
    outDir = await fs.mkdtemp(path.join(os.tmpdir(), 'helsebro-restart-out-'));
  });
  after(async () => {
    for (const db of openedPg.reverse()) await db.close().catch(() => undefined);
    await fs.rm(dataDir, { recursive: true, force: true });
    await fs.rm(outDir, { recursive: true, force: true });
  });

  /** One "process": its own database handle. */
  async function open(): Promise<Db> {
    if (pgUrl) {
      const db = await openDatabase({ kind: 'postgres', url: pgUrl }, { schema, max: 5 });
      openedPg.push(db);
      return db;
    }
    return openDatabase({ kind: 'pglite', dataDir });
  }
  const stop = async (db: Db) => {
    if (!pgUrl) await db.close(); // PostgreSQL handles are closed at the end (closing drops the test schema)
  };
  async function startServer(db: Db) {
    const config = testConfig({ notifyOutboxDir: outDir });
    return buildServer({ config, db, logger: createLogger('silent'), repo: createRepository(db), devIdp: false });
  }
  const emails = async () => (await fs.readFile(path.join(outDir, 'email.ndjson'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
  async function notifications(db: Db, patient: string): Promise<Basic[]> {
    const repo = createRepository(db);
    const ids = await findMatchingIds(db, 'Basic', `code=${CS.accountRecord}|notification&subject=Patient/${patient}`, SYSTEM_ACCESS, 100);
    return Promise.all(ids.map((id) => repo.read<Basic>('Basic', id, SYSTEM_ACCESS)));
  }

  it('written while no worker runs, delivered by the next process, not again by the one after', async () => {
    // Process 1 stores a message for Pia, and stops before any worker sent it.
    let db = await open();
    const repo = createRepository(db);
    const pia = (await repo.create({ resourceType: 'Patient', name: [{ family: 'Omstart', given: ['Pia'] }], telecom: [{ system: 'email', value: 'pia@example.no' }] } as Resource, SYSTEM_ACCESS)).resource;
    await repo.create(preferences(pia.id!, { 'new-message': ['in-app', 'email'] }), SYSTEM_ACCESS);
    await repo.create({ resourceType: 'Communication', status: 'completed', subject: { reference: `Patient/${pia.id}` }, recipient: [{ reference: `Patient/${pia.id}` }], sender: { reference: 'Practitioner/lege' } } as Resource, SYSTEM_ACCESS);
    const pending = await db.query<{ n: string | number }>("SELECT count(*) AS n FROM outbox WHERE status = 'pending'");
    expect(Number(pending[0]!.n)).to.equal(1);
    await stop(db);

    // Process 2 starts (buildServer starts its worker) and delivers.
    db = await open();
    let server = await startServer(db);
    for (let i = 0; i < 100 && (await emails()).length === 0; i++) await sleep(100);
    for (let i = 0; i < 50 && (await notifications(db, pia.id!)).length === 0; i++) await sleep(100);
    for (const close of server.extraClosers) await close();
    expect(await emails()).to.have.length(1);
    expect(JSON.parse((await emails())[0]!)).to.include({ to: 'pia@example.no', event: 'new-message' });
    expect(await notifications(db, pia.id!)).to.have.length(1);
    const row = await db.query<{ status: string }>('SELECT status FROM outbox');
    expect(row.map((r) => r.status)).to.deep.equal(['delivered']);
    await stop(db);

    // Process 3 finds nothing left to send.
    db = await open();
    server = await startServer(db);
    await sleep(2500); // more than one poll interval of its worker
    for (const close of server.extraClosers) await close();
    expect(await emails()).to.have.length(1);
    expect(await notifications(db, pia.id!)).to.have.length(1);
    await stop(db);
  });
});
