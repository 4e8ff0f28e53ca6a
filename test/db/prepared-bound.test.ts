/**
 * Prepared statements are bounded per pool (src/db/pg.ts): pg keeps a connection's named statements
 * for the connection's life, so a client sending ever new search shapes must not grow them without
 * limit. Real PostgreSQL only (PGlite prepares nothing); one connection, so what it holds is seen
 * in pg_prepared_statements.
 */
import { expect } from 'chai';
import { openPostgres, PREPARED_TEXTS_MAX } from '../../src/db/pg.js';

const url = process.env.DATABASE_URL ?? '';
const onPostgres = /^postgres(ql)?:\/\//.test(url);

describe('prepared statements: a bounded number of texts per pool', function () {
  this.timeout(120_000);
  before(function () {
    if (!onPostgres) this.skip(); // PGlite ignores `prepare`
  });

  it(`the first ${PREPARED_TEXTS_MAX} texts stay prepared, later ones run unprepared, and every one answers`, async () => {
    const db = await openPostgres(url, { max: 1 });
    try {
      const n = PREPARED_TEXTS_MAX + 40;
      for (let i = 0; i < n; i++) {
        const rows = await db.query<{ v: number }>(`SELECT $1::int + ${i} AS v`, [1], { prepare: true });
        expect(rows[0]!.v).to.equal(1 + i);
      }
      // The first text again: still prepared, still right.
      expect((await db.query<{ v: number }>('SELECT $1::int + 0 AS v', [5], { prepare: true }))[0]!.v).to.equal(5);
      const held = await db.query<{ n: number | string }>("SELECT count(*) AS n FROM pg_prepared_statements WHERE name LIKE 'h%'");
      expect(Number(held[0]!.n)).to.equal(PREPARED_TEXTS_MAX);
    } finally {
      await db.close();
    }
  });
});
