/**
 * The logged-in person and the people they may act for. This issue delivers the self path; the
 * access engine plugs in proxies and children through `ActingOptionsResolver` (one token = one
 * patient, access-spec §0.1), so the picker and the token's patient context already have their
 * final shape.
 */
import type { Patient } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../access/access-context.js';
import type { Queryable } from '../db/db.js';
import type { Repository } from '../fhir/repository/repository.js';
import { findMatchingIds } from '../fhir/search/find-ids.js';
import { DNR_SYSTEM, FNR_SYSTEM, parseIdNumber } from '../fhir/validation/fnr.js';

export interface Person {
  /** Our own stable subject (auth_subjects). */
  sub: string;
  /** Fødselsnummer or D-number from ID-porten's `pid` claim. */
  pid: string;
  /** The person's own Patient, when they have a record here. */
  selfPatientId: string | null;
  /** Login session, for logout-bound grants. */
  sessionId: string | null;
  authTime: Date | null;
}

export interface ActingOption {
  patientId: string;
  label: string;
  relation: 'self' | 'proxy' | 'parent';
  relationNb: string;
  relationEn: string;
  /** The acting user as a reference: `Patient/<self>` or `RelatedPerson/<grant-specific id>`. */
  fhirUser: string;
  /** Most this actor may be granted for this patient (access-spec §4.5), as a scope string. */
  ceiling: string;
  /** Proxies see a banner naming the represented person (context-banner). */
  needPatientBanner: boolean;
}

export type ActingOptionsResolver = (person: Person) => Promise<ActingOption[]>;

const PERSONAL_NOTE = 'category=https://fhir.helsebro.no/CodeSystem/doc-category|personal-note';

/**
 * The citizen's own ceiling (access-spec §4.5 "Self"): explicit types, never `patient/*`, so a
 * type added later is not granted by accident. Consent administration is limited to first-party
 * clients by the client policy, not here.
 */
export const SELF_CEILING = [
  'openid fhirUser profile launch launch/patient offline_access online_access',
  'patient/Patient.rus patient/Appointment.crus patient/Communication.crs patient/MedicationStatement.crs',
  'patient/AllergyIntolerance.rs patient/Condition.rs patient/Immunization.rs patient/Observation.crs patient/Encounter.rs',
  `patient/DocumentReference.rs patient/DocumentReference.cud?${PERSONAL_NOTE}`,
  'patient/QuestionnaireResponse.crus patient/RelatedPerson.rs patient/AuditEvent.rs patient/Consent.crus',
].join(' ');

/** The Patient whose FNR/DNR identifier is `pid`; null when none or more than one (a data error: refuse). */
export async function findPatientByPid(db: Queryable, pid: string): Promise<string | null> {
  const parsed = parseIdNumber(pid);
  if (!parsed) return null;
  const system = parsed.kind === 'dnr' ? DNR_SYSTEM : FNR_SYSTEM;
  const ids = await findMatchingIds(db, 'Patient', `identifier=${system}|${pid}`, SYSTEM_ACCESS, 2);
  return ids.length === 1 ? ids[0]! : null;
}

export function displayName(p: Patient): string {
  const name = p.name?.find((n) => n.use === 'official') ?? p.name?.[0];
  const text = name?.text ?? [...(name?.given ?? []), name?.family].filter(Boolean).join(' ');
  return text || 'Ukjent navn';
}

/** Whole years between a birth date (YYYY-MM-DD) and today in Europe/Oslo. */
export function ageInYears(birthDate: string, now = new Date()): number {
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Oslo', year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
  const [ty, tm, td] = today.split('-').map(Number) as [number, number, number];
  const [by, bm, bd] = birthDate.split('-').map(Number) as [number, number, number];
  return ty - by - (tm < bm || (tm === bm && td < bd) ? 1 : 0);
}

/**
 * Self only: the person's own record, unless they are deceased (G1) or under 16 (G14: "If you are
 * under the age of 16, only parents or guardians may have access", access-spec S1).
 */
export function selfOptionsResolver(repo: Repository): ActingOptionsResolver {
  return async (person) => {
    if (!person.selfPatientId) return [];
    const patient = await repo.read<Patient>('Patient', person.selfPatientId, SYSTEM_ACCESS).catch(() => null);
    if (!patient) return [];
    if (patient.deceasedBoolean === true || patient.deceasedDateTime) return [];
    const birthDate = (patient.birthDate?.length === 10 ? patient.birthDate : undefined) ?? parseIdNumber(person.pid)?.birthDate;
    if (!birthDate || ageInYears(birthDate) < 16) return [];
    return [
      {
        patientId: person.selfPatientId,
        label: displayName(patient),
        relation: 'self',
        relationNb: 'deg selv',
        relationEn: 'yourself',
        fhirUser: `Patient/${person.selfPatientId}`,
        ceiling: SELF_CEILING,
        needPatientBanner: false,
      },
    ];
  };
}
