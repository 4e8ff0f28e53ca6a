/**
 * PGlite keeps `prepare: true` statements prepared (src/db/pglite-prepared.ts): parsed and planned
 * once instead of on every call. A prepared statement must answer exactly as the same text run
 * unprepared — parameter and result types, NULLs, errors with their codes — and keep answering after
 * the schema or the statistics change under its plan. PGlite only (pg's prepared statements:
 * prepared-bound.test.ts).
 */
import { expect } from 'chai';
import type { Db } from '../../src/db/db.js';
import { isUniqueViolation } from '../../src/db/db.js';
import { openDatabase } from '../../src/db/open.js';
import { PREPARED_TEXTS_MAX } from '../../src/db/pg.js';

describe('PGlite prepared statements (issue 11)', function () {
  this.timeout(120_000);
  let db: Db;

  before(async () => {
    db = await openDatabase({ kind: 'pglite', dataDir: null });
    await db.exec(`CREATE TABLE prep_t (id text PRIMARY KEY, n bigint, x numeric, ok boolean, tags text[], doc jsonb, at timestamptz, note text)`);
  });
  after(async () => {
    await db?.close();
  });

  const INSERT = 'INSERT INTO prep_t (id, n, x, ok, tags, doc, at, note) VALUES ($1, $2, $3, $4, $5::text[], $6::jsonb, $7, $8) RETURNING id';
  const SELECT = `SELECT id, n, x, ok, tags, doc, doc::text AS doc_text, at, note, tags && $2::text[] AS overlaps
                    FROM prep_t WHERE id = ANY($1::text[]) ORDER BY id`;

  it('answers exactly as the unprepared statement: numbers, booleans, arrays, JSON, timestamps and NULLs', async () => {
    await db.query(INSERT, ['a', 9007199254740993n, '1.50', true, ['x', 'y,z', 'q"uote'], JSON.stringify({ k: [1, 'ø'] }), '2026-01-02T03:04:05.678Z', null], { prepare: true });
    await db.query(INSERT, ['b', -1, null, false, [], { k: null }, new Date('2025-06-01T00:00:00Z'), 'tekst æøå'], { prepare: true });
    await db.query(INSERT, ['c', null, '0', null, null, null, null, ''], {});
    for (const params of [[['a', 'b', 'c'], ['y,z']], [['b'], []], [['nobody'], ['x']]]) {
      const plain = await db.query(SELECT, params);
      const prepared = await db.query(SELECT, params, { prepare: true });
      expect(prepared).to.deep.equal(plain);
    }
    const rows = await db.query<{ id: string; tags: string[]; overlaps: boolean; note: string | null }>(SELECT, [['a', 'b', 'c'], ['y,z']], { prepare: true });
    expect(rows.map((r) => [r.id, r.tags, r.overlaps, r.note])).to.deep.equal([
      ['a', ['x', 'y,z', 'q"uote'], true, null],
      ['b', [], false, 'tekst æøå'],
      ['c', null, null, ''],
    ]);
  });

  it('an error keeps its code (a unique violation stays one) and the statement keeps working after it', async () => {
    const again = db.query(INSERT, ['a', 1, '1', true, [], {}, null, null], { prepare: true });
    const err = await again.then(() => null, (e: unknown) => e);
    expect(isUniqueViolation(err), String(err)).to.equal(true);
    expect(await db.query(INSERT, ['d', 1, '1', true, [], {}, null, null], { prepare: true })).to.deep.equal([{ id: 'd' }]);
    const bad = await db.query('SELECT $1::int AS v', ['not a number'], { prepare: true }).then(() => null, (e: unknown) => e as { code?: string });
    expect(bad?.code).to.equal('22P02');
    expect(await db.query('SELECT $1::int AS v', ['7'], { prepare: true })).to.deep.equal([{ v: 7 }]);
  });

  it('keeps answering after an index, ANALYZE and a new column change what its plan rests on', async () => {
    const q = 'SELECT id, note FROM prep_t WHERE id = $1';
    expect(await db.query(q, ['b'], { prepare: true })).to.deep.equal([{ id: 'b', note: 'tekst æøå' }]);
    await db.exec('CREATE INDEX prep_t_note ON prep_t (note); ANALYZE prep_t; ALTER TABLE prep_t ADD COLUMN extra int');
    expect(await db.query(q, ['b'], { prepare: true })).to.deep.equal([{ id: 'b', note: 'tekst æøå' }]);
  });

  it('inside a transaction and beside it: prepared statements see committed data and roll back with nothing left', async () => {
    await db.transaction(async (tx) => {
      await tx.query(INSERT, ['t1', 1, '1', true, [], {}, null, null], { prepare: true });
    });
    await db
      .transaction(async (tx) => {
        await tx.query(INSERT, ['t2', 1, '1', true, [], {}, null, null], { prepare: true });
        throw new Error('roll back');
      })
      .catch(() => undefined);
    expect(await db.query<{ id: string }>(SELECT, [['t1', 't2'], []], { prepare: true }).then((r) => r.map((x) => x.id))).to.deep.equal(['t1']);
  });

  it(`two first calls of one text at once both answer; beyond ${PREPARED_TEXTS_MAX} texts statements still answer (unprepared)`, async () => {
    const [one, two] = await Promise.all([db.query('SELECT $1::text || $2::text AS v', ['a', 'b'], { prepare: true }), db.query('SELECT $1::text || $2::text AS v', ['c', 'd'], { prepare: true })]);
    expect([one, two]).to.deep.equal([[{ v: 'ab' }], [{ v: 'cd' }]]);
    for (let i = 0; i < PREPARED_TEXTS_MAX + 20; i++) {
      expect(await db.query<{ v: number }>(`SELECT $1::int + ${i} AS v`, [1], { prepare: true })).to.deep.equal([{ v: 1 + i }]);
    }
    const held = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements');
    expect(held[0]!.n).to.equal(PREPARED_TEXTS_MAX);
  });
});
