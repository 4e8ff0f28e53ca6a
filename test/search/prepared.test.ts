/**
 * Search SQL kept prepared (issue 11; search/execute.ts, db.ts `prepare`): a search confined to patients'
 * records is one SQL text per query shape, whatever the patient and values; a compartment search is kept
 * prepared, so PostgreSQL plans it once per connection and may switch to a generic plan after a few runs. What a user checks: the answers stay each
 * patient's own, run after run, when the same prepared text serves two patients alternately; a search that
 * is not confined (the system client) is not kept prepared.
 */
import { expect } from 'chai';
import type { Bundle, Observation } from 'fhir/r4';
import type { Queryable, QueryOptions, Row } from '../../src/db/db.js';
import { createCitizen, fhirGet } from '../auth/support.js';
import { buildWorld, PERSONAS, portalToken, type World } from '../access/world.js';

interface Sent { text: string; prepare: QueryOptions['prepare'] }

describe('search: one prepared text per query shape, answers stay each patient\'s own', function () {
  this.timeout(180_000);
  let w: World;
  const sent: Sent[] = [];
  let restore: () => void;
  const kari = PERSONAS.self.patient;
  // A second citizen acting for herself: the same relation as Kari's, so the same access predicate.
  let ada: string;
  let adaToken: string;

  before(async () => {
    w = await buildWorld();
    const citizen = await createCitizen(w.s.repo, { birthDate: '1985-03-09', family: 'Berg', given: 'Ada' });
    ada = citizen.patientId;
    adaToken = await portalToken(w.s, citizen.pid, ada);
    const entries = [kari, kari, kari, ada, ada].map((p, i) => ({
      resource: { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: i % 2 ? '8867-4' : '8480-6' }] }, subject: { reference: `Patient/${p}` }, effectiveDateTime: `2024-02-0${i + 1}` },
      request: { method: 'POST', url: 'Observation' },
    }));
    const tx = await fetch(w.s.fhirBase, { method: 'POST', headers: { authorization: `Bearer ${w.tokens.system}`, 'content-type': 'application/fhir+json' }, body: JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: entries }) });
    expect(tx.status).to.equal(200);
    const db = w.s.db as { query: Queryable['query'] };
    const original = db.query;
    db.query = <T extends Row = Row>(text: string, params?: readonly unknown[], opts?: QueryOptions): Promise<T[]> => {
      if (text.includes('search_snapshot')) sent.push({ text, prepare: opts?.prepare ?? false });
      return original.call(w.s.db, text, params, opts) as Promise<T[]>;
    };
    restore = () => void (db.query = original);
  });
  after(async () => {
    restore?.();
    await w?.s.close();
  });

  async function search(path: string, token: string): Promise<{ bundle: Bundle; sql: Sent }> {
    sent.length = 0;
    const res = await fhirGet(w.s, path, token);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    // The request's own search is the last (a first request may also look up the terms acceptance).
    expect(sent.length, 'a search statement').to.be.greaterThan(0);
    return { bundle: res.body as unknown as Bundle, sql: sent.at(-1)! };
  }
  const subjects = (b: Bundle) => (b.entry ?? []).map((e) => (e.resource as Observation).subject?.reference);
  const ids = (b: Bundle) => (b.entry ?? []).map((e) => e.resource!.id).sort();

  it('two patients\' compartment searches are one prepared text; eight alternating runs each show only that patient\'s Observations', async () => {
    // A token's first request is checked on its own; its later searches carry the grant check in their
    // own statement (search/execute.ts), a text of its own: the texts compared are the steady ones.
    await search(`Patient/${kari}/Observation`, w.tokens.self);
    await search(`Patient/${ada}/Observation`, adaToken);
    const first = { kari: await search(`Patient/${kari}/Observation`, w.tokens.self), ada: await search(`Patient/${ada}/Observation`, adaToken) };
    expect(first.kari.sql.text).to.equal(first.ada.sql.text);
    expect(first.kari.sql.prepare && first.ada.sql.prepare).to.equal(true);
    expect(subjects(first.kari.bundle)).to.include(`Patient/${kari}`).and.not.include(`Patient/${ada}`);
    expect(subjects(first.ada.bundle)).to.include(`Patient/${ada}`).and.not.include(`Patient/${kari}`);
    // PostgreSQL plans a prepared statement for its values five times, then may keep a generic plan.
    for (let i = 0; i < 8; i++) {
      const k = await search(`Patient/${kari}/Observation`, w.tokens.self);
      const e = await search(`Patient/${ada}/Observation`, adaToken);
      expect(ids(k.bundle), `run ${i}`).to.deep.equal(ids(first.kari.bundle));
      expect(ids(e.bundle), `run ${i}`).to.deep.equal(ids(first.ada.bundle));
      expect(k.bundle.total).to.equal(first.kari.bundle.total);
      expect(e.bundle.total).to.equal(first.ada.bundle.total);
    }
  });

  it('the same shape with other values (patient and code) is the same text, planned with its values, and finds what its values say', async () => {
    const a = await search(`Observation?patient=${kari}&code=http://loinc.org|8867-4`, w.tokens.self);
    const b = await search(`Observation?patient=${ada}&code=http://loinc.org|8480-6`, adaToken);
    expect(a.sql.text).to.equal(b.sql.text);
    // Kept prepared on PGlite only: PostgreSQL's generic plan for this shape cost twice the database
    // CPU of a plan made with the values (execute.ts, docs/bench.md w8-search).
    expect(a.sql.prepare).to.equal('in-process');
    for (const [r, p, code] of [[a, kari, '8867-4'], [b, ada, '8480-6']] as const) {
      expect(r.bundle.total).to.be.greaterThan(0);
      for (const e of r.bundle.entry ?? []) {
        const o = e.resource as Observation;
        expect(o.subject?.reference).to.equal(`Patient/${p}`);
        expect(o.code.coding?.map((c) => c.code)).to.include(code);
      }
    }
  });

  it('a search not confined to patients\' records (the system client) is not kept prepared', async () => {
    const r = await search(`Observation?code=http://loinc.org|8867-4`, w.tokens.system);
    expect(r.sql.prepare).to.equal(false);
    expect(r.bundle.total).to.be.greaterThan(0);
  });
});
