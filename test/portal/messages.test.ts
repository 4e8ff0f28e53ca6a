/**
 * Message threads as the portal uses them (issue 13), over HTTP with real tokens for every actor:
 * who a citizen may write to, sender from the token, replies only where enabled and to the sender,
 * the read mark as the only change, the other doors (batch, transaction, PUT-as-create, conditional
 * create, PATCH), and "Dette har skjedd siden sist" ($events-since) under each actor's own access.
 */
import { expect } from 'chai';
import type { Communication, Observation, Parameters, ParametersParameter } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import { buildWorld, type World } from '../access/world.js';
import { call, diag } from './http.js';
import { clinicianToken } from './clinician-token.js';
import { APP_REDIRECT, exchange, launch, registerApp } from '../auth/support.js';

const KARI = { reference: 'Patient/kari-nordmann' };
const EMMA = { reference: 'Patient/emma-johansen' };
const CLINIC = 'Organization/helsebro-legesenter';
const message = (to: string[], extra: Partial<Communication> = {}): Communication => ({
  resourceType: 'Communication', status: 'completed', subject: KARI, ...(to.length ? { recipient: to.map((reference) => ({ reference })) } : {}), payload: [{ contentString: 'Hei, et spørsmål.' }], ...extra,
});
const NO_REPLY = 'Communication/kari-melding-2026-11-19-provesvar';
const LETTER = 'Communication/kari-melding-2026-10-15-innkalling';

describe('messages: threads, replies and the read mark (issue 13)', function () {
  this.timeout(600_000);
  let w: World;
  let clin: string;
  const start = new Date().toISOString();

  before(async () => {
    w = await buildWorld();
    clin = await clinicianToken(w);
  });
  after(() => w?.s.close());

  describe('who a new thread may go to', () => {
    for (const to of [CLINIC, 'HealthcareService/hjertepoliklinikk', 'PractitionerRole/fastlege-anne-lund-rolle', 'Organization/helsebro-brukerstotte']) {
      it(`Kari → ${to}: 201, sender and sent set by the server`, async () => {
        const r = await call(w, w.tokens.self, 'POST', 'Communication', message([to]));
        expect(r.status, diag(r)).to.equal(201);
        expect(r.body.sender).to.deep.equal(KARI);
        expect(Date.parse(r.body.sent)).to.be.closeTo(Date.now(), 60_000);
      });
    }
    for (const [to, why] of [['Organization/helsebro-laboratorium', 'extension false'], ['HealthcareService/vaksinasjon', 'no extension'], ['Practitioner/lege-anne-lund', 'a Practitioner'], ['Organization/finnes-ikke', 'unknown'], ['Patient/kari-nordmann', 'a Patient']] as const) {
      it(`Kari → ${to} (${why}): 422 naming the recipient`, async () => {
        const r = await call(w, w.tokens.self, 'POST', 'Communication', message([CLINIC, to]));
        expect(r.status, diag(r)).to.equal(422);
        expect(r.body.issue[0].code).to.equal('business-rule');
        expect(r.body.issue[0].expression).to.deep.equal(['Communication.recipient[1]']);
        expect(r.body.issue[0].diagnostics).to.contain(to);
      });
    }
    it('no recipient → 422 naming Communication.recipient', async () => {
      const r = await call(w, w.tokens.self, 'POST', 'Communication', message([]));
      expect([r.status, r.body.issue?.[0]?.expression]).to.deep.equal([422, ['Communication.recipient']]);
    });
    it('each actor: Standard, Communicate, Full write as themselves; Read may not (403); the parent writes for Emma', async () => {
      for (const [actor, rp] of [['standard', 'fullmakt-kari-ola'], ['communicate', 'fullmakt-kari-per'], ['full', 'fullmakt-kari-astrid']] as const) {
        const r = await call(w, w.tokens[actor], 'POST', 'Communication', message([CLINIC]));
        expect(r.status, `${actor} ${diag(r)}`).to.equal(201);
        expect(r.body.sender.reference, actor).to.equal(`RelatedPerson/${rp}`);
      }
      expect((await call(w, w.tokens.read, 'POST', 'Communication', message([CLINIC]))).status).to.equal(403);
      const parent = await call(w, w.tokens.parent, 'POST', 'Communication', message([CLINIC], { subject: EMMA }));
      expect(parent.status, diag(parent)).to.equal(201);
      expect(parent.body.sender.reference).to.equal('RelatedPerson/forelder-emma-johansen-marte-johansen');
      const wrong = await call(w, w.tokens.parent, 'POST', 'Communication', message(['Organization/helsebro-laboratorium'], { subject: EMMA }));
      expect(wrong.status).to.equal(422);
    });
    it('a forged sender → 403 naming Communication.sender; a message about another patient → 403', async () => {
      const forged = await call(w, w.tokens.standard, 'POST', 'Communication', message([CLINIC], { sender: KARI }));
      expect([forged.status, forged.body.issue?.[0]?.expression]).to.deep.equal([403, ['Communication.sender']]);
      expect((await call(w, w.tokens.self, 'POST', 'Communication', message([CLINIC], { subject: EMMA }))).status).to.equal(403);
    });
    it('the clinician may write to the patient without the recipient rule', async () => {
      const r = await call(w, clin, 'POST', 'Communication', message(['Patient/kari-nordmann'], { sender: { reference: 'Practitioner/lege-anne-lund' } }));
      expect(r.status, diag(r)).to.equal(201);
    });
  });

  describe('the other doors', () => {
    it('batch: the refused entry answers 422 naming the recipient, the allowed one 201', async () => {
      const r = await call(w, w.tokens.self, 'POST', '', { resourceType: 'Bundle', type: 'batch', entry: [
        { resource: message(['Organization/helsebro-laboratorium']), request: { method: 'POST', url: 'Communication' } },
        { resource: message([CLINIC]), request: { method: 'POST', url: 'Communication' } },
      ] });
      expect(r.status, diag(r)).to.equal(200);
      expect(r.body.entry.map((e: { response: { status: string } }) => e.response.status.slice(0, 3))).to.deep.equal(['422', '201']);
      expect(r.body.entry[0].response.outcome.issue[0].expression).to.deep.equal(['Bundle.entry[0]', 'Communication.recipient[0]']);
    });
    it('transaction: one refused entry → 422 and nothing stored', async () => {
      const before = (await call(w, w.tokens.self, 'GET', 'Communication?_summary=count')).body.total;
      const r = await call(w, w.tokens.self, 'POST', '', { resourceType: 'Bundle', type: 'transaction', entry: [
        { resource: message([CLINIC]), request: { method: 'POST', url: 'Communication' } },
        { resource: message(['HealthcareService/vaksinasjon']), request: { method: 'POST', url: 'Communication' } },
      ] });
      expect(r.status, diag(r)).to.equal(422);
      expect((await call(w, w.tokens.self, 'GET', 'Communication?_summary=count')).body.total).to.equal(before);
    });
    it('PUT as create and conditional create obey the recipient rule', async () => {
      const put = await call(w, w.tokens.self, 'PUT', 'Communication/kari-ny-melding-1', { ...message(['Organization/helsebro-laboratorium']), id: 'kari-ny-melding-1' });
      expect(put.status, diag(put)).to.equal(422);
      const res = await fetch(`${w.s.fhirBase}/Communication`, {
        method: 'POST', body: JSON.stringify(message(['Organization/helsebro-laboratorium'], { identifier: [{ system: 'urn:x', value: 'c1' }] })),
        headers: { authorization: `Bearer ${w.tokens.self}`, 'content-type': 'application/fhir+json', 'if-none-exist': 'identifier=urn:x|c1' },
      });
      expect(res.status).to.equal(422);
    });
  });

  describe('replies', () => {
    it('a reply to a message that forbids replies → 422 (Kari and her Full proxy); the clinician may still write in the thread', async () => {
      for (const actor of ['self', 'full'] as const) {
        const r = await call(w, w.tokens[actor], 'POST', 'Communication', message([], { inResponseTo: [{ reference: NO_REPLY }] }));
        expect([r.status, r.body.issue?.[0]?.expression], actor).to.deep.equal([422, ['Communication.inResponseTo[0]']]);
      }
      const clinician = await call(w, clin, 'POST', 'Communication', message(['Patient/kari-nordmann'], { inResponseTo: [{ reference: NO_REPLY }], sender: { reference: 'Practitioner/lege-anne-lund' } }));
      expect(clinician.status, diag(clinician)).to.equal(201);
    });
    it('a reply goes to the sender of the message answered: filled in when left out, 422 when it names someone else', async () => {
      const r = await call(w, w.tokens.standard, 'POST', 'Communication', message([], { inResponseTo: [{ reference: LETTER }] }));
      expect(r.status, diag(r)).to.equal(201);
      expect(r.body.recipient).to.deep.equal([{ reference: 'HealthcareService/hjertepoliklinikk', display: 'Hjertepoliklinikken, Helsebro sykehus' }]);
      expect(r.body.topic.text, 'the thread keeps its topic').to.equal('Innkalling til hjertepoliklinikken');
      const wrong = await call(w, w.tokens.self, 'POST', 'Communication', message([CLINIC], { inResponseTo: [{ reference: LETTER }] }));
      expect([wrong.status, wrong.body.issue?.[0]?.expression]).to.deep.equal([422, ['Communication.recipient']]);
    });
    it('a reply to a message of another record, or to none → 422 (same answer)', async () => {
      const emmas = await call(w, w.tokens.self, 'POST', 'Communication', message([], { inResponseTo: [{ reference: 'Communication/emma-melding-2026-08-20' }] }));
      const none = await call(w, w.tokens.self, 'POST', 'Communication', message([], { inResponseTo: [{ reference: 'Communication/finnes-ikke' }] }));
      expect([emmas.status, none.status]).to.deep.equal([422, 422]);
      expect(emmas.body.issue[0].diagnostics.replace('emma-melding-2026-08-20', 'X')).to.equal(none.body.issue[0].diagnostics.replace('finnes-ikke', 'X'));
    });
    it('the clinician answers Kari\'s message: the reply goes to Kari', async () => {
      const q = await call(w, w.tokens.self, 'POST', 'Communication', message([CLINIC]));
      const a = await call(w, clin, 'POST', 'Communication', { ...message([]), sender: { reference: 'Practitioner/lege-anne-lund' }, inResponseTo: [{ reference: `Communication/${q.body.id}` }] });
      expect(a.status, diag(a)).to.equal(201);
      expect(a.body.recipient).to.deep.equal([KARI]);
    });
  });

  describe('the read mark', () => {
    it('Kari marks the GP\'s message read (PATCH received) → 200 with the server\'s time; a second mark → 403', async () => {
      const r = await call(w, w.tokens.self, 'PATCH', NO_REPLY, [{ op: 'add', path: '/received', value: '1999-01-01T00:00:00Z' }], 'application/json-patch+json');
      expect(r.status, diag(r)).to.equal(200);
      expect(Date.parse(r.body.received)).to.be.closeTo(Date.now(), 60_000);
      const again = await call(w, w.tokens.full, 'PATCH', NO_REPLY, [{ op: 'replace', path: '/received', value: '2030-01-01T00:00:00Z' }], 'application/json-patch+json');
      expect([again.status, again.body.issue?.[0]?.expression]).to.deep.equal([403, ['Communication.received']]);
    });
    it('a patient-side PUT that changes anything else of a clinician\'s message → 403 naming the field; Read may not mark (403)', async () => {
      const current = (await call(w, w.tokens.self, 'GET', LETTER)).body as Communication;
      for (const [field, changed] of [['payload', { payload: [{ contentString: 'Endret' }] }], ['status', { status: 'entered-in-error' }], ['extension', { extension: [{ url: 'https://fhir.helsebro.no/StructureDefinition/reply-allowed', valueBoolean: true }] }]] as const) {
        const r = await call(w, w.tokens.standard, 'PUT', LETTER, { ...current, ...changed });
        expect([r.status, r.body.issue?.[0]?.expression], field).to.deep.equal([403, [`Communication.${field}`]]);
      }
      expect((await call(w, w.tokens.read, 'PATCH', LETTER, [{ op: 'add', path: '/received', value: 'x' }], 'application/json-patch+json')).status).to.be.oneOf([403, 404]);
    });
    it('the sender does not mark its own message read; the clinician marks Kari\'s, and Kari sees it was read', async () => {
      const q = await call(w, w.tokens.self, 'POST', 'Communication', message(['Organization/helsebro-brukerstotte']));
      const own = await call(w, w.tokens.self, 'PATCH', `Communication/${q.body.id}`, [{ op: 'add', path: '/received', value: '2026-12-01T00:00:00Z' }], 'application/json-patch+json');
      expect(own.status).to.equal(403);
      const unread = await call(w, w.tokens.self, 'GET', `Communication?sender=Patient/kari-nordmann&received:missing=true&_id=${q.body.id}`);
      expect(unread.body.total).to.equal(1);
      const marked = await call(w, clin, 'PATCH', `Communication/${q.body.id}`, [{ op: 'add', path: '/received', value: '2026-12-01T00:00:00Z' }], 'application/json-patch+json');
      expect(marked.status, diag(marked)).to.equal(200);
      const read = await call(w, w.tokens.communicate, 'GET', `Communication?sender=Patient/kari-nordmann&received:missing=false`);
      expect(read.body.entry.map((e: { resource: Communication }) => e.resource.id)).to.include.members([q.body.id, 'kari-melding-2026-11-22-brukerstotte']);
      const history = await call(w, w.tokens.self, 'GET', `Communication/${q.body.id}/_history`);
      expect(history.body.entry.map((e: { resource: Communication }) => e.resource.received ?? null)[1]).to.equal(null);
    });
  });

  describe('$events-since (Dette har skjedd siden sist)', () => {
    const groups = (p: Parameters) => (p.parameter ?? []).filter((x) => x.name === 'patient');
    const patientOf = (g: ParametersParameter) => g.part?.find((x) => x.name === 'patient')?.valueReference?.reference;
    const kinds = (g: ParametersParameter | undefined) => (g?.part ?? []).filter((x) => x.resource).map((x) => `${x.name}:${x.resource!.resourceType}/${x.resource!.id}`);

    it('Kari: the messages written to her since the moment, a result released since, open offers and questionnaires; logged in her access log', async () => {
      const obs = (await w.s.repo.create<Observation>({ resourceType: 'Observation', meta: { tag: [{ system: 'https://fhir.helsebro.no/CodeSystem/release-status', code: 'released' }] }, status: 'final', code: { text: 'Ferritin' }, subject: KARI }, SYSTEM_ACCESS)).resource;
      const r = await call(w, w.tokens.self, 'GET', `$events-since?_since=${encodeURIComponent(start)}`);
      expect(r.status, diag(r)).to.equal(200);
      const own = groups(r.body as Parameters).find((g) => patientOf(g) === 'Patient/kari-nordmann');
      const found = kinds(own);
      expect(found).to.include(`result:Observation/${obs.id}`);
      expect(found.filter((k) => k.startsWith('message:')).length, 'the clinician\'s messages to Kari since the start').to.be.greaterThan(1);
      expect(found.some((k) => k.startsWith('message:') && (own!.part!.find((p) => `${p.name}:${p.resource?.resourceType}/${p.resource?.id}` === k)!.resource as Communication).sender?.reference === 'Patient/kari-nordmann'), 'not her own').to.equal(false);
      const log = await w.s.db.query<{ query: string; shown: string[] }>("SELECT query, shown FROM access_log WHERE patient_id = 'kari-nordmann' AND query LIKE '$events-since%' ORDER BY seq DESC LIMIT 1");
      expect(log[0]?.shown).to.include(`Observation/${obs.id}`);
    });
    it('old events are not news: since 2026-11-01 Kari sees the demo offer and questionnaire and the GP\'s message, not the 2025 thread', async () => {
      const r = await call(w, w.tokens.self, 'GET', '$events-since?_since=2026-11-01T00:00:00Z');
      const found = kinds(groups(r.body as Parameters)[0]);
      expect(found).to.include.members(['offer:Task/kari-tilbud-tidligere-time', 'questionnaire:Task/kari-sporsmal-for-timen', 'message:Communication/kari-melding-2026-11-19-provesvar']);
      expect(found).to.not.include('message:Communication/kari-melding-2025-09-06');
    });
    it('each actor sees only what they may search: Communicate no results, Read no messages, a system token nothing', async () => {
      const since = encodeURIComponent('2020-01-01T00:00:00Z');
      const by = async (actor: keyof World['tokens']) => kinds(groups((await call(w, w.tokens[actor], 'GET', `$events-since?_since=${since}`)).body as Parameters).find((g) => patientOf(g) === 'Patient/kari-nordmann'));
      const comm = await by('communicate');
      expect(comm.some((k) => k.startsWith('result:')), 'Communicate: no clinical data').to.equal(false);
      expect(comm.some((k) => k.startsWith('message:'))).to.equal(true);
      const read = await by('read');
      expect(read.some((k) => k.startsWith('message:')), 'Read: no messages (A3)').to.equal(false);
      expect(read.some((k) => k.startsWith('result:'))).to.equal(true);
      expect((await by('system')).length, 'a system token has no patient: 403').to.equal(0);
    });
    it('the CapabilityStatement names the operation and the Binary:security-context parameter', async () => {
      const cs = await (await fetch(`${w.s.fhirBase}/metadata`)).json() as { rest: Array<{ operation: Array<{ name: string }>; resource: Array<{ type: string; searchParam?: Array<{ name: string }> }> }> };
      expect(cs.rest[0]!.operation.map((o) => o.name)).to.include('events-since');
      expect(cs.rest[0]!.resource.find((r) => r.type === 'Binary')!.searchParam!.map((p) => p.name)).to.include('security-context');
    });
    it('the portal shows every patient the person acts for; the parent gets Emma (and only what parents may see); no _since → 400', async () => {
      const parent = await call(w, w.tokens.parent, 'GET', '$events-since?_since=2020-01-01T00:00:00Z');
      expect(parent.status, diag(parent)).to.equal(200);
      const patients = groups(parent.body as Parameters).map(patientOf);
      expect(patients[0]).to.equal('Patient/emma-johansen');
      for (const g of groups(parent.body as Parameters)) for (const p of g.part ?? []) if (p.resource) expect(JSON.stringify(p.resource), 'not for parents').to.not.contain('no-parent');
      const ola = await call(w, w.tokens.standard, 'GET', '$events-since?_since=2020-01-01T00:00:00Z');
      expect(groups(ola.body as Parameters).map(patientOf), 'Ola: Kari (the token\'s patient) first, then himself').to.deep.equal(['Patient/kari-nordmann', 'Patient/ola-nordmann']);
      // Another app for the same person and patient: the token's patient only (first-party portal alone looks across).
      const scope = 'openid fhirUser launch/patient patient/*.rs';
      const app = await registerApp(w.s, { client_name: 'Helseapp', redirect_uris: [APP_REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], scope });
      const t = await exchange(w.s, app.client_id, await launch(w.s, { clientId: app.client_id, pid: '03897302801', patient: 'kari-nordmann', scope }));
      const third = await call(w, String(t.body.access_token), 'GET', '$events-since?_since=2020-01-01T00:00:00Z');
      expect(third.status, diag(third)).to.equal(200);
      expect(groups(third.body as Parameters).map(patientOf)).to.deep.equal(['Patient/kari-nordmann']);
      const bad = await call(w, w.tokens.self, 'GET', '$events-since');
      expect([bad.status, bad.body.issue?.[0]?.expression]).to.deep.equal([400, ['_since']]);
      expect((await call(w, w.tokens.system, 'GET', '$events-since?_since=2020-01-01T00:00:00Z')).status).to.equal(403);
    });
  });
});
