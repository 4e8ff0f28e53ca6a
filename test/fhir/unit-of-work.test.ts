/**
 * The repository's unit of work (src/fhir/repository/unit-of-work.ts) on the real database: a write
 * committed by one statement is all or nothing with the inserts that ride in it, a commit probe's
 * work runs exactly when the probe is true (and the guarded one-statement attempt then stores nothing
 * twice), and parameters of joined statements are renumbered outside quoted text only.
 */
import { expect } from 'chai';
import type { Observation } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import type { Db } from '../../src/db/db.js';
import { Repository } from '../../src/fhir/repository/repository.js';
import { shiftPlaceholders } from '../../src/fhir/repository/unit-of-work.js';
import { openTestDatabase } from '../support/app.js';
import { countStatements } from '../support/count-statements.js';

describe('the unit of work of a repository transaction', function () {
  this.timeout(120_000);
  let db: Db;
  let repo: Repository;
  before(async () => {
    db = await openTestDatabase();
    repo = new Repository(db);
  });
  after(() => db?.close());

  const observation = (text: string): Observation => ({ resourceType: 'Observation', status: 'final', code: { text } });
  const stored = async (text: string) => Number((await db.query<{ n: number }>("SELECT count(*)::int AS n FROM resources WHERE resource_type = 'Observation' AND content->'code'->>'text' = $1", [text]))[0]!.n);
  const outbox = async (marker: string) => Number((await db.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox WHERE payload->>'marker' = $1", [marker]))[0]!.n);

  it('a create and an insert of its before-commit work are one statement, without BEGIN/COMMIT, and both are stored', async () => {
    const counter = countStatements(db);
    try {
      await repo.transaction(async (tx) => {
        await tx.create(observation('together'), SYSTEM_ACCESS);
        tx.beforeCommit({}, async (t) => void (await t.queryable.query("INSERT INTO outbox (kind, payload) VALUES ('notification', $1::jsonb)", [JSON.stringify({ marker: 'together', quoted: "it's $1" })])));
      });
      const sql = counter.take();
      expect(sql, sql.join('\n')).to.have.length(1);
      expect(sql[0]).to.match(/^WITH s AS/);
    } finally {
      counter.stop();
    }
    expect(await stored('together')).to.equal(1);
    expect(await outbox('together')).to.equal(1);
  });

  it('when an insert riding in the statement fails, the resource is not stored either', async () => {
    let failed: unknown;
    await repo
      .transaction(async (tx) => {
        await tx.create(observation('all-or-nothing'), SYSTEM_ACCESS);
        // Refused by the outbox's CHECK on kind.
        tx.beforeCommit({}, async (t) => void (await t.queryable.query('INSERT INTO outbox (kind, payload) VALUES ($1, $2::jsonb)', ['no-such-kind', '{"marker":"all-or-nothing"}'])));
      })
      .catch((err: unknown) => (failed = err));
    expect((failed as { code?: string }).code).to.equal('23514');
    expect(await stored('all-or-nothing')).to.equal(0);
    expect(await outbox('all-or-nothing')).to.equal(0);
  });

  for (const answer of [false, true]) {
    it(`a commit probe answering ${answer} ${answer ? 'runs' : 'skips'} its work, and the writes are stored once`, async () => {
      const text = `probe-${answer}`;
      let ran = 0;
      for (let i = 0; i < 2; i++) {
        await repo.transaction(async (tx) => {
          await tx.create(observation(text), SYSTEM_ACCESS);
          tx.beforeCommitIf({}, { hint: `test-${answer}`, sql: (params) => `$${params.push(answer)}::boolean` }, async (t) => {
            ran++;
            // The work sees the write it was asked about.
            const rows = await t.queryable.query("SELECT 1 FROM resources WHERE resource_type = 'Observation' AND content->'code'->>'text' = $1", [text]);
            expect(rows.length).to.equal(i + 1);
            await t.queryable.query("INSERT INTO outbox (kind, payload) VALUES ('notification', $1::jsonb)", [JSON.stringify({ marker: text })]);
          });
        });
      }
      expect(ran).to.equal(answer ? 2 : 0);
      expect(await stored(text)).to.equal(2);
      expect(await outbox(text)).to.equal(answer ? 2 : 0);
    });
  }

  it('a deletion is stored by the commit statement, and a deletion and a create stored together keep their order in history', async () => {
    const [first, second] = [(await repo.create(observation('to-delete-1'), SYSTEM_ACCESS)).resource.id!, (await repo.create(observation('to-delete-2'), SYSTEM_ACCESS)).resource.id!];
    const seqOf = async (id: string, method: string) => Number((await db.query<{ seq: number }>('SELECT seq FROM resource_history WHERE id = $1 AND method = $2', [id, method]))[0]!.seq);
    const counter = countStatements(db);
    let createdAfter = '';
    let createdBefore = '';
    try {
      // Deleted first, then created: one statement stores both (after the lock and its visibility check).
      await repo.transaction(async (tx) => {
        await tx.delete('Observation', first, SYSTEM_ACCESS);
        createdAfter = (await tx.create(observation('after-delete'), SYSTEM_ACCESS)).resource.id!;
      });
      const sql = counter.take();
      expect(sql.filter((s) => /UPDATE resources/.test(s)), sql.join('\n')).to.have.length(1);
      expect(sql.filter((s) => /UPDATE resources/.test(s))[0]).to.match(/INSERT INTO resources/);
      // Created first (buffered), then deleted: the lock of the deletion stores the create first.
      await repo.transaction(async (tx) => {
        createdBefore = (await tx.create(observation('before-delete'), SYSTEM_ACCESS)).resource.id!;
        await tx.delete('Observation', second, SYSTEM_ACCESS);
      });
    } finally {
      counter.stop();
    }
    expect(await seqOf(first, 'DELETE')).to.be.below(await seqOf(createdAfter, 'POST'));
    expect(await seqOf(createdBefore, 'POST')).to.be.below(await seqOf(second, 'DELETE'));
    for (const id of [first, second]) {
      const [row] = await db.query<{ deleted: boolean; version_id: number; content: unknown }>("SELECT deleted, version_id, content FROM resources WHERE resource_type = 'Observation' AND id = $1", [id]);
      expect(row).to.deep.include({ deleted: true, version_id: 2, content: null });
    }
    expect(await stored('after-delete')).to.equal(1);
    expect(await stored('before-delete')).to.equal(1);
  });

  it('renumbers $n outside literals, quoted identifiers and comments', () => {
    expect(shiftPlaceholders(`INSERT INTO t ("a$1", b) VALUES ($1, '$2 it''s $1') -- $3\n, ($2::jsonb)`, 5)).to.equal(`INSERT INTO t ("a$1", b) VALUES ($6, '$2 it''s $1') -- $3\n, ($7::jsonb)`);
    expect(() => shiftPlaceholders('SELECT $$x$$', 1)).to.throw(/dollar-quoted/);
  });
});
