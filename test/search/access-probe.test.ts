/**
 * A read's access check must not grow with the citizen's data (issue 11, read by id). The policy's
 * "patient-generated" slice (`performer=Patient/{patient}`, access-spec row 10) used to compile to
 * `seq IN (SELECT … performer rows …)`, which PostgreSQL ran as a hashed subplan over every one of the
 * citizen's device readings on each single-row read; as a correlated EXISTS the planner probes the
 * read row's own index rows instead. Measured where a user pays for it: the read's own statement,
 * sent over HTTP with a real portal token, explained as it ran (PostgreSQL; PGlite has no planner
 * statistics to speak of and is covered by the same semantics in the matrix tests).
 */
import { expect } from 'chai';
import type { Bundle, Observation } from 'fhir/r4';
import { portalToken } from '../access/world.js';
import { createCitizen, fhirGet, getDevSystemToken, startAuthTestServer, type AuthTestServer } from '../auth/support.js';
import { explainAsRun, heartRate, type PlanNode } from '../support/explain-as-run.js';

const onPostgres = /^postgres(ql)?:\/\//.test(process.env.DATABASE_URL ?? '');
const READINGS = 3_000;

/** Index rows of `table` the plan actually read, over all its scans of that table. */
function rowsReadFrom(node: PlanNode, table: string): number {
  const own = node['Relation Name'] === table ? (node['Actual Rows'] ?? 0) * (node['Actual Loops'] ?? 1) : 0;
  return own + (node.Plans ?? []).reduce((sum, child) => sum + rowsReadFrom(child, table), 0);
}

describe('a read by id does not scan the citizen’s device readings to decide access (issue 11)', function () {
  this.timeout(300_000);
  let s: AuthTestServer;
  let citizen: { patientId: string; pid: string };
  let token: string;
  let readingId: string;

  before(async function () {
    if (!onPostgres) this.skip();
    s = await startAuthTestServer();
    citizen = await createCitizen(s.repo, { seq: 41, birthDate: '1980-02-02' });
    const system = await getDevSystemToken(s.app);
    for (let start = 0; start < READINGS; start += 500) {
      const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: Array.from({ length: 500 }, (_, k) => ({ resource: heartRate(citizen.patientId, start + k, { ownDevice: true }), request: { method: 'POST', url: 'Observation' } })) };
      const res = await fetch(`${s.fhirBase}`, { method: 'POST', headers: { authorization: `Bearer ${system}`, 'content-type': 'application/fhir+json' }, body: JSON.stringify(bundle) });
      expect(res.status).to.equal(200);
      readingId ??= ((await res.json()) as Bundle).entry![0]!.response!.location!.split('/')[1]!;
    }
    // The statistics autovacuum would gather on a live server, now.
    await s.db.query('ANALYZE');
    token = await portalToken(s, citizen.pid, citizen.patientId);
  });
  after(() => s?.close());

  it(`the citizen's read of one of ${READINGS} own readings reads a handful of reference index rows, not thousands`, async () => {
    // First read: the token's full check; the second is the everyday path (the read carries the grant check).
    expect((await fhirGet(s, `Observation/${readingId}`, token)).status).to.equal(200);
    const { result: res, plans } = await explainAsRun(s.db, (text) => /^SELECT\b/i.test(text) && /\bsp_reference\b/.test(text), () => fhirGet(s, `Observation/${readingId}`, token));
    expect(res.status).to.equal(200);
    expect((res.body as unknown as Observation).id).to.equal(readingId);
    const explained = plans.map((root) => rowsReadFrom(root, 'sp_reference'));
    expect(explained, 'the read statement names the performer slice').to.have.length.greaterThan(0);
    for (const rows of explained) expect(rows, `reference index rows read by one read of ${READINGS} readings`).to.be.below(50);
  });
});
