/**
 * The access matrix (access-spec §4.4) enumerated: every policy row × actor × interaction is tried
 * over HTTP with a real token of that actor against a stored resource of that slice. Expected
 * cells are written here a second time, by hand from the seed sentences, so a change to the
 * policy table that the seeds do not support fails this test.
 */
import { expect } from 'chai';
import type { Bundle, Resource } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import { AUTHOR_FIELDS } from '../../src/access/authorship.js';
import { POLICY, typeLetters, type PolicyRow } from '../../src/access/policy.js';
import { buildWorld, PERSONAS, sampleFor, storeLogSample, subjectOf, type TestedActor, type World } from './world.js';

// Independent reading of the seeds: actor order self std read comm full parent clin system.
const FROM_THE_SEEDS: Record<string, string> = {
  'Patient|own record': 'rsu rs rs rs rs rsu rsu rscud', // A7: proxies do not edit; A13: parents update contact details
  'Appointment|upcoming': 'rscu rsc - rscu rscu rscu rscu rscud', // S4 booking, A2 no change for Standard, S6 manage
  'Appointment|previous': 'rs - - rs rs rs rs rscud', // S4 "cannot see … previous appointments"
  'Communication|messages': 'rscu rscu - rscu rscu rscu rscu rscud', // S5 Read does not communicate; U = the recipient marks a message read (issue 13)
  'Binary|attachments': 'rsc rsc rs rsc rsc rsc rsc rscud', // row 28: read as the resource they belong to; sent with a message
  'MedicationStatement|patient-reported': 'rsc rs rs - rsc rsc rscu rscud', // S20
  'MedicationStatement|clinician-recorded': 'rs rs rs - rs rs rscu rscud',
  'AllergyIntolerance|all': 'rs rs rs - rs rs rscu rscud', // S19 requested, not written
  'Immunization|all': 'rs rs rs - rs rs rs rscud',
  'Observation|held for review': '- - - - - - rsu rscud', // S18
  'Observation|patient-generated': 'rsc rs rs - rsc rsc rs rscud',
  'Observation|released': 'rs rs rs - rs rs rscu rscud',
  'Condition|all': 'rs rs rs - rs rs rscu rscud',
  'Encounter|home-service meeting': 'rs - rs - rs rs rscu rscud', // A16 meetings in the home are shown
  'Encounter|home-service visit': '- - - - - - rscu rscud', // A16, S21 home-service visits hidden from the patient side
  'Encounter|visits': 'rs - rs - rs rs rscu rscud', // S4 no history for Standard
  'Task|earlier-time offer': 'rsu rs - rsu rsu rsu rs rscud', // A15 Standard sees, cannot accept; server-created
  'Task|appointment change/cancel request': 'rsc - - rsc rsc rsc rsu rscud', // A2
  'Task|renewal or allergy request': 'rscu rscu - - rscu rscu rsu rscud', // S20, S19; A14 not Read, not Comm; U = withdraw only (issue 13)
  'Task|municipal, appeal or records request': 'rscu - - - rscu rscu rsu rscud', // FAQ municipal services, appeals, journal access; U = withdraw only
  'MedicationRequest|prescriptions': 'rs rs rs - rs rs rscu rscud', // row 26; renewals are Task requests
  'Task|questionnaire before an appointment': 'rsu rs - rs rsu rsu rscu rscud', // S7 Full answers questionnaires; clinic-created
  'Schedule|reference data': 'rs rs rs rs rs rs rscu rscud', // row 19, scheduling staff write
  'DocumentReference|personal note': 'rscud - - - rscu rscu - -', // S16 no health personnel; S7 view and change; A4
  'DocumentReference|clinical': 'rs - rs - rs rs rscu rscud',
  'QuestionnaireResponse|answered recently': 'rscu - - - rscu rscu rs rscud', // S24
  'QuestionnaireResponse|older': '- - - - - - rs rscud',
  'Consent|grants and terms': 'rscu - - - - - r rscu', // A5; kept for audit
  'AuditEvent|access log': 'rs - - - - - - rs', // S23, A6
  'RelatedPerson|the actor’s own': 'rs r r r r r rs rscud',
  'RelatedPerson|others': 'rs - - - - - rs rscud',
  'Basic|notification preferences': 'rscu - - - - rscu - rscud', // issue 14; A13 parents for the child, A7 not proxies
  'Basic|portal settings': 'rscu - - - - rscu - rscud',
  'Basic|notification': 'rsu - - - - rsu - rscud', // server-written, marked read
  'Basic|other': '- - - - - - - rscud',
};
const ACTOR_ORDER = ['self', 'standard', 'read', 'communicate', 'full', 'parent', 'clinician', 'system'] as const;
const TESTED: TestedActor[] = ['self', 'standard', 'read', 'communicate', 'full', 'parent', 'system'];

describe('access matrix (access-spec §4.4)', function () {
  this.timeout(600_000);
  let w: World;

  before(async () => {
    w = await buildWorld();
  });
  after(() => w?.s.close());

  describe('the policy table says what the seeds say', () => {
    for (const row of POLICY.filter((r) => r.row > 0)) {
      it(`row ${row.row}: ${row.resourceType} (${row.slice})`, () => {
        const expected = FROM_THE_SEEDS[`${row.resourceType}|${row.slice}`];
        expect(expected, 'a row the seeds do not cover').to.be.a('string');
        const cells = expected!.split(' ').map((c) => (c === '-' ? '' : c));
        expect(ACTOR_ORDER.map((a) => row.allow[a])).to.deep.equal(cells);
      });
    }
    it('reference data (practitioners, locations, schedules) is readable by every patient-facing actor and holds no patient data', () => {
      for (const row of POLICY.filter((r) => r.row === 0)) expect(row.allow.standard, row.resourceType).to.equal('rs');
    });
  });

  for (const row of POLICY) {
    for (const actor of TESTED) {
      it(`row ${row.row} ${row.resourceType} (${row.slice}) × ${actor}: ${row.allow[actor] || 'nothing'}`, async () => {
        const target = subjectOf(w, actor, row);
        if (!target) return; // e.g. "the actor's own RelatedPerson" for the patient themself
        await checkCell(w, actor, row, target);
      });
    }
  }
});

async function fhir(w: World, actor: TestedActor, method: string, path: string, body?: Resource): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${w.s.fhirBase}/${path}`, {
    method,
    headers: { authorization: `Bearer ${w.tokens[actor]}`, accept: 'application/fhir+json', ...(body ? { 'content-type': 'application/fhir+json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** A transaction of a new message and its attachment, each naming the other by fullUrl (issue 13). */
async function sendWithMessage(w: World, actor: TestedActor, binary: Resource): Promise<{ status: number; body: Record<string, unknown> }> {
  const patient = actor === 'system' ? 'kari-nordmann' : PERSONAS[actor].patient;
  const [b, c] = ['urn:uuid:0d1c6a52-8e43-4c55-9a38-2b1f0e3c7a01', 'urn:uuid:0d1c6a52-8e43-4c55-9a38-2b1f0e3c7a02'];
  return fhir(w, actor, 'POST', '', {
    resourceType: 'Bundle', type: 'transaction',
    entry: [
      { fullUrl: b, resource: { ...binary, securityContext: { reference: c } } as Resource, request: { method: 'POST', url: 'Binary' } },
      { fullUrl: c, request: { method: 'POST', url: 'Communication' }, resource: {
        resourceType: 'Communication', status: 'completed', subject: { reference: `Patient/${patient}` }, recipient: [{ reference: 'Organization/helsebro-legesenter' }],
        payload: [{ contentAttachment: { contentType: 'text/plain', url: b } }],
      } as Resource },
    ],
  } as Resource);
}

/** What a denial looks like (access-spec §0.4): type/interaction outside the grant → 403; hidden instance → 404. */
function deniedStatus(row: PolicyRow, actor: TestedActor, letter: string): number[] {
  if (!typeLetters(actor, row.resourceType).includes(letter)) return [403];
  return row.allow[actor].includes('r') ? [403] : [403, 404];
}

async function checkCell(w: World, actor: TestedActor, row: PolicyRow, target: { type: string; id: string }): Promise<void> {
  const allow = row.allow[actor];
  const where = `${actor} on ${target.type}/${target.id} (${row.slice})`;

  const read = await fhir(w, actor, 'GET', `${target.type}/${target.id}`);
  if (allow.includes('r')) expect(read.status, `read: ${where}`).to.equal(200);
  else expect(read.status, `read: ${where}`).to.equal(typeLetters(actor, row.resourceType).includes('r') ? 404 : 403);

  const search = await fhir(w, actor, 'GET', `${target.type}?_id=${target.id}`);
  if (!typeLetters(actor, row.resourceType).includes('s')) expect(search.status, `search: ${where}`).to.equal(403);
  else {
    expect(search.status, `search: ${where}`).to.equal(200);
    const ids = ((search.body as unknown as Bundle).entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource?.id);
    expect(ids, `search: ${where}`).to.deep.equal(allow.includes('s') ? [target.id] : []);
  }

  // The access log is not a stored resource (src/audit): its entries are read and made through the log.
  const isLog = row.resourceType === 'AuditEvent';
  const current = isLog ? ((await fhir(w, 'system', 'GET', `AuditEvent/${target.id}`)).body as unknown as Resource) : await w.s.repo.read(target.type, target.id, SYSTEM_ACCESS);
  if (row.resourceType !== 'Patient' && row.slice !== 'the actor’s own') {
    const copy = { ...(sampleFor(row, actor === 'system' ? 'kari-nordmann' : PERSONAS[actor].patient) as Resource) } as Record<string, unknown> & Resource;
    // On the patient side the author fields are the server's word (§5.2, authorship.ts): a sample the
    // patient authored is sent without them and filled in from the token, so a proxy's medication report
    // is the proxy's; a clinician-authored one keeps its Practitioner and is refused.
    const patientAuthored = (v: unknown) => JSON.stringify(v ?? null).includes('"Patient/');
    if (actor !== 'system') for (const f of AUTHOR_FIELDS[row.resourceType] ?? []) if (patientAuthored(copy[f.path])) delete copy[f.path];
    // A Binary is sent together with the message it belongs to (portal/messages): one transaction, 200.
    const created = row.resourceType === 'Binary' ? await sendWithMessage(w, actor, copy) : await fhir(w, actor, 'POST', target.type, copy);
    if (allow.includes('c')) expect(created.status, `create: ${where} ${JSON.stringify(created.body).slice(0, 300)}`).to.equal(row.resourceType === 'Binary' ? 200 : 201);
    else expect(deniedStatus(row, actor, 'c'), `create: ${where} got ${created.status}`).to.include(created.status);
  }

  const updated = await fhir(w, actor, 'PUT', `${target.type}/${target.id}`, current);
  if (allow.includes('u')) expect(updated.status, `update: ${where} ${JSON.stringify(updated.body).slice(0, 300)}`).to.equal(200);
  else expect(deniedStatus(row, actor, 'u'), `update: ${where} got ${updated.status}`).to.include(updated.status);

  if (row.resourceType !== 'Patient' && row.slice !== 'the actor’s own') {
    const { id: _id, meta: _meta, ...content } = current;
    const victim = isLog
      ? await storeLogSample(w.s, actor === 'system' ? 'kari-nordmann' : PERSONAS[actor].patient)
      : (await w.s.repo.create({ ...content, ...(current.meta?.tag ? { meta: { tag: current.meta.tag } } : {}) } as Resource, SYSTEM_ACCESS)).resource;
    const deleted = await fhir(w, actor, 'DELETE', `${victim.resourceType}/${victim.id}`);
    if (allow.includes('d')) expect(deleted.status, `delete: ${where}`).to.be.oneOf([200, 204]);
    else expect(deniedStatus(row, actor, 'd'), `delete: ${where} got ${deleted.status}`).to.include(deleted.status);
  }
}
