/**
 * A search page reads out only its own rows (issue 11, compartment search and `Observation?patient&code`
 * ≥ 0.5 × ceiling). The page used to select the stored-text columns (`content - 'meta' …`::text,
 * repository/stored.ts) in the query that sorts the matches, and PostgreSQL computes a Sort's input
 * columns for every row it sorts: a citizen's 120 readings were turned into response text to keep 20.
 * Now the page's seqs are chosen first and only those rows are read out. Asserted where a user pays
 * for it: the search's own statement, sent over HTTP with a real portal token and explained as it ran
 * (EXPLAIN VERBOSE names the columns each plan node computes), on PGlite and PostgreSQL; and the pages
 * themselves: the right 20 in the right order, the next page the next 20.
 */
import { expect } from 'chai';
import type { Bundle, Observation } from 'fhir/r4';
import { portalToken } from '../access/world.js';
import { createCitizen, fhirGet, getDevSystemToken, startAuthTestServer, type AuthTestServer } from '../auth/support.js';
import { explainAsRun, heartRate, type PlanNode } from '../support/explain-as-run.js';

const READINGS = 120;
const COUNT = 20;

/** The most rows any one plan node built the response text for (an output column taking `content - 'meta'`). */
function mostTextBuilt(node: PlanNode): number {
  const own = (node.Output ?? []).some((o) => o.includes("'meta'")) ? (node['Actual Rows'] ?? 0) * (node['Actual Loops'] ?? 1) : 0;
  return Math.max(own, ...(node.Plans ?? []).map(mostTextBuilt));
}

describe('a search page reads out only its own rows (issue 11)', function () {
  this.timeout(300_000);
  let s: AuthTestServer;
  let citizen: { patientId: string; pid: string };
  let token: string;
  const ids: string[] = [];

  before(async () => {
    s = await startAuthTestServer();
    citizen = await createCitizen(s.repo, { seq: 43, birthDate: '1981-03-03' });
    const system = await getDevSystemToken(s.app);
    // One at a time: each reading its own lastUpdated, so the page order (newest first) is known.
    for (let i = 0; i < READINGS; i++) {
      const res = await fetch(`${s.fhirBase}/Observation`, { method: 'POST', headers: { authorization: `Bearer ${system}`, 'content-type': 'application/fhir+json' }, body: JSON.stringify(heartRate(citizen.patientId, i)) });
      expect(res.status).to.equal(201);
      ids.push(((await res.json()) as Observation).id!);
    }
    if (s.db.kind === 'postgres') await s.db.query('ANALYZE');
    token = await portalToken(s, citizen.pid, citizen.patientId);
  });
  after(() => s?.close());

  /** Runs the search over HTTP; returns the Bundle and, per statement that read resources, the most rows one plan node built response text for. */
  async function explainedSearch(path: string): Promise<{ bundle: Bundle; built: number[] }> {
    const { result: res, plans } = await explainAsRun(s.db, (text) => /^(WITH|SELECT)\b/i.test(text) && text.includes("content - 'meta'"), () => fhirGet(s, path, token), { verbose: true });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return { bundle: res.body as unknown as Bundle, built: plans.map(mostTextBuilt) };
  }

  const newestFirst = () => [...ids].reverse();

  for (const [name, path] of [
    ['compartment search', (p: string) => `Patient/${p}/Observation?_count=${COUNT}`],
    ['patient&code search', (p: string) => `Observation?patient=${p}&code=${encodeURIComponent('http://loinc.org|8867-4')}&_count=${COUNT}`],
    ['search with _total=accurate', (p: string) => `Observation?patient=${p}&_count=${COUNT}&_total=accurate`],
  ] as const) {
    it(`${name}: the 20 newest of ${READINGS} readings, text built for the page only, the next page the next 20`, async () => {
      // First search: the token's full check; the second is the everyday path (the search carries the grant check).
      expect((await fhirGet(s, path(citizen.patientId), token)).status).to.equal(200);
      const { bundle, built } = await explainedSearch(path(citizen.patientId));
      expect(bundle.entry!.map((e) => e.resource!.id)).to.deep.equal(newestFirst().slice(0, COUNT));
      expect(built, 'the search statement reads out stored text').to.have.length.greaterThan(0);
      for (const rows of built) expect(rows, `rows turned into response text for a page of ${COUNT} out of ${READINGS}`).to.be.at.most(COUNT + 1);

      const next = bundle.link!.find((l) => l.relation === 'next')!.url.split('/fhir/')[1]!;
      const second = await fhirGet(s, next, token);
      expect(second.status).to.equal(200);
      expect((second.body as unknown as Bundle).entry!.map((e) => e.resource!.id)).to.deep.equal(newestFirst().slice(COUNT, 2 * COUNT));
    });
  }
});
