/**
 * What one read costs the database (issue 11 "SQL per read: ≤ 3 statements, 0 writes to resource or
 * index tables"): the statements a patient token's and a proxy token's read and search send, counted
 * at the database driver, over HTTP with real tokens from the portal's SMART launch.
 */
import { expect } from 'chai';
import type { Consent, Patient } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import { CS, POLICY } from '../../src/access/policy.js';
import { PORTAL_CLIENT_ID } from '../../src/auth/clients.js';
import { isDeferrableRead } from '../../src/auth/resource-server.js';
import { fhirGet } from '../auth/support.js';
import { countStatements } from '../support/count-statements.js';
import { buildWorld, PERSONAS, subjectOf, type World } from './world.js';

const WRITES_TO_DATA = /^(INSERT|UPDATE|DELETE)\b[\s\S]*\b(resources|resource_history|sp_\w+)\b/i;

describe('SQL per read (issue 11)', function () {
  // The world (demo population, samples, seven tokens) takes minutes to build on a loaded machine, as in gates.test.ts.
  this.timeout(300_000);
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
    it(`a ${actor} token's read by id costs at most 2 statements (the read carrying the grant check, the access log) and writes no resource or index row`, async () => {
      const sql = await steadyState(`Observation/${observationId}`, w.tokens[actor]);
      expect(sql.filter((s) => WRITES_TO_DATA.test(s)), sql.join('\n')).to.deep.equal([]);
      expect(sql.length, sql.join('\n')).to.be.at.most(2);
      expect(sql.filter((s) => /\bauth_grants\b/.test(s)), 'the grant is still checked, in the read itself').to.have.length(1);
    });
  }

  // The read carries the grant check instead of a statement of its own (auth/resource-server.ts): an
  // ended token, an ended grant or a changed access fact still acts on the very next read, whatever it reads.
  it('the read that carries the grant check is a plain read by id only: never AuditEvent, Binary, history, operations or other methods', () => {
    const ROUTE = (path: string, method = 'GET') => isDeferrableRead({ method, path });
    expect(ROUTE('/Observation/abc-1.2')).to.equal(true);
    expect(ROUTE('/Patient/kari-nordmann', 'HEAD')).to.equal(true);
    for (const [path, method] of [['/AuditEvent/1'], ['/Binary/1'], ['/Observation/_history'], ['/Patient/$everything'], ['/Observation/1/_history/1'], ['/Observation/1/_history'],
      ['/Nonsense/1'], ['/metadata'], ['/Observation'], ['/Observation/1', 'PUT'], ['/Observation/1', 'DELETE'], ['/Observation/1', 'POST'], ['/Patient/1/Observation'], ['/Observation/' + 'x'.repeat(65)]] as Array<[string, string?]>) {
      expect(ROUTE(path, method), `${method ?? 'GET'} ${path}`).to.equal(false);
    }
  });

  it('with the grant check in the read, an access token revoked on its own is refused on the next read, whether or not the id exists (401, not 404)', async () => {
    const token = w.tokens.read;
    const patient = `Patient/${PERSONAS.read.patient}`;
    expect((await fhirGet(w.s, patient, token)).status).to.equal(200);
    expect((await fhirGet(w.s, 'Observation/no-such-id', token)).status).to.equal(404);
    const revoke = await fetch(`${w.s.baseUrl}/auth/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token, client_id: PORTAL_CLIENT_ID }) });
    expect(revoke.status).to.equal(200);
    for (const path of [patient, 'Observation/no-such-id', patient]) {
      const res = await fhirGet(w.s, path, token);
      expect(res.status, path).to.equal(401);
      expect(res.headers.get('www-authenticate'), path).to.match(/invalid_token/);
      expect(res.body.resourceType, path).to.equal('OperationOutcome');
    }
  });

  it('a proxy level lowered by the patient hides what the new level may not see on the proxy\'s very next read', async () => {
    const token = w.tokens.communicate;
    const message = subjectOf(w, 'communicate', POLICY.find((r) => r.resourceType === 'Communication' && r.slice === 'messages')!)!;
    const path = `${message.type}/${message.id}`;
    const first = await fhirGet(w.s, path, token);
    expect(first.status, JSON.stringify(first.body)).to.equal(200);
    expect((await fhirGet(w.s, path, token)).status).to.equal(200);
    const found = await fhirGet(w.s, `Consent?actor=RelatedPerson/${PERSONAS.communicate.rp}`, w.tokens.system);
    const consent = ((found.body.entry as Array<{ resource: Consent }>) ?? []).map((e) => e.resource).find((c) => c.status === 'active')!;
    const level = (c: Consent, code: string): Consent => ({ ...c, policyRule: { ...c.policyRule, coding: (c.policyRule?.coding ?? []).map((x) => (x.system === CS.proxyLevel ? { ...x, code } : x)) } });
    const put = (c: Consent) => fetch(`${w.s.fhirBase}/Consent/${c.id}`, { method: 'PUT', headers: { authorization: `Bearer ${w.tokens.system}`, 'content-type': 'application/fhir+json' }, body: JSON.stringify(c) });
    expect((await put(level(consent, 'read'))).status).to.equal(200);
    expect((await fhirGet(w.s, path, token)).status, 'a Read proxy sees no messages').to.equal(404);
    const now = await w.s.repo.read<Consent>('Consent', consent.id!, SYSTEM_ACCESS);
    expect((await put(level(now, 'communicate'))).status).to.equal(200);
    const back = await fhirGet(w.s, path, token);
    expect(back.status).to.equal(200);
    expect(back.body.id).to.equal(message.id);
  });

  it('a change that leaves access as it was is read through at once, with the grant checked again on its own', async () => {
    const token = w.tokens.standard;
    const path = `Observation/${observationId}`;
    const first = await fhirGet(w.s, path, token);
    expect(first.status, JSON.stringify(first.body)).to.equal(200);
    const patient = await w.s.repo.read<Patient>('Patient', PERSONAS.self.patient, SYSTEM_ACCESS);
    await w.s.repo.update({ ...patient, telecom: [...(patient.telecom ?? []), { system: 'email', value: 'kari@example.no' }] }, SYSTEM_ACCESS);
    counter.take();
    const res = await fhirGet(w.s, path, token);
    expect(res.status).to.equal(200);
    expect(res.body.id).to.equal(observationId);
    const sql = counter.take();
    // The read under the old version finds the version moved, so the full check runs and the row is read again.
    expect(sql.filter((s) => /\bauth_grants\b/.test(s)), sql.join('\n')).to.have.length(2);
    expect(await steadyState(path, token)).to.have.length.at.most(2);
  });

  // The search (snapshot, count and page in one statement) carrying the grant check and access version
  // (search/execute.ts, as the read does), and the access log.
  for (const query of ['', '?_total=none', '?_total=accurate', '?_count=1', '?_summary=count']) {
    it(`a compartment search by a patient token (${query || 'default _total'}) costs at most 2 statements and writes no resource or index row`, async () => {
      const sql = await steadyState(`Patient/${PERSONAS.self.patient}/Observation${query}`, w.tokens.self);
      expect(sql.filter((s) => WRITES_TO_DATA.test(s)), sql.join('\n')).to.deep.equal([]);
      expect(sql.length, sql.join('\n')).to.be.at.most(2);
      expect(sql.filter((s) => /\bauth_grants\b/.test(s)), 'the grant is still checked, in the search itself').to.have.length(1);
    });
  }

  it('a proxy\'s search by patient and code costs at most 2 statements', async () => {
    const sql = await steadyState(`Observation?patient=${PERSONAS.standard.patient}&code=http://loinc.org|8867-4`, w.tokens.standard);
    expect(sql.length, sql.join('\n')).to.be.at.most(2);
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
