/**
 * Municipal applications, appeals and records requests (issue 13; access-spec §5.3 row 24), medication
 * comments (row 5, S20) and prescriptions (row 26), over HTTP with real tokens of each actor.
 */
import { expect } from 'chai';
import type { Bundle, MedicationStatement, Task } from 'fhir/r4';
import { buildWorld, type World } from '../../access/world.js';
import { call, diag, type Res } from '../http.js';
import { CLINIC, clinicianToken, EMMA, HPR, input, KARI, MUNICIPALITY, request } from './support.js';

const issue = (r: Res) => ({ status: r.status, where: r.body.issue?.[0]?.expression?.[0] as string | undefined });
const application = (o: Partial<Task> = {}) => request('apply-municipal-service', { owner: { reference: MUNICIPALITY }, input: [input('description', { valueString: 'Trenger hjelp til innkjøp etter hofteoperasjon.' })], ...o });
const appeal = (focus: string, o: Partial<Task> = {}) => request('appeal-decision', { focus: { reference: focus }, input: [input('description', { valueString: 'Jeg klager på avslaget: jeg klarer ikke å dusje selv.' })], ...o });
const records = (o: Partial<Task> = {}) => request('request-records', { input: [input('description', { valueString: 'Alle journalnotater fra 2019' })], ...o });
const comment = (prescription: string, o: Partial<MedicationStatement> = {}): MedicationStatement => ({
  resourceType: 'MedicationStatement', status: 'not-taken', subject: KARI, derivedFrom: [{ reference: prescription }],
  medicationCodeableConcept: { text: 'Metformin 500 mg tablett' }, note: [{ text: 'Har sluttet å ta den.' }], ...o,
});
const ids = (r: Res) => ((r.body as Bundle).entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);

describe('applications, appeals, records requests and medication comments (issue 13)', function () {
  this.timeout(600_000);
  let w: World;
  let anne: string;

  before(async () => {
    w = await buildWorld();
    anne = await clinicianToken(w, HPR.anne);
  });
  after(() => w?.s.close());

  it('who may send row 24 requests: Self, Full and parents; Standard, Read and Communicate → 403', async () => {
    const sent: Record<string, number> = {};
    for (const actor of ['self', 'standard', 'read', 'communicate', 'full'] as const) sent[actor] = (await call(w, w.tokens[actor], 'POST', 'Task', application())).status;
    sent.parent = (await call(w, w.tokens.parent, 'POST', 'Task', application({ for: EMMA }))).status;
    expect(sent).to.deep.equal({ self: 201, standard: 403, read: 403, communicate: 403, full: 201, parent: 201 });
    expect((await call(w, w.tokens.standard, 'GET', 'Task/kari-soknad-hjemmetjenester')).status, 'Standard does not see applications').to.equal(404);
    expect((await call(w, w.tokens.full, 'GET', 'Task/kari-soknad-hjemmetjenester')).body.status).to.equal('received');
  });

  it('a municipal application names the municipality; without an owner or with an unknown one → 422 naming Task.owner', async () => {
    const r = await call(w, w.tokens.self, 'POST', 'Task', application());
    expect(r.status, diag(r)).to.equal(201);
    expect(r.body.owner).to.deep.equal({ reference: MUNICIPALITY });
    expect(issue(await call(w, w.tokens.self, 'POST', 'Task', application({ owner: undefined })))).to.deep.equal({ status: 422, where: 'Task.owner' });
    expect(issue(await call(w, w.tokens.self, 'POST', 'Task', application({ owner: { reference: 'Organization/finnes-ikke' } })))).to.deep.equal({ status: 422, where: 'Task.owner' });
    expect(issue(await call(w, w.tokens.self, 'POST', 'Task', application({ input: [] })))).to.deep.equal({ status: 422, where: 'Task.input' });
    expect(issue(await call(w, w.tokens.self, 'POST', 'Task', application({ input: [input('description', { valueString: 'x'.repeat(4001) })] })))).to.deep.equal({ status: 422, where: 'Task.input[0]' });
  });

  it('an appeal: the owner is the body that decided; a personal note (no deciding organisation) is no decision (422); another patient\'s record → 403', async () => {
    const doc = await call(w, w.tokens.self, 'POST', 'Task', appeal('DocumentReference/kari-vedtak-praktisk-bistand-2026'));
    expect(doc.status, diag(doc)).to.equal(201);
    expect(doc.body.owner).to.deep.equal({ reference: MUNICIPALITY });
    const referral = await call(w, w.tokens.full, 'POST', 'Task', appeal('ServiceRequest/kari-henvisning-fysioterapi'));
    expect(referral.status, diag(referral)).to.equal(201);
    expect(referral.body.owner).to.deep.equal({ reference: 'Organization/helsebro-fysioterapi' });
    expect(issue(await call(w, w.tokens.self, 'POST', 'Task', appeal('DocumentReference/kari-personlig-notat-1')))).to.deep.equal({ status: 422, where: 'Task.focus' });
    expect(issue(await call(w, w.tokens.self, 'POST', 'Task', appeal('DocumentReference/emma-samtale-2026-05-20')))).to.deep.equal({ status: 403, where: 'Task.focus' });
    expect(issue(await call(w, w.tokens.self, 'POST', 'Task', appeal('Observation/kari-hba1c-2025-09-02')))).to.deep.equal({ status: 422, where: 'Task.focus' });
    expect(issue(await call(w, w.tokens.self, 'POST', 'Task', appeal('DocumentReference/kari-vedtak-praktisk-bistand-2026', { owner: { reference: CLINIC } })))).to.deep.equal({ status: 422, where: 'Task.owner' });
  });

  it('a records request: the server sets the processing deadline (60 days); the patient side may not set it (403)', async () => {
    const r = await call(w, w.tokens.self, 'POST', 'Task', records());
    expect(r.status, diag(r)).to.equal(201);
    expect(r.body.owner).to.deep.equal({ reference: CLINIC });
    const days = (Date.parse(r.body.restriction.period.end) - Date.parse(r.body.restriction.period.start)) / 86_400_000;
    expect(days).to.equal(60);
    expect(Date.now() - Date.parse(r.body.restriction.period.start)).to.be.within(0, 60_000);
    expect(issue(await call(w, w.tokens.self, 'POST', 'Task', records({ restriction: { period: { end: '2026-12-05' } } })))).to.deep.equal({ status: 403, where: 'Task.restriction' });
    // A request has no focus unless it is a renewal or an appeal.
    expect(issue(await call(w, w.tokens.self, 'POST', 'Task', records({ focus: { reference: 'DocumentReference/kari-notat-2025-09-02' } })))).to.deep.equal({ status: 422, where: 'Task.focus' });
    // Only the clinic moves the deadline.
    const moved = await call(w, w.tokens.self, 'PATCH', `Task/${r.body.id}`, [{ op: 'replace', path: '/restriction/period/end', value: '2026-12-24T00:00:00Z' }], 'application/json-patch+json');
    expect(issue(moved)).to.deep.equal({ status: 403, where: 'Task.restriction' });
  });

  it('clinicians see the requests their organisation answers and reply to them', async () => {
    const list = await call(w, anne, 'GET', `Task?owner=${CLINIC}&status=requested,received&_count=100`);
    expect(list.status).to.equal(200);
    expect(ids(list)).to.include('Task/kari-fornyelse-levaxin');
    const r = (await call(w, w.tokens.self, 'POST', 'Task', records())).body as Task;
    const done = await call(w, anne, 'PUT', `Task/${r.id}`, { ...r, status: 'completed', output: [{ type: { text: 'journal' }, valueReference: { reference: 'DocumentReference/kari-notat-2025-09-02' } }] });
    expect(done.status, diag(done)).to.equal(200);
    expect((await call(w, w.tokens.self, 'GET', `Task/${r.id}`)).body.status).to.equal('completed');
    // The municipality's application is not the clinic's to answer.
    const app = (await call(w, anne, 'GET', 'Task/kari-soknad-hjemmetjenester')).body as Task;
    expect(issue(await call(w, anne, 'PUT', 'Task/kari-soknad-hjemmetjenester', { ...app, status: 'rejected', statusReason: { text: 'x' } }))).to.deep.equal({ status: 403, where: 'Task.owner' });
  });

  it('medication comments: about an own prescription, author from the token; Self and Full write, Standard does not', async () => {
    const self = await call(w, w.tokens.self, 'POST', 'MedicationStatement', comment('MedicationRequest/kari-resept-metformin'));
    expect(self.status, diag(self)).to.equal(201);
    expect(self.body.informationSource).to.deep.equal(KARI);
    const full = await call(w, w.tokens.full, 'POST', 'MedicationStatement', comment('MedicationRequest/kari-resept-levaxin', { medicationCodeableConcept: { text: 'Levaxin' }, status: 'active', note: [{ text: 'Tar den om kvelden i stedet.' }] }));
    expect(full.status, diag(full)).to.equal(201);
    expect(full.body.informationSource).to.deep.equal({ reference: 'RelatedPerson/fullmakt-kari-astrid' });
    expect((await call(w, w.tokens.standard, 'POST', 'MedicationStatement', comment('MedicationRequest/kari-resept-metformin'))).status).to.equal(403);
    expect((await call(w, w.tokens.communicate, 'POST', 'MedicationStatement', comment('MedicationRequest/kari-resept-metformin'))).status).to.equal(403);
    const parent = await call(w, w.tokens.parent, 'POST', 'MedicationStatement', comment('MedicationRequest/emma-resept-adrenalin', { subject: EMMA }));
    expect(parent.status, diag(parent)).to.equal(201);
  });

  it('a comment about someone else\'s or an unknown prescription → 403; about something else → 422 (also as a transaction entry)', async () => {
    const other = await call(w, w.tokens.self, 'POST', 'MedicationStatement', comment('MedicationRequest/emma-resept-adrenalin'));
    const unknown = await call(w, w.tokens.self, 'POST', 'MedicationStatement', comment('MedicationRequest/finnes-ikke'));
    expect(issue(other)).to.deep.equal({ status: 403, where: 'MedicationStatement.derivedFrom[0]' });
    expect(issue(unknown)).to.deep.equal({ status: 403, where: 'MedicationStatement.derivedFrom[0]' });
    expect(issue(await call(w, w.tokens.self, 'POST', 'MedicationStatement', comment('Observation/kari-hba1c-2025-09-02')))).to.deep.equal({ status: 422, where: 'MedicationStatement.derivedFrom[0]' });
    const tx = await call(w, w.tokens.full, 'POST', '', { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: comment('MedicationRequest/emma-resept-adrenalin'), request: { method: 'POST', url: 'MedicationStatement' } }] });
    expect(tx.status).to.equal(403);
    // Updating an own comment to point elsewhere is judged the same way.
    const mine = (await call(w, w.tokens.self, 'GET', 'MedicationStatement/kari-kommentar-metformin')).body as MedicationStatement;
    expect(issue(await call(w, w.tokens.self, 'PUT', 'MedicationStatement/kari-kommentar-metformin', { ...mine, derivedFrom: [{ reference: 'MedicationRequest/emma-resept-adrenalin' }] })).status).to.equal(403);
  });

  it('the clinician sees the comments beside the prescription: derived-from search and _revinclude', async () => {
    const byParam = await call(w, anne, 'GET', 'MedicationStatement?derived-from=MedicationRequest/kari-resept-metformin');
    expect(byParam.status, diag(byParam)).to.equal(200);
    expect(ids(byParam)).to.include('MedicationStatement/kari-kommentar-metformin');
    const rev = await call(w, anne, 'GET', 'MedicationRequest?_id=kari-resept-metformin&_revinclude=MedicationStatement:derived-from');
    expect(rev.status, diag(rev)).to.equal(200);
    expect(ids(rev)).to.include.members(['MedicationRequest/kari-resept-metformin', 'MedicationStatement/kari-kommentar-metformin']);
    // The patient side gets the same view of its own record.
    const own = await call(w, w.tokens.self, 'GET', 'MedicationRequest?_revinclude=MedicationStatement:derived-from');
    expect(ids(own)).to.include('MedicationStatement/kari-kommentar-metformin');
  });

  it('prescriptions (row 26): Self, Standard, Read, Full read them; Communicate → 403; a parent sees the child\'s only', async () => {
    for (const actor of ['self', 'standard', 'read', 'full'] as const) {
      const r = await call(w, w.tokens[actor], 'GET', 'MedicationRequest?_count=50');
      expect(r.status, actor).to.equal(200);
      expect(ids(r), actor).to.include.members(['MedicationRequest/kari-resept-metformin', 'MedicationRequest/kari-resept-ibuprofen']).and.not.include('MedicationRequest/emma-resept-adrenalin');
    }
    expect((await call(w, w.tokens.communicate, 'GET', 'MedicationRequest/kari-resept-metformin')).status).to.equal(403);
    expect((await call(w, w.tokens.parent, 'GET', 'MedicationRequest/emma-resept-adrenalin')).status).to.equal(200);
    expect((await call(w, w.tokens.parent, 'GET', 'MedicationRequest/kari-resept-metformin')).status).to.equal(404);
  });
});
