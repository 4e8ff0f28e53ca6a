/**
 * Questions before the appointment, change/cancel requests and home-service visits (issue 12;
 * access-spec §5.3 rows 22, 25, A16), over HTTP with real tokens.
 */
import { expect } from 'chai';
import type { Bundle, Encounter, QuestionnaireResponse, Task } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import { buildWorld, type World } from '../access/world.js';
import { call, diag } from './http.js';

const URL = 'https://fhir.helsebro.no/Questionnaire/for-timen-fastlege';
const JA_NEI = 'urn:oid:2.16.578.1.12.4.1.1101';
const KARI = { reference: 'Patient/kari-nordmann' };
const answer = (changed: boolean, extra: QuestionnaireResponse['item'] = []): QuestionnaireResponse => ({
  resourceType: 'QuestionnaireResponse', status: 'completed', questionnaire: URL, language: 'nb-NO', subject: KARI, authored: new Date().toISOString(),
  item: [
    { linkId: '1', item: [{ linkId: '1.1', answer: [{ valueBoolean: changed }] }, { linkId: '1.3', answer: [{ valueCoding: { system: JA_NEI, code: '2' } }] }] },
    { linkId: '2', item: [{ linkId: '2.1', answer: [{ valueInteger: 8 }] }] },
    ...(extra ?? []),
  ],
});

describe('questionnaire tasks, change requests and home services (issue 12)', function () {
  this.timeout(600_000);
  let w: World;

  before(async () => {
    w = await buildWorld();
  });
  after(() => w?.s.close());

  it('both language versions of the helsenorge-style Questionnaire load and are readable by the patient side', async () => {
    const r = await call(w, w.tokens.full, 'GET', `Questionnaire?url=${URL}`);
    expect(r.status, diag(r)).to.equal(200);
    expect(r.body.entry.map((e: { resource: { language: string } }) => e.resource.language).sort()).to.deep.equal(['en-GB', 'nb-NO']);
  });

  it('an answer that breaks the Questionnaire → 422 naming the linkId path', async () => {
    const r = await call(w, w.tokens.self, 'POST', 'QuestionnaireResponse', answer(true));
    expect(r.status, diag(r)).to.equal(422);
    expect(r.body.issue[0].diagnostics).to.match(/^Item 1 › 1\.2: is required/);
    expect(r.body.issue[0].expression[0]).to.equal("QuestionnaireResponse.item.where(linkId='1').item.where(linkId='1.2')");
    const disabled = await call(w, w.tokens.self, 'POST', 'QuestionnaireResponse', answer(false, [{ linkId: '3', answer: [{ valueString: 'x'.repeat(300) }] }]));
    expect(disabled.status).to.equal(422);
    expect(disabled.body.issue[0].code).to.equal('too-long');
  });

  it('an answer to an unknown Questionnaire → 422', async () => {
    const r = await call(w, w.tokens.self, 'POST', 'QuestionnaireResponse', { ...answer(false), questionnaire: 'https://example.org/Questionnaire/nope' });
    expect(r.status, diag(r)).to.equal(422);
  });

  it('a Full proxy answers and completes Kari\'s questionnaire task in one transaction', async () => {
    const task = await call(w, w.tokens.full, 'GET', 'Task/kari-sporsmal-for-timen');
    expect(task.status).to.equal(200);
    const answered: QuestionnaireResponse = { ...answer(true), item: [
      { linkId: '1', item: [{ linkId: '1.1', answer: [{ valueBoolean: true }] }, { linkId: '1.2', answer: [{ valueString: 'Sluttet med Ibux' }] }, { linkId: '1.3', answer: [{ valueCoding: { system: JA_NEI, code: '2' } }] }] },
      { linkId: '2', item: [{ linkId: '2.1', answer: [{ valueInteger: 8 }] }] },
    ] };
    const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: [
      { fullUrl: 'urn:uuid:4b1c9a52-0000-4000-8000-00000000000a', resource: answered, request: { method: 'POST', url: 'QuestionnaireResponse' } },
      { resource: <Task>{ ...(task.body as Task), status: 'completed', output: [{ type: { text: 'response' }, valueReference: { reference: 'urn:uuid:4b1c9a52-0000-4000-8000-00000000000a' } }] }, request: { method: 'PUT', url: 'Task/kari-sporsmal-for-timen' } },
    ] };
    const r = await call(w, w.tokens.full, 'POST', '', bundle);
    expect(r.status, diag(r)).to.equal(200);
    const done = await w.s.repo.read<Task>('Task', 'kari-sporsmal-for-timen', SYSTEM_ACCESS);
    expect(done.status).to.equal('completed');
    expect(done.output![0]!.valueReference!.reference).to.match(/^QuestionnaireResponse\//);
  });

  it('a questionnaire task is not completed without its answer, and a Standard proxy cannot complete it', async () => {
    const t = (await w.s.repo.create<Task>({
      resourceType: 'Task', status: 'requested', intent: 'order', for: KARI, code: { coding: [{ system: 'https://fhir.helsebro.no/CodeSystem/task-code', code: 'complete-questionnaire' }] },
      input: [{ type: { text: 'questionnaire' }, valueCanonical: URL }],
    }, SYSTEM_ACCESS)).resource;
    const bare = await call(w, w.tokens.self, 'PUT', `Task/${t.id}`, { ...t, status: 'completed' });
    expect(bare.status, diag(bare)).to.equal(422);
    const std = await call(w, w.tokens.standard, 'PUT', `Task/${t.id}`, { ...t, status: 'completed' });
    expect(std.status).to.equal(403);
  });

  it('a change request about a GP appointment → 201 with the clinic as owner; a Standard proxy may not (A2); other Task codes are closed', async () => {
    const booked = await call(w, w.tokens.self, 'POST', 'Appointment', { resourceType: 'Appointment', status: 'booked', slot: [{ reference: 'Slot/fastlege-2030-03-15-1000' }], participant: [{ actor: KARI, status: 'accepted' }] });
    expect(booked.status, diag(booked)).to.equal(201);
    const request: Task = {
      resourceType: 'Task', status: 'requested', intent: 'order', code: { coding: [{ system: 'https://fhir.helsebro.no/CodeSystem/task-code', code: 'change-appointment' }] },
      focus: { reference: `Appointment/${booked.body.id}` }, for: KARI, note: [{ text: 'Kan jeg få en time etter kl. 15?' }],
    };
    const r = await call(w, w.tokens.self, 'POST', 'Task', request);
    expect(r.status, diag(r)).to.equal(201);
    expect(r.body.owner.reference).to.equal('Organization/helsebro-legesenter');
    expect((await call(w, w.tokens.standard, 'POST', 'Task', request)).status).to.equal(403);
    const offer = await call(w, w.tokens.self, 'POST', 'Task', { ...request, code: { coding: [{ system: 'https://fhir.helsebro.no/CodeSystem/task-code', code: 'earlier-time-offer' }] } });
    expect(offer.status, 'offers are server-created').to.equal(403);
    const other = await call(w, w.tokens.self, 'POST', 'Task', { ...request, code: { text: 'noe annet' } });
    expect(other.status).to.equal(403);
  });

  it('home-service visits are hidden from the patient side, the responsibility-group meeting is not (A16)', async () => {
    for (const actor of ['self', 'full', 'read'] as const) {
      expect((await call(w, w.tokens[actor], 'GET', 'Encounter/kari-hjemmebesok-2026-10-12')).status, actor).to.equal(404);
      expect((await call(w, w.tokens[actor], 'GET', 'Encounter/kari-ansvarsgruppemote-2026-10-20')).status, actor).to.equal(200);
      const s = await call(w, w.tokens[actor], 'GET', 'Encounter?class=HH');
      const found = s.body.entry.map((e: { resource: Encounter }) => e.resource) as Encounter[];
      expect(found.map((e) => e.id), actor).to.include('kari-ansvarsgruppemote-2026-10-20').and.not.include('kari-hjemmebesok-2026-10-12');
      expect(found.every((e) => /meeting$/.test(e.type?.[0]?.coding?.[0]?.code ?? '')), actor).to.equal(true);
    }
    expect((await call(w, w.tokens.system, 'GET', 'Encounter/kari-hjemmebesok-2026-10-12')).status).to.equal(200);
  });

  it('the README walkthrough: find → book → cancel → offer → accept', async () => {
    const kari = w.tokens.self;
    const free = await call(w, kari, 'GET', 'Slot?schedule=Schedule/timebok-fastlege-anne-lund&status=free&start=ge2030-03-04&_sort=start&_count=5');
    expect(free.body.entry.map((e: { resource: { id: string } }) => e.resource.id)).to.include('fastlege-2030-03-04-0900');
    const booked = await call(w, kari, 'POST', 'Appointment', { resourceType: 'Appointment', status: 'booked', slot: [{ reference: 'Slot/fastlege-2030-03-04-0900' }], participant: [{ actor: KARI, status: 'accepted' }] });
    expect(booked.status, diag(booked)).to.equal(201);
    const cancelled = await call(w, kari, 'PATCH', `Appointment/${booked.body.id}`, [{ op: 'replace', path: '/status', value: 'cancelled' }], 'application/json-patch+json');
    expect(cancelled.status, diag(cancelled)).to.equal(200);
    const offers = await call(w, kari, 'GET', 'Task?code=https://fhir.helsebro.no/CodeSystem/task-code%7Cearlier-time-offer&status=requested');
    const focus = offers.body.entry.map((e: { resource: Task }) => e.resource.focus?.reference);
    expect(focus).to.include.members(['Slot/fastlege-2030-03-04-0900', 'Slot/fastlege-2030-03-07-1030']);
    const accepted = await call(w, kari, 'PATCH', 'Task/kari-tilbud-tidligere-time', [{ op: 'replace', path: '/status', value: 'accepted' }], 'application/json-patch+json');
    expect(accepted.status, diag(accepted)).to.equal(200);
    const moved = await call(w, kari, 'GET', 'Appointment/kari-time-2030-04-24');
    expect(Date.parse(moved.body.start)).to.equal(Date.parse('2030-03-07T10:30:00+01:00'));
    expect((await call(w, kari, 'GET', 'Slot/fastlege-2030-04-24-0900')).body.status).to.equal('free');
  });
});
