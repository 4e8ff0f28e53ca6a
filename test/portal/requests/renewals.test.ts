/**
 * Prescription renewals and allergy additions (issue 13; access-spec §5.3 row 23, A14) over HTTP with
 * real tokens of each actor: who may send, what the server fills in, what is refused and where, how
 * the clinic answers, and the other doors (PATCH, batch and transaction entries, conditional create,
 * history).
 */
import { expect } from 'chai';
import type { AllergyIntolerance, Bundle, MedicationRequest, Task } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../../src/access/access-context.js';
import { buildWorld, type World } from '../../access/world.js';
import { call, diag, type Res } from '../http.js';
import { allergyRequest, CLINIC, clinicianToken, EMMA, HPR, KARI, renewal } from './support.js';

const JSON_PATCH = 'application/json-patch+json';
const issue = (r: Res) => ({ status: r.status, where: r.body.issue?.[0]?.expression?.[0] as string | undefined });

describe('prescription renewals and allergy additions (issue 13, row 23)', function () {
  this.timeout(600_000);
  let w: World;
  let anne: string;
  let magnus: string;

  before(async () => {
    w = await buildWorld();
    anne = await clinicianToken(w, HPR.anne);
    magnus = await clinicianToken(w, HPR.magnus);
  });
  after(() => w?.s.close());

  it('the patient renews an own active prescription → 201: requester from the token, owner the prescriber\'s clinic, sent now', async () => {
    const r = await call(w, w.tokens.self, 'POST', 'Task', renewal('kari-resept-metformin'));
    expect(r.status, diag(r)).to.equal(201);
    expect(r.body.requester).to.deep.equal(KARI);
    expect(r.body.owner).to.deep.equal({ reference: CLINIC });
    expect(Date.now() - Date.parse(r.body.authoredOn)).to.be.within(0, 60_000);
    // One open renewal per prescription: a Standard proxy asking again is told which request waits.
    const again = await call(w, w.tokens.standard, 'POST', 'Task', renewal('kari-resept-metformin'));
    expect(issue(again)).to.deep.equal({ status: 422, where: 'Task.focus' });
    expect(again.body.issue[0].diagnostics).to.contain(`Task/${r.body.id}`);
    // Withdrawn, it no longer blocks; the proxy's request carries the proxy as requester (§5.2).
    const withdrawn = await call(w, w.tokens.self, 'PATCH', `Task/${r.body.id}`, [{ op: 'replace', path: '/status', value: 'cancelled' }], JSON_PATCH);
    expect(withdrawn.status, diag(withdrawn)).to.equal(200);
    const std = await call(w, w.tokens.standard, 'POST', 'Task', renewal('kari-resept-metformin'));
    expect(std.status, diag(std)).to.equal(201);
    expect(std.body.requester).to.deep.equal({ reference: 'RelatedPerson/fullmakt-kari-ola' });
  });

  it('who may send (A14): Self, Standard, Full and parents yes; Read and Communicate no (403)', async () => {
    const sent: Record<string, number> = {};
    for (const actor of ['self', 'standard', 'read', 'communicate', 'full'] as const) {
      sent[actor] = (await call(w, w.tokens[actor], 'POST', 'Task', allergyRequest(`Latex (${actor})`))).status;
    }
    sent.parent = (await call(w, w.tokens.parent, 'POST', 'Task', allergyRequest('Bie- og vepsestikk', { for: EMMA }))).status;
    expect(sent).to.deep.equal({ self: 201, standard: 201, read: 403, communicate: 403, full: 201, parent: 201 });
    const parentRenewal = await call(w, w.tokens.parent, 'POST', 'Task', renewal('emma-resept-adrenalin', { for: EMMA }));
    expect(parentRenewal.status, diag(parentRenewal)).to.equal(201);
    expect((await call(w, w.tokens.read, 'POST', 'Task', renewal('kari-resept-levaxin'))).status).to.equal(403);
    expect((await call(w, w.tokens.communicate, 'POST', 'Task', renewal('kari-resept-levaxin'))).status).to.equal(403);
  });

  it('someone else\'s prescription, or an unknown id → 403 naming Task.focus, with the same words', async () => {
    const other = await call(w, w.tokens.self, 'POST', 'Task', renewal('emma-resept-adrenalin'));
    const unknown = await call(w, w.tokens.self, 'POST', 'Task', renewal('finnes-ikke'));
    expect(issue(other)).to.deep.equal({ status: 403, where: 'Task.focus' });
    expect(issue(unknown)).to.deep.equal({ status: 403, where: 'Task.focus' });
    expect(other.body.issue[0].diagnostics.replace('emma-resept-adrenalin', 'X')).to.equal(unknown.body.issue[0].diagnostics.replace('finnes-ikke', 'X'));
    // A parent cannot reach Kari's prescription through Emma's record, nor file into Kari's record.
    expect(issue(await call(w, w.tokens.parent, 'POST', 'Task', renewal('kari-resept-metformin', { for: EMMA })))).to.deep.equal({ status: 403, where: 'Task.focus' });
    expect((await call(w, w.tokens.parent, 'POST', 'Task', renewal('kari-resept-metformin'))).status).to.equal(403);
  });

  it('not renewable → 422 naming Task.focus: stopped by the prescriber, entered in error, ended long ago', async () => {
    const stopped = await call(w, w.tokens.self, 'POST', 'Task', renewal('kari-resept-ibuprofen'));
    expect(issue(stopped)).to.deep.equal({ status: 422, where: 'Task.focus' });
    expect(stopped.body.issue[0].diagnostics).to.contain('stopped');
    const base: MedicationRequest = { resourceType: 'MedicationRequest', status: 'entered-in-error', intent: 'order', subject: KARI, medicationCodeableConcept: { text: 'Feilregistrert' } };
    const wrong = (await w.s.repo.create(base, SYSTEM_ACCESS)).resource;
    expect(issue(await call(w, w.tokens.self, 'POST', 'Task', renewal(wrong.id!)))).to.deep.equal({ status: 422, where: 'Task.focus' });
    const old = (await w.s.repo.create<MedicationRequest>({ ...base, status: 'completed', authoredOn: '2022-01-10', dispenseRequest: { validityPeriod: { end: '2023-01-10' } } }, SYSTEM_ACCESS)).resource;
    const ended = await call(w, w.tokens.full, 'POST', 'Task', renewal(old.id!));
    expect(issue(ended)).to.deep.equal({ status: 422, where: 'Task.focus' });
    expect(ended.body.issue[0].diagnostics).to.contain('12 months');
    const recent = (await w.s.repo.create<MedicationRequest>({ ...base, status: 'completed', authoredOn: '2025-06-01', dispenseRequest: { validityPeriod: { end: new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10) } } }, SYSTEM_ACCESS)).resource;
    expect((await call(w, w.tokens.full, 'POST', 'Task', renewal(recent.id!))).status).to.equal(201);
  });

  it('the patient side may not send the answer or the server\'s fields, nor pick another owner', async () => {
    const withOutput = await call(w, w.tokens.self, 'POST', 'Task', allergyRequest('Jod', { output: [{ type: { text: 'allergy' }, valueReference: { reference: 'AllergyIntolerance/kari-penicillin' } }] }));
    expect(issue(withOutput)).to.deep.equal({ status: 403, where: 'Task.output' });
    expect(issue(await call(w, w.tokens.self, 'POST', 'Task', allergyRequest('Jod', { status: 'completed' })))).to.deep.equal({ status: 422, where: 'Task.status' });
    const fresh = (await w.s.repo.create<MedicationRequest>({ resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject: KARI, medicationCodeableConcept: { text: 'Vitamin D' }, requester: { reference: 'Practitioner/lege-anne-lund' } }, SYSTEM_ACCESS)).resource;
    expect(issue(await call(w, w.tokens.self, 'POST', 'Task', renewal(fresh.id!, { owner: { reference: 'Organization/helsebro-fysioterapi' } })))).to.deep.equal({ status: 422, where: 'Task.owner' });
    expect(issue(await call(w, w.tokens.self, 'POST', 'Task', allergyRequest('Jod', { owner: { reference: 'Organization/finnes-ikke' } })))).to.deep.equal({ status: 422, where: 'Task.owner' });
    expect(issue(await call(w, w.tokens.self, 'POST', 'Task', allergyRequest('Jod', { requester: { reference: 'Practitioner/lege-anne-lund' } })))).to.deep.equal({ status: 403, where: 'Task.requester' });
    expect(issue(await call(w, w.tokens.self, 'POST', 'Task', allergyRequest('Jod', { input: [] })))).to.deep.equal({ status: 422, where: 'Task.input' });
  });

  it('an allergy addition: the patient side sees it waiting; the clinic confirms it with a confirmed AllergyIntolerance in one transaction', async () => {
    const sent = await call(w, w.tokens.full, 'POST', 'Task', allergyRequest('Sulfa (sulfonamider)'));
    expect(sent.status, diag(sent)).to.equal(201);
    expect(sent.body.owner).to.deep.equal({ reference: CLINIC });
    const seen = await call(w, w.tokens.standard, 'GET', `Task?code=https://fhir.helsebro.no/CodeSystem/task-code%7Cadd-allergy&status=requested`);
    expect(seen.body.entry.map((e: { resource: Task }) => e.resource.id)).to.include(sent.body.id);
    // Nothing unconfirmed appears among the allergies meanwhile: the proposal lives in Task.input only.
    const allergies = await call(w, w.tokens.self, 'GET', 'AllergyIntolerance');
    expect(JSON.stringify(allergies.body)).not.to.contain('Sulfa');

    const unconfirmed = await call(w, anne, 'POST', '', transaction(sent.body as Task, 'unconfirmed'));
    expect(unconfirmed.status, diag(unconfirmed)).to.equal(422);
    expect(unconfirmed.body.issue[0].expression).to.deep.equal(['Bundle.entry[1]', 'Task.output']);
    const done = await call(w, anne, 'POST', '', transaction(sent.body as Task, 'confirmed'));
    expect(done.status, diag(done)).to.equal(200);
    const answered = await call(w, w.tokens.self, 'GET', `Task/${sent.body.id}`);
    expect(answered.body.status).to.equal('completed');
    const allergyId = answered.body.output[0].valueReference.reference;
    const allergy = await call(w, w.tokens.self, 'GET', allergyId);
    expect(allergy.status).to.equal(200);
    expect(allergy.body.verificationStatus.coding[0].code).to.equal('confirmed');
    expect(allergy.body.recorder).to.deep.equal({ reference: 'Practitioner/lege-anne-lund' });
  });

  it('the rejected demo request shows the clinic\'s reason to the patient side; Communicate and Read do not see it', async () => {
    for (const actor of ['self', 'standard', 'full'] as const) {
      const r = await call(w, w.tokens[actor], 'GET', 'Task/kari-allergi-notter');
      expect([r.status, r.body.status], actor).to.deep.equal([200, 'rejected']);
      expect(r.body.statusReason.text).to.contain('Allergitesten');
    }
    expect((await call(w, w.tokens.communicate, 'GET', 'Task/kari-allergi-notter')).status).to.equal(404);
    expect((await call(w, w.tokens.read, 'GET', 'Task/kari-allergi-notter')).status).to.equal(403);
    expect((await call(w, w.tokens.communicate, 'GET', 'Task/kari-allergi-notter/_history')).status).to.equal(404);
    const history = await call(w, w.tokens.self, 'GET', 'Task/kari-allergi-notter/_history');
    expect(history.status).to.equal(200);
  });

  it('the clinic answers a renewal: complete with the new prescription, or reject with a reason; a clinician of another organisation → 403', async () => {
    const sent = await call(w, w.tokens.self, 'POST', 'Task', renewal('emma-resept-adrenalin', { for: EMMA }));
    expect(sent.status, 'Kari cannot renew Emma\'s prescription').to.equal(403);
    const open = (await call(w, anne, 'GET', 'Task/kari-fornyelse-levaxin')).body as Task;
    const outsider = await call(w, magnus, 'PUT', 'Task/kari-fornyelse-levaxin', { ...open, status: 'accepted' });
    expect(issue(outsider)).to.deep.equal({ status: 403, where: 'Task.owner' });
    const bare = await call(w, anne, 'PUT', 'Task/kari-fornyelse-levaxin', { ...open, status: 'completed' });
    expect(issue(bare)).to.deep.equal({ status: 422, where: 'Task.output' });
    const noReason = await call(w, anne, 'PATCH', 'Task/kari-fornyelse-levaxin', [{ op: 'replace', path: '/status', value: 'rejected' }], JSON_PATCH);
    expect(issue(noReason)).to.deep.equal({ status: 422, where: 'Task.statusReason' });
    const renewed: MedicationRequest = { resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject: KARI, medicationCodeableConcept: { text: 'Levaxin 75 mikrogram tablett' }, requester: { reference: 'Practitioner/lege-anne-lund' }, authoredOn: new Date().toISOString().slice(0, 10) };
    const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: [
      { fullUrl: 'urn:uuid:6f0e7c1a-0000-4000-8000-000000000001', resource: renewed, request: { method: 'POST', url: 'MedicationRequest' } },
      { resource: { ...open, status: 'completed', output: [{ type: { text: 'prescription' }, valueReference: { reference: 'urn:uuid:6f0e7c1a-0000-4000-8000-000000000001' } }] } as Task, request: { method: 'PUT', url: 'Task/kari-fornyelse-levaxin' } },
    ] };
    const done = await call(w, anne, 'POST', '', bundle);
    expect(done.status, diag(done)).to.equal(200);
    const seen = await call(w, w.tokens.standard, 'GET', 'Task/kari-fornyelse-levaxin');
    expect(seen.body.status).to.equal('completed');
    const newId = seen.body.output[0].valueReference.reference;
    expect((await call(w, w.tokens.standard, 'GET', newId)).body.status).to.equal('active');
    // Ended: neither side reopens it.
    expect(issue(await call(w, anne, 'PATCH', 'Task/kari-fornyelse-levaxin', [{ op: 'replace', path: '/status', value: 'in-progress' }], JSON_PATCH))).to.deep.equal({ status: 422, where: 'Task.status' });
    expect(issue(await call(w, w.tokens.self, 'PATCH', 'Task/kari-fornyelse-levaxin', [{ op: 'replace', path: '/status', value: 'cancelled' }], JSON_PATCH))).to.deep.equal({ status: 422, where: 'Task.status' });
  });

  it('the patient side never completes, accepts or answers its own request — through PUT, PATCH, batch and transaction entries', async () => {
    const sent = await call(w, w.tokens.self, 'POST', 'Task', allergyRequest('Kiwi'));
    expect(sent.status, diag(sent)).to.equal(201);
    const t = sent.body as Task;
    for (const status of ['completed', 'accepted', 'rejected', 'in-progress']) {
      expect(issue(await call(w, w.tokens.self, 'PUT', `Task/${t.id}`, { ...t, status })), status).to.deep.equal({ status: 422, where: 'Task.status' });
    }
    const output = [{ op: 'add', path: '/output', value: [{ type: { text: 'allergy' }, valueReference: { reference: 'AllergyIntolerance/kari-penicillin' } }] }];
    expect(issue(await call(w, w.tokens.full, 'PATCH', `Task/${t.id}`, output, JSON_PATCH))).to.deep.equal({ status: 403, where: 'Task.output' });
    expect(issue(await call(w, w.tokens.self, 'PATCH', `Task/${t.id}`, [{ op: 'replace', path: '/owner', value: { reference: 'Organization/helsebro-fysioterapi' } }], JSON_PATCH))).to.deep.equal({ status: 403, where: 'Task.owner' });
    const batch = await call(w, w.tokens.self, 'POST', '', { resourceType: 'Bundle', type: 'batch', entry: [{ resource: { ...t, status: 'completed' }, request: { method: 'PUT', url: `Task/${t.id}` } }] });
    expect(batch.status, diag(batch)).to.equal(200);
    expect(batch.body.entry[0].response.status).to.match(/^422/);
    const tx = await call(w, w.tokens.self, 'POST', '', { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { ...t, status: 'completed' }, request: { method: 'PUT', url: `Task/${t.id}` } }] });
    expect(tx.status).to.equal(422);
    expect((await w.s.repo.read<Task>('Task', t.id!, SYSTEM_ACCESS)).status).to.equal('requested');
    // Withdrawing is the patient side's: a Standard proxy withdraws what Kari sent.
    const withdrawn = await call(w, w.tokens.standard, 'PUT', `Task/${t.id}`, { ...t, status: 'cancelled', statusReason: { text: 'Feil allergi' } });
    expect(withdrawn.status, diag(withdrawn)).to.equal(200);
    // Once the clinic has taken a request on, it is the clinic's to finish.
    const other = (await call(w, w.tokens.self, 'POST', 'Task', allergyRequest('Soya'))).body as Task;
    expect((await call(w, anne, 'PATCH', `Task/${other.id}`, [{ op: 'replace', path: '/status', value: 'accepted' }], JSON_PATCH)).status).to.equal(200);
    expect(issue(await call(w, w.tokens.self, 'PATCH', `Task/${other.id}`, [{ op: 'replace', path: '/status', value: 'cancelled' }], JSON_PATCH))).to.deep.equal({ status: 422, where: 'Task.status' });
  });

  it('a conditional create goes through the same rules; a Read proxy\'s conditional create → 403', async () => {
    const headers = 'identifier=https://example.org/app|req-1';
    const body = renewal('kari-resept-ibuprofen', { identifier: [{ system: 'https://example.org/app', value: 'req-1' }] });
    const res = await fetch(`${w.s.fhirBase}/Task`, { method: 'POST', headers: { authorization: `Bearer ${w.tokens.self}`, 'content-type': 'application/fhir+json', 'if-none-exist': headers }, body: JSON.stringify(body) });
    expect(res.status).to.equal(422);
    const read = await fetch(`${w.s.fhirBase}/Task`, { method: 'POST', headers: { authorization: `Bearer ${w.tokens.read}`, 'content-type': 'application/fhir+json', 'if-none-exist': headers }, body: JSON.stringify(allergyRequest('Gluten')) });
    expect(read.status).to.equal(403);
    // Update-as-create with a client-chosen id is a create: the same rules.
    expect(issue(await call(w, w.tokens.self, 'PUT', 'Task/kari-egen-id-1', { ...renewal('kari-resept-ibuprofen'), id: 'kari-egen-id-1' }))).to.deep.equal({ status: 422, where: 'Task.focus' });
    // The patient side sees its renewals beside each prescription.
    const beside = await call(w, w.tokens.full, 'GET', 'MedicationRequest?_id=kari-resept-metformin&_revinclude=Task:focus');
    expect(beside.status, diag(beside)).to.equal(200);
    expect((beside.body as Bundle).entry!.filter((e) => e.resource?.resourceType === 'Task').length).to.be.greaterThan(0);
  });

  it('simultaneous renewals of one prescription: exactly one is accepted, the others → 422', async () => {
    const mr = (await w.s.repo.create<MedicationRequest>({ resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject: KARI, medicationCodeableConcept: { text: 'Omega-3' }, requester: { reference: 'Practitioner/lege-anne-lund' } }, SYSTEM_ACCESS)).resource;
    const actors = Array.from({ length: 24 }, (_, i) => (['self', 'standard', 'full'] as const)[i % 3]!);
    const results = await Promise.all(actors.map((a) => call(w, w.tokens[a], 'POST', 'Task', renewal(mr.id!))));
    expect(results.map((r) => r.status).sort()).to.deep.equal([201, ...Array<number>(23).fill(422)]);
    const open = await call(w, w.tokens.self, 'GET', `Task?focus=MedicationRequest/${mr.id}&status=requested`);
    expect(open.body.entry).to.have.length(1);
  });

  it('prescriptions and allergies are not written by the patient side (403): a request Task is the way', async () => {
    for (const actor of ['self', 'full'] as const) {
      const mr = await call(w, w.tokens[actor], 'POST', 'MedicationRequest', { resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject: KARI, medicationCodeableConcept: { text: 'Metformin' } });
      expect(mr.status, actor).to.equal(403);
      expect(mr.body.issue[0].diagnostics).to.contain('use a Task request instead').and.contain('renew-prescription');
      const allergy = await call(w, w.tokens[actor], 'POST', 'AllergyIntolerance', { resourceType: 'AllergyIntolerance', patient: KARI, code: { text: 'Nøtter' } });
      expect(allergy.status, actor).to.equal(403);
      expect(allergy.body.issue[0].diagnostics).to.contain('use a Task request instead').and.contain('add-allergy');
    }
    const mr = (await call(w, w.tokens.self, 'GET', 'MedicationRequest/kari-resept-metformin')).body;
    expect((await call(w, w.tokens.self, 'PUT', 'MedicationRequest/kari-resept-metformin', { ...mr, status: 'completed' })).status).to.equal(403);
  });
});

function transaction(task: Task, verification: 'confirmed' | 'unconfirmed'): Bundle {
  const id = 'urn:uuid:5d9a2c44-0000-4000-8000-00000000000b';
  return { resourceType: 'Bundle', type: 'transaction', entry: [
    { fullUrl: id, request: { method: 'POST', url: 'AllergyIntolerance' }, resource: {
      resourceType: 'AllergyIntolerance', patient: KARI, code: { text: 'Sulfa (sulfonamider)' }, recorder: { reference: 'Practitioner/lege-anne-lund' },
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
      verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification', code: verification }] },
    } as AllergyIntolerance },
    { request: { method: 'PUT', url: `Task/${task.id}` }, resource: { ...task, status: 'completed', output: [{ type: { text: 'allergy' }, valueReference: { reference: id } }] } as Task },
  ] };
}
