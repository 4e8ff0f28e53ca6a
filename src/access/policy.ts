/**
 * The access matrix of access-spec §4.4 as data: one row per resource slice, one cell per actor,
 * each cell the interactions allowed (r read/vread, s search, c create, u update/patch, d delete).
 * `decide.ts` interprets it, `options.ts` derives the SMART scope ceilings from it, and the tests
 * enumerate it. A type without a row is closed to every patient-facing actor (deny by default).
 *
 * Slice matchers are search queries, so the same text compiles to SQL for reads and is evaluated
 * in memory for writes (`slice-match.ts`). Placeholders: `{patient}` the represented Patient id,
 * `{actor}` the acting RelatedPerson/Patient reference, `{now}` the request time, `{recent}` the
 * start of the questionnaire retention window.
 */
export const ACTORS = ['self', 'standard', 'read', 'communicate', 'full', 'parent', 'clinician', 'system'] as const;
export type Actor = (typeof ACTORS)[number];
export const PROXY_LEVELS = ['standard', 'read', 'communicate', 'full'] as const;
export type ProxyLevel = (typeof PROXY_LEVELS)[number];
/** Actors who act for a patient (citizen side); clinicians and backend systems are not. */
export const PATIENT_FACING: readonly Actor[] = ['self', 'standard', 'read', 'communicate', 'full', 'parent'];

export const CS = {
  releaseStatus: 'https://fhir.helsebro.no/CodeSystem/release-status',
  documentCategory: 'https://fhir.helsebro.no/CodeSystem/document-category',
  proxyRestriction: 'https://fhir.helsebro.no/CodeSystem/proxy-restriction',
  proxyLevel: 'https://fhir.helsebro.no/CodeSystem/proxy-level',
  taskCode: 'https://fhir.helsebro.no/CodeSystem/task-code',
  encounterType: 'https://fhir.helsebro.no/CodeSystem/encounter-type',
  accountRecord: 'https://fhir.helsebro.no/CodeSystem/account-record',
} as const;

/** Home services (A16): Encounter.class HH of the HL7 v3 ActCode system. */
const HOME_SERVICE = 'class=http://terminology.hl7.org/CodeSystem/v3-ActCode|HH';

/** A slice's membership test: a query, "none of the type's other slices", or every resource. */
export type SliceMatch = { query: string } | { anyOf: readonly string[] } | 'otherwise' | 'all';

export interface PolicyRow {
  /** The row number of access-spec §4.4, so a test failure points at the specification. */
  row: number;
  resourceType: string;
  slice: string;
  match: SliceMatch;
  allow: Readonly<Record<Actor, string>>;
  /** Why, in the seeds' words (S-numbers from access-spec §4.1; A-numbers are its readings). */
  seed: string;
  /** What the patient side does instead of a refused create (said in the 403), e.g. send a request Task. */
  instead?: string;
}

/** Directory and definition types every patient-facing actor may read. */
export const SHARED_TYPES = ['Practitioner', 'PractitionerRole', 'Organization', 'Location', 'HealthcareService', 'Medication', 'Questionnaire', 'Slot'] as const;

/** Issue 13: prescriptions and allergies are asked for with a request Task, not written by the patient side. */
const REQUEST_INSTEAD = (code: string) => `use a Task request instead (POST Task with code ${CS.taskCode}|${code})`;
const HELD = `_tag=${CS.releaseStatus}|held`;
const PERSONAL_NOTE = `category=${CS.documentCategory}|personal-note`;

function row(n: number, resourceType: string, slice: string, match: SliceMatch, cells: string, seed: string, instead?: string): PolicyRow {
  const parts = cells.trim().split(/\s+/);
  if (parts.length !== ACTORS.length) throw new Error(`policy row ${n}: ${parts.length} cells for ${ACTORS.length} actors`);
  const allow = Object.fromEntries(ACTORS.map((a, i) => [a, parts[i] === '-' ? '' : parts[i]!])) as Record<Actor, string>;
  return { row: n, resourceType, slice, match, allow, seed, ...(instead ? { instead } : {}) };
}

// prettier-ignore
export const POLICY: readonly PolicyRow[] = [
  //                                                                                         self   std   read  comm  full  parent clin  system
  row(1,  'Patient',             'own record',          'all',                              'rsu   rs    rs    rs    rs    rsu    rsu   rscud', 'FAQ personal information; A7 proxies do not edit; A13 parents may update contact details'),
  row(2,  'Appointment',         'upcoming',            'otherwise',                        'rscu  rsc   -     rscu  rscu  rscu   rscu  rscud', 'S4 "see upcoming … booking"; S6 "manage hours"; A2 Standard books but does not change'),
  row(3,  'Appointment',         'previous',            { query: 'date=lt{now}' },          'rs    -     -     rs    rs    rs     rs    rscud', 'S4 "cannot see … previous appointments"; S21'),
  row(4,  'Communication',       'messages',            'all',                              'rscu  rscu  -     rscu  rscu  rscu   rscu  rscud', 'S4, S6, S7; S5 "do not communicate" (A3); U only marks a received message read (issue 13, portal/messages)'),
  row(5,  'MedicationStatement', 'patient-reported',    { anyOf: ['source=Patient/{patient}', 'source={actor}'] }, 'rsc rs rs - rsc rsc rscu rscud', 'S20 patients report how they use medication'),
  row(5,  'MedicationStatement', 'clinician-recorded',  'otherwise',                        'rs    rs    rs    -     rs    rs     rscu  rscud', 'S20; never change a clinician-authored statement'),
  row(6,  'AllergyIntolerance',  'all',                 'all',                              'rs    rs    rs    -     rs    rs     rscu  rscud', 'S19 additions are requested, not written', REQUEST_INSTEAD('add-allergy')),
  row(7,  'Immunization',        'all',                 'all',                              'rs    rs    rs    -     rs    rs     rs    rscud', 'FAQ: from the national vaccination register'),
  row(9,  'Observation',         'held for review',     { query: HELD },                    '-     -     -     -     -     -      rsu   rscud', 'S18 "must be reviewed … before they are shared"'),
  row(10, 'Observation',         'patient-generated',   { query: 'performer=Patient/{patient}' }, 'rsc rs rs - rsc rsc rs rscud', '002 §10 device data shared with health personnel'),
  row(8,  'Observation',         'released',            'otherwise',                        'rs    rs    rs    -     rs    rs     rscu  rscud', 'S18 shared results; A1 Standard sees health information'),
  row(11, 'Condition',           'all',                 'all',                              'rs    rs    rs    -     rs    rs     rscu  rscud', 'FAQ health issues; S29 "diagnoser"'),
  row(12, 'Encounter',           'home-service meeting', { query: `${HOME_SERVICE}&type=${CS.encounterType}|responsibility-group-meeting,${CS.encounterType}|interdisciplinary-meeting` }, 'rs - rs - rs rs rscu rscud', 'S21; A16 responsibility-group and interdisciplinary meetings in the home are shown'),
  row(12, 'Encounter',           'home-service visit',  { query: HOME_SERVICE },            '-     -     -     -     -     -      rscu  rscud', 'S21; A16 home-service visits are hidden from the patient side'),
  row(12, 'Encounter',           'visits',              'otherwise',                        'rs    -     rs    -     rs    rs     rscu  rscud', 'S4 "cannot see … history"'),
  row(14, 'DocumentReference',   'personal note',       { query: PERSONAL_NOTE },           'rscud -     -     -     rscu  rscu   -     -',     'S16 "no health personnel can access"; S7 Full "view and change"; A4 no delete'),
  row(13, 'DocumentReference',   'clinical',            'otherwise',                        'rs    -     rs    -     rs    rs     rscu  rscud', 'S4 "history"'),
  row(15, 'QuestionnaireResponse', 'answered recently', { query: 'authored=ge{recent}' },   'rscu  -     -     -     rscu  rscu   rs    rscud', 'S24 "only … questionnaires you have answered recently"; S7'),
  row(15, 'QuestionnaireResponse', 'older',             'otherwise',                        '-     -     -     -     -     -      rs    rscud', 'S24 older answers are no longer shown to the citizen side'),
  row(16, 'Consent',             'grants and terms',    'all',                              'rscu  -     -     -     -     -      r     rscu',  'S8, S32; A5 proxies never administer consents; kept for audit (no delete)'),
  row(17, 'AuditEvent',          'access log',          'all',                              'rs    -     -     -     -     -      -     rs',    'S23; A6; written by the server only'),
  row(18, 'RelatedPerson',       'the actor’s own',     { query: '_id={actorId}' },         'rs    r     r     r     r     r      rs    rscud', 'S32; non-transitive: a proxy sees only their own'),
  row(18, 'RelatedPerson',       'others',              'otherwise',                        'rs    -     -     -     -     -      rs    rscud', 'S32 the patient sees who has access'),
  row(21, 'Task',                'earlier-time offer',  { query: `code=${CS.taskCode}|earlier-time-offer` }, 'rsu rs - rsu rsu rsu rs rscud', 'FAQ 001 earlier appointment; A15 Standard sees offers but cannot accept (a change, A2)'),
  row(22, 'Task',                'appointment change/cancel request', { query: `code=${CS.taskCode}|change-appointment,${CS.taskCode}|cancel-appointment` }, 'rsc - - rsc rsc rsc rsu rscud', 'FAQ 001 change or cancel; A2 Standard does not change'),
  row(23, 'Task',                'renewal or allergy request', { query: `code=${CS.taskCode}|renew-prescription,${CS.taskCode}|add-allergy` }, 'rscu rscu - - rscu rscu rsu rscud', 'S20 "request prescription renewals"; S19 "request that them to be added"; A14 not Read, not Communicate; U = withdraw only (issue 13)'),
  row(24, 'Task',                'municipal, appeal or records request', { query: `code=${CS.taskCode}|apply-municipal-service,${CS.taskCode}|appeal-decision,${CS.taskCode}|request-records` }, 'rscu - - - rscu rscu rsu rscud', 'FAQ 001 Municipal Services, "appeal decisions", "access to the journal"; U = withdraw only (issue 13)'),
  row(25, 'Task',                'questionnaire before an appointment', { query: `code=${CS.taskCode}|complete-questionnaire` }, 'rsu rs - rs rsu rsu rscu rscud', 'FAQ 001 questions before your appointment; S7 Full answers questionnaires'),
  row(26, 'MedicationRequest',   'prescriptions',       'all',                              'rs    rs    rs    -     rs    rs     rscu  rscud', 'FAQ 001 "an overview of medications"; S20 renewals are requested (Task), not written', REQUEST_INSTEAD('renew-prescription')),
  // Row 28 "as the resource that references them": the cells bound the type (scopes); which Binary is
  // visible is decided by its securityContext (CONTEXT_BOUND, compiled into SQL by access-sql.ts).
  row(28, 'Binary',              'attachments',         'all',                              'rsc   rsc   rs    rsc   rsc   rsc    rsc   rscud', 'row 28: attachments of messages and documents are read as the resource they belong to; sent with a message (S4, S6, S7)'),
  // The citizen's account records (issue 14; access-spec §5.2 "the contact/notification preferences"): self and
  // parents of a child (A13), never proxies (A7); the first-party portal only (src/auth/policy.ts). Notifications
  // are server-written; the patient side marks them read (src/notify/account-records.ts).
  row(29, 'Basic',               'notification preferences', { query: `code=${CS.accountRecord}|notification-preferences` }, 'rscu - - - - rscu - rscud', 'issue 14 "choose how to receive notifications"; A13 parents for the child; A7 proxies do not'),
  row(30, 'Basic',               'portal settings',     { query: `code=${CS.accountRecord}|portal-settings` }, 'rscu - - - - rscu - rscud', 'issue 14 the portal stores the citizen’s settings the same way'),
  row(31, 'Basic',               'notification',        { query: `code=${CS.accountRecord}|notification` }, 'rsu - - - - rsu - rscud', 'issue 14 in-app notifications, marked read'),
  row(32, 'Basic',               'other',               'otherwise',                        '-     -     -     -     -     -      -     rscud', 'deny by default: no other Basic is the citizen’s'),
  row(19, 'Schedule',            'reference data',      'all',                              'rs    rs    rs    rs    rs    rs     rscu  rscud', 'issue 12: citizens find free times through a service\'s schedules'),
  // Reference data an appointment, message or medication points at; holds no patient data.
  ...SHARED_TYPES.map((t) => row(0, t, 'reference data', 'all', 'rs rs rs rs rs rs rs rscud', 'needed to show appointments, messages and medications')),
];

/**
 * Types whose resources are visible exactly when the resource a reference of theirs names is
 * (access-spec §5.3 row 28): type → search parameter. Applies to everyone but the server's own systems.
 */
export const CONTEXT_BOUND: Readonly<Record<string, string>> = { Binary: 'security-context' };

/** Types the policy names; every other type is closed to patient-facing actors. */
export const POLICY_TYPES: readonly string[] = [...new Set(POLICY.map((r) => r.resourceType))];

/** What a patient-side create refused on this type should do instead (issue 13), as a sentence tail; '' when nothing. */
export function insteadOfCreate(resourceType: string): string {
  const instead = rowsFor(resourceType).find((r) => r.instead)?.instead;
  return instead ? `; ${instead}` : '';
}

export function rowsFor(resourceType: string): readonly PolicyRow[] {
  return POLICY.filter((r) => r.resourceType === resourceType);
}

/** Every letter an actor holds on a type through any slice: the type-level scope ceiling. */
export function typeLetters(actor: Actor, resourceType: string): string {
  const letters = new Set(rowsFor(resourceType).flatMap((r) => [...r.allow[actor]]));
  return 'cruds'.split('').filter((l) => letters.has(l)).join('');
}

/** Proxy-level codes as they appear in `Consent.policyRule` (CodeSystem proxy-level). */
export function isProxyLevel(code: string | undefined): code is ProxyLevel {
  return (PROXY_LEVELS as readonly string[]).includes(code ?? '');
}
