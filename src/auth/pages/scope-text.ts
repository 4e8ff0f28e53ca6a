/**
 * Plain-language descriptions of granted scopes for the consent and manage pages (issue 4 §5; issue 16
 * §3: "Scope texts in plain Norwegian for every type (no raw type names; types without a text are
 * grouped under a plain heading); wording that follows who acts for whom"). One line per resource
 * type with its own text; directory types and every other served type share one grouped line each.
 */
import { SHARED_TYPES } from '../../access/policy.js';
import { INTERACTIONS, type Interaction, type Scope } from '../../identity/scopes.js';
import type { Text } from './i18n.js';

export type ScopeLine = Text;

/** Whose information the app gets: the logged-in person's own, or someone they act for (by name). */
export type Subject = { self: true } | { self: false; name: string };

type Phrase = (who: Subject) => Text;
const fixed = (nb: string, en: string): Phrase => () => ({ nb, en });

/** Norwegian genitive: "Karis", "Hans'"; English: "Kari's", "Hans'". */
export function genitive(name: string): Text {
  const sibilant = /[sxz]$/i.test(name);
  return { nb: sibilant ? `${name}'` : `${name}s`, en: sibilant ? `${name}'` : `${name}'s` };
}

const onBehalfOf = (who: Subject): Text => (who.self ? { nb: 'dine', en: 'your' } : genitive(who.name));

/** Types with their own text: everything the patient-side policy opens, and the bridges' device data. */
const TYPES: Record<string, Phrase> = {
  '*': fixed('alle helseopplysninger', 'all health information'),
  Patient: fixed('personopplysninger (navn, fødselsdato, kontaktinformasjon)', 'personal details (name, date of birth, contact details)'),
  Observation: fixed('prøvesvar og målinger', 'test results and measurements'),
  Condition: fixed('helseproblemer og diagnoser', 'health issues and diagnoses'),
  MedicationStatement: fixed('legemidler', 'medications'),
  MedicationRequest: fixed('resepter', 'prescriptions'),
  AllergyIntolerance: fixed('allergier', 'allergies'),
  Immunization: fixed('vaksiner', 'vaccinations'),
  Encounter: fixed('besøk og kontakter med helsetjenesten', 'visits to the health service'),
  DocumentReference: fixed('dokumenter og notater', 'documents and notes'),
  Appointment: fixed('timeavtaler', 'appointments'),
  Communication: fixed('meldinger', 'messages'),
  Binary: fixed('vedlegg til meldinger og dokumenter', 'attachments to messages and documents'),
  Basic: fixed('varslingsvalg, varsler og innstillinger i portalen', 'notification choices, notifications and portal settings'),
  QuestionnaireResponse: fixed('svar på spørreskjema', 'questionnaire answers'),
  Task: fixed('oppgaver og forespørsler om timer og skjema', 'tasks and requests about appointments and forms'),
  Consent: fixed('fullmakter, samtykker og vilkår', 'authorisations, consents and terms of use'),
  AuditEvent: fixed('loggen over hvem som har sett journalen', 'the log of who has seen the record'),
  RelatedPerson: (who) => {
    const g = onBehalfOf(who);
    return { nb: `hvem som har tilgang på ${g.nb} vegne`, en: `who has access on ${g.en} behalf` };
  },
  Device: fixed('måleapparater og helseapper som har sendt målinger', 'devices and health apps that sent measurements'),
  Provenance: fixed('hvor målinger kommer fra', 'where measurements come from'),
  Schedule: fixed('ledige timer hos behandlere', 'available times at health services'),
};

/** Reference data an appointment, message or medication points at: one plain heading (issue 16 §3). */
const DIRECTORY: Phrase = fixed('opplysninger om helsepersonell og tjenester (behandlere, avdelinger, steder, legemiddelnavn og skjema)', 'information about health personnel and services (practitioners, departments, places, medicine names and forms)');
/** Every other served type (only clinicians' and backend apps' scopes can name one). */
const OTHER: Phrase = fixed('andre opplysninger i helsejournalen', 'other information in the health record');
const DIRECTORY_TYPES: readonly string[] = SHARED_TYPES;

/** The phrase for a resource type: its own text, the directory heading, or the "other" heading. */
export function typePhrase(resourceType: string, who: Subject): Text {
  const own = TYPES[resourceType];
  if (own) return own(who);
  return (DIRECTORY_TYPES.includes(resourceType) ? DIRECTORY : OTHER)(who);
}

const VERBS: Record<Interaction, Text> = {
  c: { nb: 'legge til', en: 'add' },
  r: { nb: 'se', en: 'view' },
  u: { nb: 'endre', en: 'change' },
  d: { nb: 'slette', en: 'delete' },
  s: { nb: 'søke i', en: 'search' },
};

const NAMED: Record<string, Phrase | null> = {
  openid: fixed('vite hvem du er', 'know who you are'),
  fhirUser: null, // covered by openid
  profile: null,
  launch: null,
  'launch/patient': (who) => (who.self ? { nb: 'vite at opplysningene gjelder deg', en: 'know that the information is about you' } : { nb: `vite at opplysningene gjelder ${who.name}`, en: `know that the information is about ${who.name}` }),
  offline_access: fixed('beholde tilgangen når du ikke er innlogget, til du trekker den tilbake', 'keep access while you are logged out, until you withdraw it'),
  online_access: fixed('beholde tilgangen så lenge du er innlogget', 'keep access while you are logged in'),
};

function joinList(words: string[], and: string): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} ${and} ${words[words.length - 1]}`;
}

const capitalise = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/** One line per distinct text (grouped types collapse into one), in the order first seen. */
export function describeScopes(scopes: readonly Scope[], who: Subject = { self: true }): ScopeLine[] {
  const lines = new Map<string, ScopeLine>();
  const add = (l: ScopeLine) => {
    if (!lines.has(l.nb)) lines.set(l.nb, l);
  };
  for (const s of scopes) {
    if (s.kind === 'named') {
      const phrase = NAMED[s.name];
      if (phrase) {
        const l = phrase(who);
        add({ nb: capitalise(l.nb), en: capitalise(l.en) });
      }
      continue;
    }
    const type = typePhrase(s.resourceType, who);
    // "se" and "søke i" say the same to a reader; show one verb for r+s.
    const letters = INTERACTIONS.filter((i) => s.interactions.includes(i) && !(i === 's' && s.interactions.includes('r')));
    const nb = joinList(letters.map((i) => VERBS[i].nb), 'og');
    const en = joinList(letters.map((i) => VERBS[i].en), 'and');
    // A query narrows the type (e.g. one category); its value's code is shown, never a system URL.
    const only = s.query.map(([, v]) => v.split('|').pop() ?? v).join(', ');
    add({ nb: `${capitalise(nb)} ${type.nb}${only ? ` (bare ${only})` : ''}`, en: `${capitalise(en)} ${type.en}${only ? ` (only ${only})` : ''}` });
  }
  return [...lines.values()];
}
