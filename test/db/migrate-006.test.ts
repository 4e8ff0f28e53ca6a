/**
 * Migration 006 on a database written before it (access-spec §5.1): index rows existed for current
 * versions only and history rows knew no compartments. After migrating, every stored version has its
 * own index rows and compartments, a tombstone is judged by the version it deleted, and vread/_history
 * answer per version. Runs on PGlite, or on PostgreSQL with DATABASE_URL.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { expect } from 'chai';
import type { AccessContext } from '../../src/access/access-context.js';
import type { Db } from '../../src/db/db.js';
import { listMigrations, migrate } from '../../src/db/migrate.js';
import { openPglite } from '../../src/db/pglite.js';
import { openPostgres } from '../../src/db/pg.js';
import { readHistory, readVersion } from '../../src/fhir/repository/history.js';
import { FhirError } from '../../src/fhir/errors.js';

const RELEASE = 'https://fhir.helsebro.no/CodeSystem/release-status';
const NOTE = 'https://fhir.helsebro.no/CodeSystem/document-category';

/** The patient side of the policy, reduced to the two slices under test. */
const patientSide: AccessContext = {
  actor: 'Patient/kari', patientId: 'kari', checkWrite: () => undefined,
  filters: [{ kind: 'compartment', patientIds: ['kari'] }, { kind: 'query', resourceType: 'Observation', query: `_tag:not=${RELEASE}|held` }],
};
const clinicianSide: AccessContext = {
  actor: 'Practitioner/anne', patientId: null, checkWrite: () => undefined,
  filters: [{ kind: 'query', resourceType: 'DocumentReference', query: `category:not=${NOTE}|personal-note` }],
};

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    if (err instanceof FhirError) return err.status;
    throw err;
  }
}

describe('migration 006: per-version index rows for a database written before it', function () {
  this.timeout(120_000);
  let db: Db;
  before(async () => {
    const url = process.env.DATABASE_URL;
    db = url && /^postgres(ql)?:\/\//.test(url) ? await openPostgres(url, { schema: `m_${randomBytes(6).toString('hex')}`, max: 2 }) : await openPglite(null);
    // The schema as it was before 006.
    await db.exec('CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
    for (const m of (await listMigrations()).filter((x) => x.version < 6)) {
      await db.exec(await fs.readFile(m.file, 'utf8'));
      await db.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    }
    // What the old code stored. Observation o1: v1 held (seq 1), v2 released (seq 2, current).
    // DocumentReference n1: v1 a personal note (seq 3), v2 its deletion (seq 4). Index rows: current versions only.
    const obs = (v: number, tag: string) => ({ resourceType: 'Observation', id: 'o1', meta: { versionId: String(v), tag: [{ system: RELEASE, code: tag }] }, status: 'final', code: { text: 'Kolesterol' }, subject: { reference: 'Patient/kari' } });
    const note = { resourceType: 'DocumentReference', id: 'n1', meta: { versionId: '1' }, status: 'current', subject: { reference: 'Patient/kari' }, category: [{ coding: [{ system: NOTE, code: 'personal-note' }] }], content: [{ attachment: { title: 'Hemmelig' } }] };
    await db.query(
      `INSERT INTO resource_history (seq, resource_type, id, version_id, last_updated, deleted, method, content) VALUES
        (1, 'Observation', 'o1', 1, now(), false, 'POST', $1), (2, 'Observation', 'o1', 2, now(), false, 'PUT', $2),
        (3, 'DocumentReference', 'n1', 1, now(), false, 'POST', $3), (4, 'DocumentReference', 'n1', 2, now(), true, 'DELETE', NULL)`,
      [obs(1, 'held'), obs(2, 'released'), note],
    );
    await db.query(
      `INSERT INTO resources (resource_type, id, version_id, last_updated, deleted, content, compartments, seq) VALUES
        ('Observation', 'o1', 2, now(), false, $1, '{kari}', 2), ('DocumentReference', 'n1', 2, now(), true, NULL, '{kari}', 4)`,
      [obs(2, 'released')],
    );
    await db.query("SELECT setval('history_seq', 4)");
    await db.query(`INSERT INTO sp_token (resource_type, resource_id, code, system, value) VALUES ('Observation', 'o1', '_tag', $1, 'released')`, [RELEASE]);
    await db.query(`INSERT INTO sp_reference (resource_type, resource_id, code, target_type, target_id) VALUES ('Observation', 'o1', 'subject', 'Patient', 'kari'), ('Observation', 'o1', 'patient', 'Patient', 'kari')`);
    // 006 and every later migration are applied, in order.
    const applied = await migrate(db);
    expect(applied[0]).to.equal(6);
    expect(applied).to.deep.equal([...applied].sort((a, b) => a - b));
  });
  after(() => db?.close());

  it('gives every stored version its own index rows and compartments, and a tombstone the version it deleted', async () => {
    const tags = await db.query<{ seq: string | number; value: string }>("SELECT seq, value FROM sp_token WHERE code = '_tag' ORDER BY seq");
    expect(tags.map((t) => [Number(t.seq), t.value])).to.deep.equal([[1, 'held'], [2, 'released']]);
    const categories = await db.query<{ seq: string | number }>("SELECT seq FROM sp_token WHERE code = 'category' AND value = 'personal-note'");
    expect(categories.map((c) => Number(c.seq))).to.deep.equal([3]);
    const history = await db.query<{ seq: string | number; compartments: string[]; access_seq: string | number }>('SELECT seq, compartments, access_seq FROM resource_history ORDER BY seq');
    expect(history.map((h) => [Number(h.seq), h.compartments, Number(h.access_seq)])).to.deep.equal([[1, ['kari'], 1], [2, ['kari'], 2], [3, ['kari'], 3], [4, ['kari'], 3]]);
    expect(await migrate(db)).to.deep.equal([]); // once only
  });

  it('answers vread and _history per version afterwards', async () => {
    expect(await status(readVersion(db, 'Observation', 'o1', '1', patientSide))).to.equal(404);
    expect(await status(readVersion(db, 'Observation', 'o1', '2', patientSide))).to.equal(200);
    const h = await readHistory(db, patientSide, { resourceType: 'Observation', id: 'o1', count: 10, fhirBase: 'x', path: 'x' });
    expect((h.entry ?? []).map((e) => e.response?.etag)).to.deep.equal(['W/"2"']);
    for (const v of ['1', '2']) expect(await status(readVersion(db, 'DocumentReference', 'n1', v, clinicianSide)), v).to.equal(404);
    expect(await status(readHistory(db, clinicianSide, { resourceType: 'DocumentReference', id: 'n1', count: 10, fhirBase: 'x', path: 'x' }))).to.equal(404);
    expect(await status(readVersion(db, 'DocumentReference', 'n1', '2', patientSide))).to.equal(410);
  });
});
