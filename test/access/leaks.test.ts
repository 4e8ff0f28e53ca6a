/**
 * No path around the policy: what a Standard proxy may not see (Kari's held result, her personal
 * note, her past appointments, visit notes, anybody else's record) stays invisible through
 * `_include`, `_revinclude`, chains, `_has`, history, compartment search, counts, batch and
 * transaction. And every access lands in the patient's own access log (S23).
 */
import { expect } from 'chai';
import type { AuditEvent, Bundle, Resource } from 'fhir/r4';
import { buildWorld, type TestedActor, type World } from './world.js';

const HELD = 'kari-kolesterol-2026-11-18';
const NOTE = 'kari-personlig-notat-1';
const PAST = 'kari-time-2019-03-11';

async function get(w: World, actor: TestedActor, path: string): Promise<{ status: number; body: Bundle & Record<string, unknown> }> {
  const res = await fetch(`${w.s.fhirBase}/${path}`, { headers: { authorization: `Bearer ${w.tokens[actor]}`, accept: 'application/fhir+json' } });
  return { status: res.status, body: (await res.json()) as Bundle & Record<string, unknown> };
}
async function post(w: World, actor: TestedActor, body: unknown): Promise<{ status: number; body: Bundle & Record<string, unknown> }> {
  const res = await fetch(`${w.s.fhirBase}`, { method: 'POST', headers: { authorization: `Bearer ${w.tokens[actor]}`, 'content-type': 'application/fhir+json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Bundle & Record<string, unknown> };
}
const refs = (b: Bundle) => (b.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);
const hidden = [`Observation/${HELD}`, `DocumentReference/${NOTE}`, `Appointment/${PAST}`];

describe('no way around the policy (issue 5: includes, chains, _has, history, batch, transaction)', function () {
  this.timeout(300_000);
  let w: World;
  before(async () => {
    w = await buildWorld();
  });
  after(() => w?.s.close());

  it('a result held for review is hidden from the patient herself until released (S18); clinical systems see it', async () => {
    expect((await get(w, 'self', `Observation/${HELD}`)).status).to.equal(404);
    expect((await get(w, 'system', `Observation/${HELD}`)).status).to.equal(200);
  });

  it('a search counts only what the actor may see (_summary=count, _total=accurate)', async () => {
    const all = await get(w, 'system', 'Observation?subject=Patient/kari-nordmann&_summary=count');
    const std = await get(w, 'standard', 'Observation?subject=Patient/kari-nordmann&_summary=count');
    expect(std.body.total).to.be.lessThan(all.body.total as number);
    const listed = await get(w, 'standard', 'Observation?_count=1000&_total=accurate');
    expect(listed.body.total).to.equal(std.body.total);
    expect(refs(listed.body)).not.to.include(`Observation/${HELD}`);
  });

  it('_include and _revinclude never bring in what a direct read would not', async () => {
    const inc = await get(w, 'standard', 'Patient?_id=kari-nordmann&_revinclude=Observation:subject&_revinclude=DocumentReference:subject&_revinclude=Appointment:actor&_count=1000');
    expect(inc.status).to.equal(200);
    for (const h of hidden) expect(refs(inc.body)).not.to.include(h);
    const wild = await get(w, 'standard', 'Patient?_id=kari-nordmann&_revinclude=*&_count=1000');
    for (const h of hidden) expect(refs(wild.body)).not.to.include(h);
    expect(refs(wild.body).some((r) => r.startsWith('Consent/') || r.startsWith('AuditEvent/'))).to.equal(false);
    const iter = await get(w, 'standard', 'Communication?_include=*&_include:iterate=*&_count=1000');
    for (const r of refs(iter.body)) expect(r.startsWith('Patient/') ? r : 'ok').to.be.oneOf(['ok', 'Patient/kari-nordmann']);
  });

  it('chains and _has cannot test hidden resources or another patient', async () => {
    // Kari's Patient is found through _has only by resources the proxy may see.
    const viaHeld = await get(w, 'standard', `Patient?_has:Observation:subject:_id=${HELD}`);
    expect(viaHeld.body.entry ?? []).to.have.length(0);
    const viaNote = await get(w, 'full', `Patient?_has:DocumentReference:subject:_id=${NOTE}`);
    expect(refs(viaNote.body)).to.deep.equal(['Patient/kari-nordmann']); // Full may see the note
    const other = await get(w, 'standard', 'Observation?subject:Patient.identifier=urn:oid:2.16.578.1.12.4.1.4.1|14887906344');
    expect(other.body.entry ?? []).to.have.length(0);
  });

  it('history shows no hidden resource and no other patient, at instance, type and system level', async () => {
    expect((await get(w, 'standard', `Observation/${HELD}/_history`)).status).to.be.oneOf([403, 404]);
    for (const path of ['Observation/_history?_count=1000', '_history?_count=1000', 'Appointment/_history?_count=1000']) {
      const h = await get(w, 'standard', path);
      expect(h.status, path).to.be.oneOf([200, 403]);
      if (h.status === 200) {
        for (const r of refs(h.body)) expect(hidden, `${path} ${r}`).not.to.include(r);
        const patients = (h.body.entry ?? []).map((e) => JSON.stringify(e.resource ?? {})).filter((t) => /Patient\/(?!kari-nordmann)[a-z-]+/.test(t.replace(/Practitioner\/[^"]+/g, '')));
        expect(patients, path).to.deep.equal([]);
      }
    }
  });

  it('batch and transaction entries get the same answers as single requests', async () => {
    const batch = await post(w, 'standard', {
      resourceType: 'Bundle', type: 'batch',
      entry: [
        { request: { method: 'GET', url: `Observation/${HELD}` } },
        { request: { method: 'GET', url: `DocumentReference/${NOTE}` } },
        { request: { method: 'GET', url: 'Patient/ola-nordmann' } },
        { request: { method: 'GET', url: 'Observation?_count=1000' } },
      ],
    });
    expect(batch.status).to.equal(200);
    const statuses = (batch.body.entry ?? []).map((e) => e.response?.status ?? '');
    expect(statuses[0]).to.match(/^404/);
    expect(statuses[1]).to.match(/^403|^404/);
    expect(statuses[2]).to.match(/^404/);
    expect(refs((batch.body.entry![3]!.resource as Bundle))).not.to.include(`Observation/${HELD}`);
    const tx = await post(w, 'standard', {
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        { request: { method: 'POST', url: 'Communication' }, resource: { resourceType: 'Communication', status: 'completed', subject: { reference: 'Patient/kari-nordmann' }, recipient: [{ reference: 'Organization/helsebro-legesenter' }], payload: [{ contentString: 'Skal rulles tilbake' }] } },
        { request: { method: 'DELETE', url: `Appointment/${PAST}` } },
      ],
    });
    expect(tx.status).to.be.oneOf([403, 404]);
    const msgs = await get(w, 'system', 'Communication?subject=Patient/kari-nordmann&_count=1000');
    expect(JSON.stringify(msgs.body)).not.to.include('Skal rulles tilbake'); // rolled back as a whole
  });

  it('Patient/$everything returns the represented patient’s compartment as the actor may see it, and nobody else’s', async () => {
    const std = await get(w, 'standard', 'Patient/kari-nordmann/$everything?_count=1000');
    expect(std.status).to.equal(200);
    expect(refs(std.body)).to.include('Patient/kari-nordmann');
    for (const h of hidden) expect(refs(std.body)).not.to.include(h);
    expect(refs(std.body).some((r) => r.startsWith('Encounter/') || r.startsWith('Consent/'))).to.equal(false);
    const full = await get(w, 'full', 'Patient/kari-nordmann/$everything?_count=1000');
    expect(refs(full.body)).to.include(`DocumentReference/${NOTE}`);
    // Naming another patient is refused outright, whether or not that patient exists (access-spec §4.7).
    expect((await get(w, 'standard', 'Patient/ola-nordmann/$everything')).status).to.equal(403);
    expect((await get(w, 'standard', 'Patient/no-such-patient/Observation')).status).to.equal(403);
    expect((await get(w, 'standard', 'Observation?subject=Patient/ola-nordmann')).status).to.equal(403);
    expect((await get(w, 'standard', 'Observation?patient=ola-nordmann')).status).to.equal(403);
    expect((await get(w, 'standard', 'Observation?patient=kari-nordmann')).status).to.equal(200);
  });

  it('a write into another patient’s record is 403, never a create (access-spec §4.7)', async () => {
    const res = await fetch(`${w.s.fhirBase}/Communication`, {
      method: 'POST', headers: { authorization: `Bearer ${w.tokens.full}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Communication', status: 'completed', subject: { reference: 'Patient/ola-nordmann' } }),
    });
    expect(res.status).to.equal(403);
  });

  it('every access by a proxy is in the patient’s access log, naming the proxy, the grant and the app (S23)', async () => {
    await get(w, 'read', 'Condition?_count=5');
    await get(w, 'read', 'Patient/kari-nordmann');
    const log = await get(w, 'self', 'AuditEvent?patient=Patient/kari-nordmann&_count=1000');
    expect(log.status).to.equal(200);
    const events = (log.body.entry ?? []).map((e) => e.resource as AuditEvent);
    const ingrid = events.filter((e) => e.agent.some((a) => a.who?.reference === 'RelatedPerson/fullmakt-kari-ingrid'));
    expect(ingrid.length).to.be.greaterThanOrEqual(2);
    expect(ingrid.some((e) => e.entity?.some((x) => x.what?.reference === 'Patient/kari-nordmann'))).to.equal(true);
    expect(ingrid.every((e) => e.agent.some((a) => a.policy?.includes('Consent/fullmakt-kari-ingrid')))).to.equal(true);
    expect(ingrid.every((e) => e.agent.some((a) => a.who?.identifier?.value === 'helsebro-portal'))).to.equal(true);
    // The log is Kari's alone: her proxies cannot read it (A6), and it names nobody else's records.
    expect((await get(w, 'full', 'AuditEvent')).status).to.equal(403);
    const others = events.flatMap((e) => (e.entity ?? []).map((x) => x.what?.reference ?? '')).filter((r) => r.startsWith('Patient/') && r !== 'Patient/kari-nordmann');
    expect(others).to.deep.equal([]);
  });

  it('a proxy’s write is logged and given a Provenance in the same transaction; a rolled-back write leaves neither', async () => {
    const write = await fetch(`${w.s.fhirBase}/Communication`, {
      method: 'POST', headers: { authorization: `Bearer ${w.tokens.full}`, 'content-type': 'application/fhir+json', prefer: 'return=minimal' },
      body: JSON.stringify({ resourceType: 'Communication', status: 'completed', subject: { reference: 'Patient/kari-nordmann' }, recipient: [{ reference: 'Organization/helsebro-legesenter' }], payload: [{ contentString: 'Fra Astrid' }] }),
    });
    expect(write.status).to.equal(201);
    const id = write.headers.get('location')!.split('/Communication/')[1]!.split('/')[0]!;
    const log = await get(w, 'self', `AuditEvent?entity=Communication/${id}`);
    const events = (log.body.entry ?? []).map((e) => e.resource as AuditEvent);
    expect(events).to.have.length(1);
    expect(events[0]!.action).to.equal('C');
    expect(events[0]!.agent[0]!.who?.reference).to.equal('RelatedPerson/fullmakt-kari-astrid');
    const prov = await get(w, 'system', `Provenance?target=Communication/${id}`);
    const p = prov.body.entry?.[0]?.resource as { agent: Array<{ who: { reference: string }; onBehalfOf: { reference: string } }> } | undefined;
    expect(p?.agent[0]).to.deep.include({ who: { reference: 'RelatedPerson/fullmakt-kari-astrid' }, onBehalfOf: { reference: 'Patient/kari-nordmann' } });

    const before = (await get(w, 'system', 'AuditEvent?_summary=count')).body.total;
    const tx = await post(w, 'full', {
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        { request: { method: 'POST', url: 'Communication' }, resource: { resourceType: 'Communication', status: 'completed', subject: { reference: 'Patient/kari-nordmann' }, recipient: [{ reference: 'Organization/helsebro-legesenter' }] } },
        { request: { method: 'POST', url: 'AuditEvent' }, resource: { resourceType: 'AuditEvent' } },
      ],
    });
    expect(tx.status).to.be.within(400, 499);
    expect((await get(w, 'system', 'AuditEvent?_summary=count')).body.total).to.equal(before);
  });

  it('a parent sees the child’s record but not what a clinician closed to parents (S12)', async () => {
    const docs = await get(w, 'parent', 'DocumentReference?_count=1000');
    expect(refs(docs.body)).to.include('DocumentReference/emma-personlig-notat-1');
    expect(refs(docs.body)).not.to.include('DocumentReference/emma-samtale-2026-05-20');
    expect((await get(w, 'parent', 'DocumentReference/emma-samtale-2026-05-20')).status).to.equal(404);
    const resources: Resource[] = (docs.body.entry ?? []).map((e) => e.resource!);
    expect(resources.every((r) => JSON.stringify(r).includes('emma-johansen'))).to.equal(true);
  });
});
