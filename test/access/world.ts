/**
 * The world the access tests run in: a real helsebro with the demo population (fixtures/), one
 * sample resource per policy slice in Kari's and Emma's records, and real tokens obtained through
 * the portal's SMART launch for each persona of fixtures/README.md (plus the dev-system client).
 */
import type { AuditEvent, FhirResource, Resource } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import { CS, POLICY, type Actor, type PolicyRow } from '../../src/access/policy.js';
import { insertRows } from '../../src/audit/access-log.js';
import { auditEventFromRow, type AccessLogRow } from '../../src/audit/audit-event.js';
import { PORTAL_CLIENT_ID, PORTAL_SCOPE } from '../../src/auth/clients.js';
import type { Config } from '../../src/config/config.js';
import { createLogger } from '../../src/log.js';
import { seedDemoData } from '../../src/seed/seed.js';
import { exchange, getDevSystemToken, launch, startAuthTestServer, type AuthTestServer } from '../auth/support.js';

export const PERSONAS = {
  self: { pid: '12847502159', patient: 'kari-nordmann', rp: null },
  standard: { pid: '03897302801', patient: 'kari-nordmann', rp: 'fullmakt-kari-ola' },
  read: { pid: '20810153513', patient: 'kari-nordmann', rp: 'fullmakt-kari-ingrid' },
  communicate: { pid: '30865804381', patient: 'kari-nordmann', rp: 'fullmakt-kari-per' },
  full: { pid: '02917804977', patient: 'kari-nordmann', rp: 'fullmakt-kari-astrid' },
  parent: { pid: '27828107076', patient: 'emma-johansen', rp: 'forelder-emma-johansen-marte-johansen' },
} as const;

export type TestedActor = Exclude<Actor, 'clinician'>;

export interface World {
  s: AuthTestServer;
  tokens: Record<TestedActor, string>;
  /** Sample id per `${patient}|${row.resourceType}|${row.slice}`. */
  samples: Map<string, Resource>;
}

const now = Date.now();
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const subject = (p: string) => ({ reference: `Patient/${p}` });
/** An upcoming demo appointment per sample patient, for the Task samples that point at one. */
const UPCOMING: Record<string, string> = { 'kari-nordmann': 'kari-time-2030-03-14', 'emma-johansen': 'emma-time-2030-09-10' };

/** A resource of the slice, in patient `p`'s record; null where the slice is not a stored sample. */
export function sampleFor(row: PolicyRow, p: string): FhirResource | null {
  const key = `${row.resourceType}|${row.slice}`;
  switch (key) {
    case 'Patient|own record': return null;
    case 'Appointment|upcoming': return { resourceType: 'Appointment', status: 'proposed', start: iso(now + 400 * 86_400_000), end: iso(now + 400 * 86_400_000 + 1_800_000), participant: [{ actor: subject(p), status: 'accepted' }] };
    case 'Appointment|previous': return { resourceType: 'Appointment', status: 'fulfilled', start: '2019-05-02T08:00:00Z', end: '2019-05-02T08:30:00Z', participant: [{ actor: subject(p), status: 'accepted' }] };
    case 'Communication|messages': return { resourceType: 'Communication', status: 'completed', subject: subject(p), sender: subject(p), recipient: [{ reference: 'Organization/helsebro-legesenter' }], payload: [{ contentString: 'Hei' }] };
    // Row 28: a Binary is seen as the resource its securityContext names; the Patient is seen by every actor acting for them.
    case 'Binary|attachments': return { resourceType: 'Binary', contentType: 'text/plain', securityContext: subject(p), data: Buffer.from('Vedlegg').toString('base64') };
    case 'MedicationStatement|patient-reported': return { resourceType: 'MedicationStatement', status: 'active', medicationCodeableConcept: { text: 'Paracetamol' }, subject: subject(p), informationSource: subject(p) };
    case 'MedicationStatement|clinician-recorded': return { resourceType: 'MedicationStatement', status: 'active', medicationCodeableConcept: { text: 'Ventoline' }, subject: subject(p), informationSource: { reference: 'Practitioner/lege-anne-lund' } };
    case 'AllergyIntolerance|all': return { resourceType: 'AllergyIntolerance', clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] }, patient: subject(p), code: { text: 'Peanøtter' } }; // clinicalStatus: ait-1
    case 'Immunization|all': return { resourceType: 'Immunization', status: 'completed', vaccineCode: { text: 'MMR' }, patient: subject(p), occurrenceDateTime: '2020-01-01' };
    case 'Observation|held for review': return { resourceType: 'Observation', meta: { tag: [{ system: CS.releaseStatus, code: 'held' }] }, status: 'final', code: { text: 'Kolesterol' }, subject: subject(p) };
    case 'Observation|patient-generated': return { resourceType: 'Observation', status: 'final', code: { text: 'Puls' }, subject: subject(p), performer: [subject(p)], valueQuantity: { value: 61, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' } };
    case 'Observation|released': return { resourceType: 'Observation', meta: { tag: [{ system: CS.releaseStatus, code: 'released' }] }, status: 'final', code: { text: 'Hemoglobin' }, subject: subject(p) };
    case 'Condition|all': return { resourceType: 'Condition', subject: subject(p), code: { text: 'Astma' } };
    case 'Encounter|home-service meeting': return { resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'HH' }, type: [{ coding: [{ system: CS.encounterType, code: 'responsibility-group-meeting' }] }], subject: subject(p) };
    case 'Encounter|home-service visit': return { resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'HH' }, subject: subject(p) };
    case 'Task|earlier-time offer': return { resourceType: 'Task', status: 'requested', intent: 'proposal', code: { coding: [{ system: CS.taskCode, code: 'earlier-time-offer' }] }, for: subject(p), focus: { reference: 'Slot/x' }, basedOn: [{ reference: `Appointment/${UPCOMING[p]}` }] };
    case 'Task|appointment change/cancel request': return { resourceType: 'Task', status: 'requested', intent: 'order', code: { coding: [{ system: CS.taskCode, code: 'change-appointment' }] }, for: subject(p), focus: { reference: `Appointment/${UPCOMING[p]}` }, note: [{ text: 'Kan vi flytte timen til ettermiddagen?' }] };
    case 'Task|renewal or allergy request': return { resourceType: 'Task', status: 'requested', intent: 'order', code: { coding: [{ system: CS.taskCode, code: 'add-allergy' }] }, for: subject(p), owner: { reference: 'Organization/helsebro-legesenter' }, input: [{ type: { text: 'allergy' }, valueCodeableConcept: { text: 'Nøtter' } }] };
    case 'Task|municipal, appeal or records request': return { resourceType: 'Task', status: 'requested', intent: 'order', code: { coding: [{ system: CS.taskCode, code: 'request-records' }] }, for: subject(p), owner: { reference: 'Organization/helsebro-legesenter' }, input: [{ type: { text: 'description' }, valueString: 'Alle notater fra legevakten i 2024' }] };
    case 'MedicationRequest|prescriptions': return { resourceType: 'MedicationRequest', status: 'active', intent: 'order', medicationCodeableConcept: { text: 'Ventoline 0,1 mg/dose inhalasjonsaerosol' }, subject: subject(p), requester: { reference: 'Practitioner/lege-anne-lund' }, authoredOn: '2026-06-01' };
    case 'Task|questionnaire before an appointment': return { resourceType: 'Task', status: 'requested', intent: 'order', code: { coding: [{ system: CS.taskCode, code: 'complete-questionnaire' }] }, for: subject(p), basedOn: [{ reference: `Appointment/${UPCOMING[p]}` }], input: [{ type: { text: 'questionnaire' }, valueCanonical: 'https://fhir.helsebro.no/Questionnaire/for-timen' }] };
    // A service's Schedule is in nobody's record, so it is not sampled per patient; the patient side
    // reads it as reference data (access-sql.ts; test/portal/booking.test.ts).
    case 'Schedule|reference data': return null;
    case 'Encounter|visits': return { resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, subject: subject(p) };
    case 'DocumentReference|personal note': return docRef(p, 'personal-note');
    case 'DocumentReference|clinical': return docRef(p, 'clinical-note');
    case 'QuestionnaireResponse|answered recently': return { resourceType: 'QuestionnaireResponse', status: 'completed', subject: subject(p), authored: iso(now - 10 * 86_400_000) };
    case 'QuestionnaireResponse|older': return { resourceType: 'QuestionnaireResponse', status: 'completed', subject: subject(p), authored: '2020-01-01T10:00:00Z' };
    case 'Consent|grants and terms': return {
      resourceType: 'Consent', status: 'active', patient: subject(p),
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
      policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
    };
    case 'AuditEvent|access log': {
      // The log is its own table; this is what an entry looks like at the API (used as a write body).
      const { id: _id, meta: _meta, ...event } = auditEventFromRow({ ...logSampleRow(p), id: 'x', seq: 0 });
      return event as AuditEvent;
    }
    case 'RelatedPerson|the actor’s own': return null;
    case 'RelatedPerson|others': return { resourceType: 'RelatedPerson', patient: subject(p), relationship: [{ text: 'Nabo' }], name: [{ family: 'Naboen', given: ['Nils'] }] };
    case 'Basic|notification preferences': return { resourceType: 'Basic', code: { coding: [{ system: CS.accountRecord, code: 'notification-preferences' }] }, subject: subject(p), extension: [{ url: 'https://fhir.helsebro.no/StructureDefinition/notification-preference', extension: [{ url: 'event', valueCoding: { system: 'https://fhir.helsebro.no/CodeSystem/notification-event', code: 'new-message' } }, { url: 'channel', valueCoding: { system: 'https://fhir.helsebro.no/CodeSystem/notification-channel', code: 'in-app' } }] }] };
    case 'Basic|portal settings': return { resourceType: 'Basic', code: { coding: [{ system: CS.accountRecord, code: 'portal-settings' }] }, subject: subject(p), extension: [{ url: 'https://fhir.helsebro.no/StructureDefinition/portal-shortcut', valueString: '/meldinger' }] };
    case 'Basic|notification': return { resourceType: 'Basic', code: { coding: [{ system: CS.accountRecord, code: 'notification' }], text: 'Du har fått en ny melding i Helsebro.' }, subject: subject(p), created: '2026-12-01', extension: [{ url: 'https://fhir.helsebro.no/StructureDefinition/notification-event', valueCoding: { system: 'https://fhir.helsebro.no/CodeSystem/notification-event', code: 'new-message' } }] };
    case 'Basic|other': return { resourceType: 'Basic', code: { text: 'Noe annet' }, subject: subject(p) };
    case 'Practitioner|reference data': return { resourceType: 'Practitioner', name: [{ family: 'Lege' }] };
    case 'PractitionerRole|reference data': return { resourceType: 'PractitionerRole', active: true };
    case 'Organization|reference data': return { resourceType: 'Organization', name: 'Legekontor' };
    case 'Location|reference data': return { resourceType: 'Location', name: 'Rom 1' };
    case 'HealthcareService|reference data': return { resourceType: 'HealthcareService', name: 'Fastlege' };
    case 'Medication|reference data': return { resourceType: 'Medication', code: { text: 'Paracetamol 500 mg' } };
    case 'Questionnaire|reference data': return { resourceType: 'Questionnaire', status: 'active' };
    case 'Slot|reference data': return { resourceType: 'Slot', schedule: { reference: 'Schedule/x' }, status: 'free', start: '2031-01-01T10:00:00Z', end: '2031-01-01T10:30:00Z' };
    default: throw new Error(`no sample for policy slice ${key}`);
  }
}

/** A clinician's read of the patient's record, as the access log stores it. */
export function logSampleRow(p: string): AccessLogRow {
  return {
    recorded: iso(now), patientId: p, actor: 'Practitioner/lege-anne-lund', relation: 'clinician', level: null, clientId: 'journal', clientName: 'Journal',
    event: 'rest', interaction: 'read', action: 'R', shown: [`Patient/${p}`], query: null, outcome: '0', grant: null, detail: null,
  };
}

/** Stores a log entry about patient `p` straight into the table (the log has no write API) and returns it as seen at the API. */
export async function storeLogSample(s: AuthTestServer, p: string): Promise<Resource> {
  await insertRows(s.db, [logSampleRow(p)]);
  const rows = await s.db.query<{ id: string }>('SELECT id FROM access_log WHERE patient_id = $1 ORDER BY seq DESC LIMIT 1', [p]);
  return { resourceType: 'AuditEvent', id: rows[0]!.id } as Resource;
}

function docRef(p: string, category: string): FhirResource {
  return {
    resourceType: 'DocumentReference', status: 'current', subject: subject(p),
    category: [{ coding: [{ system: CS.documentCategory, code: category }] }],
    content: [{ attachment: { contentType: 'text/plain', data: Buffer.from('Notat').toString('base64') } }],
  };
}

export const sampleKey = (patient: string, row: PolicyRow) => `${patient}|${row.resourceType}|${row.slice}`;

/** The stored resource an actor's test uses for a slice (the represented patient's own record for Patient/RelatedPerson rows). */
export function subjectOf(w: World, actor: TestedActor, row: PolicyRow): { type: string; id: string } | null {
  const patient = actor === 'system' ? 'kari-nordmann' : PERSONAS[actor].patient;
  if (row.resourceType === 'Patient') return { type: 'Patient', id: patient };
  if (row.slice === 'the actor’s own') {
    const rp = actor === 'system' ? null : PERSONAS[actor].rp;
    return rp ? { type: 'RelatedPerson', id: rp } : null;
  }
  const r = w.samples.get(sampleKey(patient, row));
  return r ? { type: r.resourceType, id: r.id! } : null;
}

export async function buildWorld(overrides: Partial<Config> = {}): Promise<World> {
  const s = await startAuthTestServer(overrides);
  await seedDemoData(s.repo, createLogger('silent'), s.fhirBase);
  const samples = new Map<string, Resource>();
  for (const patient of ['kari-nordmann', 'emma-johansen']) {
    for (const row of POLICY) {
      const r = sampleFor(row, patient);
      if (!r) continue;
      const resource = r.resourceType === 'AuditEvent' ? await storeLogSample(s, patient) : (await s.repo.create(r, SYSTEM_ACCESS)).resource;
      samples.set(sampleKey(patient, row), resource);
    }
  }
  const tokens = {} as Record<TestedActor, string>;
  for (const [actor, persona] of Object.entries(PERSONAS) as Array<[TestedActor, (typeof PERSONAS)[keyof typeof PERSONAS]]>) {
    tokens[actor] = await portalToken(s, persona.pid, persona.patient);
  }
  tokens.system = await getDevSystemToken(s.baseUrl);
  return { s, tokens, samples };
}

/** A token for the first-party portal, through the real login, terms, picker and (skipped) consent. */
export async function portalToken(s: AuthTestServer, pid: string, patient: string, scope = PORTAL_SCOPE): Promise<string> {
  const redirectUri = `${s.baseUrl}/portal/callback`;
  const r = await launch(s, { clientId: PORTAL_CLIENT_ID, pid, patient, scope, redirectUri });
  const t = await exchange(s, PORTAL_CLIENT_ID, r, redirectUri);
  if (t.status !== 200) throw new Error(`token exchange for ${pid} failed: ${JSON.stringify(t.body)}`);
  if (t.body.patient !== patient) throw new Error(`token for ${pid} is for ${String(t.body.patient)}, not ${patient}`);
  return t.body.access_token as string;
}
