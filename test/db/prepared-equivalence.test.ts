/**
 * Prepared statements on PGlite (src/db/pglite-prepared.ts): a statement run with `prepare: true` is
 * parsed once and then only bound and executed, and must answer exactly as the unprepared path does —
 * same rows, same parsed types (timestamptz, jsonb, arrays, bigint, NULL), same values per call when
 * the parameters change, and the same database errors. Runs on both databases (on PostgreSQL it checks
 * the pg driver's prepared path the same way).
 */
import { expect } from 'chai';
import type { Db } from '../../src/db/db.js';
import { openTestDatabase } from '../support/app.js';

describe('db: prepared statements answer as unprepared ones', function () {
  this.timeout(60_000);
  let db: Db;
  before(async () => {
    db = await openTestDatabase();
    await db.exec(`CREATE TABLE prep_t (id int PRIMARY KEY, at timestamptz, doc jsonb, tags text[], big bigint, note text)`);
    await db.query(`INSERT INTO prep_t VALUES (1, '2024-03-05T10:30:00Z', '{"a":[1,"x"]}', '{p,q}', 9007199254740993, NULL),
      (2, '2025-01-01T00:00:00.123Z', '{"b":null}', '{}', -1, 'ø å')`);
  });
  after(async () => db?.close());

  const text = 'SELECT id, at, doc, tags, big, note, $2::text AS echo FROM prep_t WHERE id = ANY($1::int[]) ORDER BY id';

  it('returns the same rows and types, run after run, as the values change', async () => {
    for (const [ids, echo] of [[[1], 'a'], [[2], null], [[1, 2], 'ø'], [[3], 'none'], [[2, 1], 'again']] as Array<[number[], string | null]>) {
      const plain = await db.query(text, [ids, echo]);
      const prepared = await db.query(text, [ids, echo], { prepare: true });
      expect(prepared).to.deep.equal(plain);
    }
    // Each driver parses timestamptz its own way (pg.ts keeps text); both paths of one driver agree (above).
    const [row] = await db.query<{ at: unknown; doc: unknown; tags: string[] }>(text, [[1], 'x'], { prepare: true });
    expect(new Date(row!.at as string).toISOString()).to.equal('2024-03-05T10:30:00.000Z');
    expect(row!.doc).to.deep.equal({ a: [1, 'x'] });
    expect(row!.tags).to.deep.equal(['p', 'q']);
  });

  it('fails with the same database error code, and the statement still works afterwards', async () => {
    const bad = 'SELECT 1 / $1::int AS x';
    const codeOf = async (p: Promise<unknown>) => p.then(() => 'no error', (e: { code?: string }) => e.code);
    expect(await codeOf(db.query(bad, [0], { prepare: true }))).to.equal(await codeOf(db.query(bad, [0])));
    expect(await db.query(bad, [2], { prepare: true })).to.deep.equal([{ x: 0 }]);
    expect(await codeOf(db.query('SELECT nope FROM prep_t', [], { prepare: true }))).to.equal('42703');
  });

  it('writes through a prepared statement are visible and durable like any other', async () => {
    await db.query('INSERT INTO prep_t (id, note) VALUES ($1, $2)', [3, 'written'], { prepare: true });
    expect(await db.query('SELECT note FROM prep_t WHERE id = 3')).to.deep.equal([{ note: 'written' }]);
  });
});
