/**
 * Plain-language descriptions of granted scopes for the consent screen (issue 4 §5: "the
 * requested access in plain Norwegian (with English)"). One line per resource type, naming what
 * the app may do with it.
 */
import { INTERACTIONS, type Interaction, type Scope } from '../../identity/scopes.js';

export interface ScopeLine {
  nb: string;
  en: string;
}

const TYPES: Record<string, [string, string]> = {
  '*': ['alle helseopplysninger', 'all health information'],
  Patient: ['personopplysninger (navn, fødselsdato, kontaktinformasjon)', 'personal details (name, date of birth, contact details)'],
  Observation: ['prøvesvar og målinger', 'test results and measurements'],
  Condition: ['helseproblemer og diagnoser', 'health issues and diagnoses'],
  MedicationStatement: ['legemidler', 'medications'],
  MedicationRequest: ['resepter', 'prescriptions'],
  AllergyIntolerance: ['allergier', 'allergies'],
  Immunization: ['vaksiner', 'vaccinations'],
  Encounter: ['besøk og kontakter med helsetjenesten', 'visits to the health service'],
  DocumentReference: ['dokumenter og notater', 'documents and notes'],
  Appointment: ['timeavtaler', 'appointments'],
  Communication: ['meldinger', 'messages'],
  QuestionnaireResponse: ['svar på spørreskjema', 'questionnaire answers'],
  Consent: ['fullmakter og samtykker', 'authorisations and consents'],
  AuditEvent: ['loggen over hvem som har sett journalen', 'the log of who has seen the record'],
  RelatedPerson: ['hvem som har tilgang på dine vegne', 'who has access on your behalf'],
};

const VERBS: Record<Interaction, [string, string]> = {
  c: ['legge til', 'add'],
  r: ['se', 'view'],
  u: ['endre', 'change'],
  d: ['slette', 'delete'],
  s: ['søke i', 'search'],
};

const NAMED: Record<string, [string, string] | null> = {
  openid: ['vite hvem du er', 'know who you are'],
  fhirUser: null, // covered by openid
  profile: null,
  launch: null,
  'launch/patient': ['vite hvilken person tjenesten gjelder', 'know which person the service is used for'],
  offline_access: ['beholde tilgangen når du ikke er innlogget, til du trekker den tilbake', 'keep access while you are logged out, until you withdraw it'],
  online_access: ['beholde tilgangen så lenge du er innlogget', 'keep access while you are logged in'],
};

function joinList(words: string[], and: string): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} ${and} ${words[words.length - 1]}`;
}

export function describeScopes(scopes: readonly Scope[]): ScopeLine[] {
  const lines: ScopeLine[] = [];
  for (const s of scopes) {
    if (s.kind === 'named') {
      const text = NAMED[s.name];
      if (text) lines.push({ nb: text[0], en: text[1] });
      continue;
    }
    const [typeNb, typeEn] = TYPES[s.resourceType] ?? [s.resourceType, s.resourceType];
    // "se" and "søke i" say the same to a reader; show one verb for r+s.
    const letters = INTERACTIONS.filter((i) => s.interactions.includes(i) && !(i === 's' && s.interactions.includes('r')));
    const nb = joinList(letters.map((i) => VERBS[i][0]), 'og');
    const en = joinList(letters.map((i) => VERBS[i][1]), 'and');
    const only = s.query.map(([, v]) => v.split('|').pop() ?? v).join(', ');
    lines.push({
      nb: `${capitalise(nb)} ${typeNb}${only ? ` (bare ${only})` : ''}`,
      en: `${capitalise(en)} ${typeEn}${only ? ` (only ${only})` : ''}`,
    });
  }
  return lines;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
