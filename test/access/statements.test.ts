/**
 * What one read costs the database (issue 11 "SQL per read: ≤ 3 statements, 0 writes to resource or
 * index tables"): the statements a patient token's and a proxy token's read and search send, counted
 * at the database driver, over HTTP with real tokens from the portal's SMART launch.
 */
import { expect } from 'chai';
import type { Consent, Patient } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import type { Db, Queryable } from '../../src/db/db.js';
import { fhirGet } from '../auth/support.js';
import { buildWorld, PERSONAS, type World } from './world.js';

/** Counts every statement sent through `db` (and the transactions it opens) while `fn` runs. */
export function countStatements(db: Db): { take(): string[]; stop(): void } {
  const seen: string[] = [];
  const original = { query: db.query, transaction: db.transaction };
  const wrap = (q: Queryable): Queryable => ({
    query: (text, params) => {
      seen.push(text.replace(/\s+/g, ' ').trim());
      return q.query(text, params);
    },
    exec: (script) => {
      seen.push(script.replace(/\s+/g, ' ').trim());
      return q.exec(script);
    },
  });
  const mutable = db as { -readonly [K in keyof Db]: Db[K] };
  mutable.query = wrap({ query: original.query.bind(db), exec: db.exec.bind(db) }).query;
  mutable.transaction = <T>(fn: (tx: Queryable) => Promise<T>): Promise<T> => {
    seen.push('BEGIN');
    return original.transaction.call<Db, [(tx: Queryable) => Promise<T>], Promise<T>>(db, (tx) => fn(wrap(tx))).finally(() => seen.push('COMMIT'));
  };
  return {
    take: () => seen.splice(0),
    stop: () => Object.assign(mutable, original),
  };
}

const WRITES_TO_DATA = /^(INSERT|UPDATE|DELETE)\b[\s\S]*\b(resources|resource_history|sp_\w+)\b/i;

describe('SQL per read (issue 11)', function () {
  this.timeout(120_000);
  let w: World;
  let counter: ReturnType<typeof countStatements>;
  let observationId: string;

  before(async () => {
    w = await buildWorld();
    const res = await fetch(`${w.s.fhirBase}/Observation`, {
      method: 'POST',
      headers: { authorization: `Bearer ${w.tokens.system}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Observation', status: 'final', code: { text: 'Puls' }, subject: { reference: `Patient/${PERSONAS.self.patient}` }, performer: [{ reference: `Patient/${PERSONAS.self.patient}` }] }),
    });
    observationId = ((await res.json()) as { id: string }).id;
    counter = countStatements(w.s.db);
  });
  after(async () => {
    counter?.stop();
    await w?.s.close();
  });

  /** The statements of the second of two identical requests (the first may warm caches). */
  async function steadyState(path: string, token: string): Promise<string[]> {
    expect((await fhirGet(w.s, path, token)).status).to.equal(200);
    counter.take();
    const res = await fhirGet(w.s, path, token);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return counter.take();
  }

  for (const actor of ['self', 'standard'] as const) {
    it(`a ${actor} token's read by id costs at most 3 statements and writes no resource or index row`, async () => {
      const sql = await steadyState(`Observation/${observationId}`, w.tokens[actor]);
      expect(sql.filter((s) => WRITES_TO_DATA.test(s)), sql.join('\n')).to.deep.equal([]);
      expect(sql.length, sql.join('\n')).to.be.at.most(3);
    });

  }

  // Grant + access version, the search (snapshot, count and page in one statement), the access log.
  for (const query of ['', '?_total=none', '?_total=accurate', '?_count=1', '?_summary=count']) {
    it(`a compartment search by a patient token (${query || 'default _total'}) costs at most 3 statements and writes no resource or index row`, async () => {
      const sql = await steadyState(`Patient/${PERSONAS.self.patient}/Observation${query}`, w.tokens.self);
      expect(sql.filter((s) => WRITES_TO_DATA.test(s)), sql.join('\n')).to.deep.equal([]);
      expect(sql.length, sql.join('\n')).to.be.at.most(3);
    });
  }

  it('a proxy\'s search by patient and code costs at most 3 statements', async () => {
    const sql = await steadyState(`Observation?patient=${PERSONAS.standard.patient}&code=http://loinc.org|8867-4`, w.tokens.standard);
    expect(sql.length, sql.join('\n')).to.be.at.most(3);
  });

  // The cached relation (access/relation-cache.ts) must never outlive a change that matters, whichever
  // door the change came through and whichever process made it: the access version is bumped by the
  // database in the writing transaction (migration 010).
  it('a proxy grant ended by a transaction Bundle from another client acts on the proxy\'s very next read', async () => {
    const path = `Patient/${PERSONAS.full.patient}`;
    expect((await fhirGet(w.s, path, w.tokens.full)).status).to.equal(200);
    expect((await fhirGet(w.s, path, w.tokens.full)).status).to.equal(200);
    const found = await fhirGet(w.s, `Consent?actor=RelatedPerson/${PERSONAS.full.rp}`, w.tokens.system);
    const consent = ((found.body.entry as Array<{ resource: Consent }>) ?? []).map((e) => e.resource).find((c) => c.status === 'active')!;
    expect(consent, 'the fixture grant of the full proxy').to.exist;
    const tx = await fetch(`${w.s.fhirBase}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${w.tokens.system}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { ...consent, status: 'inactive' }, request: { method: 'PUT', url: `Consent/${consent.id}` } }] }),
    });
    expect(tx.status).to.equal(200);
    expect((await fhirGet(w.s, path, w.tokens.full)).status).to.equal(401);
  });

  it('a death written by another process (straight to the repository, not through this server) acts on the patient\'s very next read', async () => {
    const path = `Patient/${PERSONAS.self.patient}`;
    expect((await fhirGet(w.s, path, w.tokens.self)).status).to.equal(200);
    const patient = await w.s.repo.read<Patient>('Patient', PERSONAS.self.patient, SYSTEM_ACCESS);
    await w.s.repo.update({ ...patient, deceasedDateTime: '2026-01-01T10:00:00Z' }, SYSTEM_ACCESS);
    expect((await fhirGet(w.s, path, w.tokens.self)).status).to.equal(401);
    expect((await fhirGet(w.s, path, w.tokens.standard)).status, 'and for everyone acting for them (G1)').to.equal(401);
  });
});
