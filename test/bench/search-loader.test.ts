/**
 * The search bench's direct loader (bench/search-load.ts) must store exactly what the server stores for
 * the same resources, or its figures would describe a different database: the same resources (content,
 * version, compartments), the same history rows and the same search index rows. Checked against the
 * same Patient and Observations written over HTTP as a transaction Bundle (PUT keeps the bench's ids).
 */
import { expect } from 'chai';
import request from 'supertest';
import type { Bundle, BundleEntry, FhirResource } from 'fhir/r4';
import { benchDay, benchPatientId, loadPatients, patientResources } from '../../bench/search-load.js';
import { PATIENT_FNR } from '../../bench/support.js';
import { INDEX_TABLES } from '../../src/fhir/search/index-writer.js';
import type { Db } from '../../src/db/db.js';
import { createTestContext, type TestContext } from '../support/app.js';

const P = 7;
const PER_PATIENT = 6;

/** Everything stored about the bench resources, without what differs by when and how they were written. */
async function stored(db: Db): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  const rows = async (sql: string) => (await db.query<{ j: unknown }>(sql)).map((r) => (typeof r.j === 'string' ? r.j : JSON.stringify(r.j))).sort();
  out.resources = await rows(`SELECT jsonb_build_object('type', resource_type, 'id', id, 'v', version_id, 'deleted', deleted, 'comp', compartments, 'content', content #- '{meta,lastUpdated}') AS j FROM resources WHERE resource_type IN ('Patient', 'Observation')`);
  out.history = await rows(`SELECT jsonb_build_object('type', resource_type, 'id', id, 'v', version_id, 'deleted', deleted, 'comp', compartments, 'own', access_seq = seq, 'content', content #- '{meta,lastUpdated}') AS j FROM resource_history WHERE resource_type IN ('Patient', 'Observation')`);
  for (const t of INDEX_TABLES) {
    // Index rows of the bench resources only, with the version they belong to checked separately.
    out[t] = await rows(`SELECT to_jsonb(x) - 'seq' AS j FROM ${t} x WHERE x.resource_type IN ('Patient', 'Observation') AND x.code <> '_lastUpdated'`);
    const orphans = await db.query(`SELECT 1 FROM ${t} x WHERE x.resource_type IN ('Patient', 'Observation') AND NOT EXISTS (SELECT 1 FROM resources r WHERE r.seq = x.seq AND r.id = x.resource_id)`);
    expect(orphans, `${t} rows belong to the current version`).to.have.length(0);
  }
  return out;
}

describe('bench: the search loader stores what the server stores', function () {
  this.timeout(120_000); // two stores of the same resources; 30 s is not enough on a loaded machine
  let http: TestContext;
  let direct: TestContext;
  before(async () => {
    http = await createTestContext();
    direct = await createTestContext();
  });
  after(async () => {
    await http?.close();
    await direct?.close();
  });

  it('stores the same resources, history and index rows as a transaction Bundle, and they are found by search', async () => {
    const entry: Array<BundleEntry<FhirResource>> = patientResources(P, PER_PATIENT).map((r) => ({ resource: r as FhirResource, request: { method: 'PUT', url: `${r.resourceType}/${r.id}` } }));
    const res = await request(http.app).post('/fhir').set('content-type', 'application/fhir+json').send({ resourceType: 'Bundle', type: 'transaction', entry });
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).to.equal(200);

    let counted = 0;
    await loadPatients(direct.db, P, P + 1, PER_PATIENT, (n) => (counted += n));
    expect(counted).to.equal(PER_PATIENT);

    const a = await stored(http.db);
    const b = await stored(direct.db);
    expect(b.resources).to.have.length(PER_PATIENT);
    expect(b.sp_date.length, 'date rows').to.be.greaterThan(0);
    for (const k of Object.keys(a)) expect(b[k], k).to.deep.equal(a[k]);

    // And the loaded data answers the bench's searches: the patient's day, the chain on the fødselsnummer.
    const byDay = await request(direct.app).get(`/fhir/Observation?date=ge${benchDay(P)}&date=lt${benchDay(P + 1)}`);
    expect((byDay.body as Bundle).total).to.equal(PER_PATIENT - 1);
    const chained = await request(direct.app).get(`/fhir/Observation?subject:Patient.identifier=urn:oid:2.16.578.1.12.4.1.4.1|${PATIENT_FNR(P)}`);
    expect((chained.body as Bundle).total).to.equal(PER_PATIENT - 1);
    expect((chained.body as Bundle).entry![0]!.resource).to.deep.include({ subject: { reference: `Patient/${benchPatientId(P)}` } });
  });
});
