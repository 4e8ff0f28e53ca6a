/**
 * Every way the citizen's flow can refuse, with what the person is told (bokmål and English) and what
 * the app is told (`error`, `error_description`, RFC 6749 §4.1.2.1). Issue 16 §3: "a Norwegian page
 * for every refusal before redirecting back (with error_description kept for the app)". The refusal
 * is stored on the parked request, so the page survives a language switch and a reload.
 */
import type { Patient, RelatedPerson } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../access/access-context.js';
import { selfGates } from '../access/gates.js';
import { relationThrough } from '../access/relations.js';
import type { Queryable } from '../db/db.js';
import type { Repository } from '../fhir/repository/repository.js';
import { findMatchingIds } from '../fhir/search/find-ids.js';
import { DNR_SYSTEM, FNR_SYSTEM, parseIdNumber } from '../fhir/validation/fnr.js';
import type { Person } from '../identity/people.js';
import type { Text } from './pages/i18n.js';

export type RefusalReason =
  | 'acr-too-low'
  | 'no-person'
  | 'child-under-16'
  | 'deceased'
  | 'deactivated'
  | 'proxy-ended'
  | 'no-record'
  | 'terms-declined'
  | 'no-patient-chosen'
  | 'patient-unavailable'
  | 'launch-other-person'
  | 'nothing-grantable'
  | 'denied-by-user'
  | 'child-turned-16'
  | 'patient-terms-outdated'
  // The clinician's flow (HelseID, src/auth/clinician-flow.ts): the same kind of page, in health personnel's terms.
  | 'clinician-acr-too-low'
  | 'no-hpr'
  | 'hpr-not-registered'
  | 'clinician-nothing-grantable'
  | 'clinician-denied';

export interface Refusal {
  reason: RefusalReason;
  /** OAuth error code for the app. */
  error: string;
  /** For the app's developer (English, as OAuth error descriptions are). */
  description: string;
}

export interface RefusalText {
  title: Text;
  body: Text;
}

const CATALOGUE: Record<RefusalReason, { description: string } & RefusalText> = {
  'acr-too-low': {
    description: 'The login level of assurance is too low',
    title: { nb: 'Du må logge inn med høyt sikkerhetsnivå', en: 'You must log in with a high level of assurance' },
    body: { nb: 'Helseopplysninger krever innlogging med høyt sikkerhetsnivå, for eksempel BankID. Gå tilbake til appen og logg inn på nytt.', en: 'Health information requires a login with a high level of assurance, such as BankID. Go back to the app and log in again.' },
  },
  'no-person': {
    description: 'The login did not identify a person (pid)',
    title: { nb: 'Innloggingen kan ikke brukes', en: 'This login cannot be used' },
    body: { nb: 'Vi kunne ikke se hvem du er ut fra innloggingen. Gå tilbake til appen og logg inn på nytt.', en: 'We could not tell who you are from the login. Go back to the app and log in again.' },
  },
  'child-under-16': {
    description: 'Persons under 16 cannot use the service themselves; their parents or guardians have access',
    title: { nb: 'Du må være 16 år for å bruke tjenesten', en: 'You must be 16 to use the service' },
    body: { nb: 'Er du under 16 år, er det foreldrene eller foresatte dine som har tilgang til helseopplysningene dine. Fra du fyller 16 år kan du logge inn selv.', en: 'If you are under 16, your parents or guardians have access to your health information. From your 16th birthday you can log in yourself.' },
  },
  deceased: {
    description: 'The patient is deceased',
    title: { nb: 'Tjenesten kan ikke brukes', en: 'The service cannot be used' },
    body: { nb: 'Folkeregisteret oppgir at personen er død. Tjenesten er derfor stengt for personen og for alle som hadde tilgang på vegne av personen.', en: 'The National Population Register records the person as deceased. The service is therefore closed to the person and to everyone who had access on their behalf.' },
  },
  deactivated: {
    description: 'The patient has deactivated their account',
    title: { nb: 'Brukerkontoen er deaktivert', en: 'The account is deactivated' },
    body: { nb: 'Brukerkontoen er deaktivert, og tjenesten er stengt for kontoeieren og for alle som hadde tilgang på vegne av kontoeieren. Kontoeieren kan aktivere kontoen igjen ved å godta vilkårene på nytt.', en: 'The account is deactivated, and the service is closed to its owner and everyone who had access on their behalf. The owner can reactivate it by accepting the terms of use again.' },
  },
  'proxy-ended': {
    description: 'The power of attorney or parental access has ended or was withdrawn',
    title: { nb: 'Fullmakten gjelder ikke lenger', en: 'The authorisation is no longer valid' },
    body: { nb: 'Fullmakten eller foreldretilgangen du hadde, er trukket tilbake eller utløpt. Be personen om en ny fullmakt hvis du fortsatt skal hjelpe til.', en: 'The authorisation or parental access you had has been withdrawn or has ended. Ask the person for a new authorisation if you are still to help.' },
  },
  'no-record': {
    description: 'There is nobody this person may use the service for',
    title: { nb: 'Vi fant ingen opplysninger du har tilgang til', en: 'We found no information you have access to' },
    body: { nb: 'Det finnes ingen journal for deg her, og ingen har gitt deg fullmakt.', en: 'There is no record for you here, and nobody has given you an authorisation.' },
  },
  'terms-declined': {
    description: 'The terms of use were not accepted',
    title: { nb: 'Du godtok ikke vilkårene', en: 'You did not accept the terms of use' },
    body: { nb: 'Du må godta vilkårene for å bruke tjenesten. Appen har ikke fått tilgang.', en: 'You must accept the terms of use to use the service. The app has not been given access.' },
  },
  'no-patient-chosen': {
    description: 'No patient was chosen',
    title: { nb: 'Du valgte ingen person', en: 'You chose no person' },
    body: { nb: 'Du avbrøt valget av person. Appen har ikke fått tilgang.', en: 'You cancelled choosing a person. The app has not been given access.' },
  },
  'patient-unavailable': {
    description: 'The chosen patient is no longer available',
    title: { nb: 'Du har ikke lenger tilgang til personen', en: 'You no longer have access to this person' },
    body: { nb: 'Tilgangen du hadde på vegne av personen, gjelder ikke lenger. Fullmakten kan være trukket tilbake eller utløpt.', en: 'The access you had on behalf of the person no longer applies. The authorisation may have been withdrawn or ended.' },
  },
  'launch-other-person': {
    description: 'The launch was issued for another person',
    title: { nb: 'Appen ble startet for en annen person', en: 'The app was started for someone else' },
    body: { nb: 'Appen ble åpnet fra en annen persons innlogging. Start appen på nytt fra din egen side.', en: 'The app was opened from another person’s login. Start it again from your own page.' },
  },
  'nothing-grantable': {
    description: 'None of the requested access can be granted for this person',
    title: { nb: 'Appen ber om tilgang som ikke kan gis', en: 'The app asks for access that cannot be given' },
    body: { nb: 'Ingen av opplysningene appen ber om, kan deles for denne personen.', en: 'None of the information the app asks for can be shared for this person.' },
  },
  'denied-by-user': {
    description: 'The person did not allow access',
    title: { nb: 'Du ga ikke appen tilgang', en: 'You did not give the app access' },
    body: { nb: 'Appen har ikke fått tilgang til noen opplysninger.', en: 'The app has not been given access to any information.' },
  },
  'child-turned-16': {
    description: 'The child has turned 16; parents no longer have access',
    title: { nb: 'Barnet har fylt 16 år', en: 'The child has turned 16' },
    body: { nb: 'Fra barnet fyller 16 år, har foreldre og foresatte ikke lenger tilgang. Barnet kan logge inn selv.', en: 'From the child’s 16th birthday, parents and guardians no longer have access. The child can log in themself.' },
  },
  'patient-terms-outdated': {
    description: 'The patient has not accepted the Terms of Use in force',
    title: { nb: 'Personen må godta nye vilkår først', en: 'The person must accept new terms first' },
    body: { nb: 'Vilkårene for tjenesten er endret. Personen du hjelper, må logge inn og godta dem før du kan bruke tjenesten på vegne av personen igjen.', en: 'The terms of use have changed. The person you help must log in and accept them before you can use the service on their behalf again.' },
  },
  'clinician-acr-too-low': {
    description: 'The login level of assurance is too low',
    title: { nb: 'Du må logge inn med HelseID på høyt sikkerhetsnivå', en: 'You must log in with HelseID at a high level of assurance' },
    body: { nb: 'Journalopplysninger krever innlogging med HelseID på høyt sikkerhetsnivå (for eksempel BankID eller Buypass). Gå tilbake til appen og logg inn på nytt.', en: 'Health records require a HelseID login at a high level of assurance (such as BankID or Buypass). Go back to the app and log in again.' },
  },
  'no-hpr': {
    description: 'The login did not identify a health professional (HPR number)',
    title: { nb: 'Innloggingen viser ikke at du er helsepersonell', en: 'The login does not show that you are a health professional' },
    body: { nb: 'HelseID sendte ikke noe HPR-nummer for deg. Bare helsepersonell med autorisasjon i Helsepersonellregisteret kan logge inn her.', en: 'HelseID sent no HPR number for you. Only health professionals authorised in the Health Personnel Register can log in here.' },
  },
  'hpr-not-registered': {
    description: 'The health professional (HPR number) is not registered as a Practitioner here',
    title: { nb: 'Du er ikke registrert som helsepersonell i denne tjenesten', en: 'You are not registered as a health professional in this service' },
    body: { nb: 'HPR-nummeret ditt finnes ikke, eller er ikke aktivt, i tjenestens oversikt over helsepersonell. Kontakt den som administrerer tilganger i virksomheten din.', en: 'Your HPR number is not in this service’s directory of health professionals, or is not active there. Contact whoever manages access in your organisation.' },
  },
  'clinician-nothing-grantable': {
    description: 'None of the requested access can be granted to health personnel',
    title: { nb: 'Appen ber om tilgang som helsepersonell ikke kan få', en: 'The app asks for access health personnel cannot be given' },
    body: { nb: 'Ingen av tilgangene appen ber om, kan gis til helsepersonell her. Appen har ikke fått tilgang.', en: 'None of the access the app asks for can be given to health personnel here. The app has not been given access.' },
  },
  'clinician-denied': {
    description: 'The health professional did not allow access',
    title: { nb: 'Du ga ikke appen tilgang', en: 'You did not give the app access' },
    body: { nb: 'Appen har ikke fått tilgang til noen journalopplysninger.', en: 'The app has not been given access to any health records.' },
  },
};

/** Refusals that are the person's own answer (declining, cancelling), not a refusal of access: shown with 200. */
export const OWN_ANSWERS: ReadonlySet<RefusalReason> = new Set(['denied-by-user', 'terms-declined', 'no-patient-chosen', 'clinician-denied']);

export function refusal(reason: RefusalReason): Refusal {
  return { reason, error: 'access_denied', description: CATALOGUE[reason].description };
}

export function refusalText(reason: RefusalReason): RefusalText {
  return CATALOGUE[reason];
}

export const isRefusalReason = (v: unknown): v is RefusalReason => typeof v === 'string' && v in CATALOGUE;

/**
 * Why the person's own record refuses them before anything is asked (G14 under 16, G1 deceased;
 * access-spec §4.2): a child is refused before the terms page (issue 16 §3). Deactivation (G2) is
 * not refused here: accepting the terms again is how the owner reactivates (S14).
 */
export async function selfRefusal(repo: Repository, person: Person, now = new Date()): Promise<RefusalReason | null> {
  if (!person.selfPatientId) return null;
  const me = await repo.read<Patient>('Patient', person.selfPatientId, SYSTEM_ACCESS).catch(() => null);
  if (!me) return null;
  const gate = selfGates(me, parseIdNumber(person.pid)?.birthDate ?? null, now);
  if (gate.ok) return null;
  // A child cannot act for anyone else either: proxies must be 18 (G5), parents are adults.
  if (gate.gate === 'G14') return 'child-under-16';
  return gate.gate === 'G1' ? 'deceased' : null;
}

/** Why someone with nobody to act for is refused: their own record's gate, why their relations fail, or no record. */
export async function emptyPickerRefusal(db: Queryable, repo: Repository, person: Person, now = new Date()): Promise<RefusalReason> {
  if (person.selfPatientId) {
    const me = await repo.read<Patient>('Patient', person.selfPatientId, SYSTEM_ACCESS).catch(() => null);
    const gate = me ? selfGates(me, parseIdNumber(person.pid)?.birthDate ?? null, now) : null;
    if (gate && !gate.ok) return gate.gate === 'G14' ? 'child-under-16' : gate.gate === 'G1' ? 'deceased' : 'deactivated';
  }
  return (await relationRefusal(db, repo, person, null, now)) ?? 'no-record';
}

/** Which gate (access-spec §4.2) a failed relation stopped at, as a refusal. */
const GATE_REFUSAL: Record<string, RefusalReason> = { G1: 'deceased', G2: 'deactivated', G8: 'child-turned-16', G15: 'patient-terms-outdated' };

/**
 * Why the person's relations (fullmakt or parent) give no access — to one patient, or to anyone when
 * `patientId` is null: the first failed gate that says more than "ended" (death, deactivation, the
 * child turned 16, new terms), else `proxy-ended`; null when the person has no relation records at all.
 */
export async function relationRefusal(db: Queryable, repo: Repository, person: Person, patientId: string | null, now = new Date()): Promise<RefusalReason | null> {
  const info = parseIdNumber(person.pid);
  if (!info) return null;
  const ids = await findMatchingIds(db, 'RelatedPerson', `identifier=${info.kind === 'dnr' ? DNR_SYSTEM : FNR_SYSTEM}|${person.pid}`, SYSTEM_ACCESS, 50);
  let found = false;
  for (const id of ids) {
    const rp = await repo.read<RelatedPerson>('RelatedPerson', id, SYSTEM_ACCESS).catch(() => null);
    const ref = rp?.patient?.reference;
    if (!rp || !ref?.startsWith('Patient/') || (patientId !== null && ref !== `Patient/${patientId}`)) continue;
    const patient = await repo.read<Patient>('Patient', ref.slice('Patient/'.length), SYSTEM_ACCESS).catch(() => null);
    if (!patient) continue;
    found = true;
    const r = await relationThrough(db, repo, patient, rp, now);
    const specific = !r.ok ? GATE_REFUSAL[r.gate] : undefined;
    if (specific) return specific;
  }
  return found ? 'proxy-ended' : null;
}
