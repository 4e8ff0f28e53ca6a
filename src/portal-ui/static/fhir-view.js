/**
 * The record by section: which FHIR search each section makes and how a resource becomes a table
 * row of plain strings. Rows are strings only; portal.js puts them in the page with textContent, so
 * no FHIR text is ever parsed as markup.
 */
/* global TextDecoder */
import { locale, t } from './i18n.js';

const DOCUMENT_CATEGORY = 'https://fhir.helsebro.no/CodeSystem/document-category';
const PROXY_LEVEL = 'https://fhir.helsebro.no/CodeSystem/proxy-level';
const ACTING_RELATION = 'https://fhir.helsebro.no/CodeSystem/acting-relation';
const SECURITY_EVENT = 'https://fhir.helsebro.no/CodeSystem/security-event';
/** LOINC 59284-0 "Patient Consent" marks a proxy grant (access-spec §3.2); the terms acceptance also carries 57016-8. */
const PROXY_CONSENT = '59284-0';
const TERMS_ACCEPTANCE = '57016-8';
/** Times as the citizen's clock shows them, wherever the browser runs (the record stores offsets). */
const TIME_ZONE = 'Europe/Oslo';

export function formatDate(value, lang, withTime = true) {
  if (!value) return '';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  // A date without a time (YYYY-MM-DD) is shown without one.
  const dateOnly = /^\d{4}(-\d{2}(-\d{2})?)?$/.test(value);
  // A date alone is midnight UTC; shown in UTC it stays the same calendar day.
  const options = dateOnly || !withTime ? { dateStyle: 'medium', timeZone: dateOnly ? 'UTC' : TIME_ZONE } : { dateStyle: 'medium', timeStyle: 'short', timeZone: TIME_ZONE };
  return new Intl.DateTimeFormat(locale(lang), options).format(d);
}

export function humanName(names) {
  const n = (names ?? []).find((x) => x.use === 'official') ?? (names ?? [])[0];
  if (!n) return '';
  return n.text ?? [...(n.given ?? []), n.family ?? ''].join(' ').trim();
}

function conceptText(cc) {
  if (!cc) return '';
  return cc.text ?? (cc.coding ?? []).map((c) => c.display ?? c.code).filter(Boolean)[0] ?? '';
}

function statusText(lang, status) {
  if (!status) return '';
  const key = `status_${status.replace(/-/g, '')}`;
  const text = t(lang, key);
  return text === key ? status : text;
}

function quantity(q) {
  if (!q || q.value === undefined) return '';
  return `${String(q.value).replace('.', ',')} ${q.unit ?? q.code ?? ''}`.trim();
}

function observationValue(o) {
  if (o.valueQuantity) return quantity(o.valueQuantity);
  if (o.valueString) return o.valueString;
  if (o.valueCodeableConcept) return conceptText(o.valueCodeableConcept);
  if (o.valueBoolean !== undefined) return String(o.valueBoolean);
  // Blood pressure and the like: the components, e.g. "128/82 mmHg".
  const parts = (o.component ?? []).map((c) => c.valueQuantity).filter(Boolean);
  if (parts.length > 1 && parts.every((q) => q.unit === parts[0].unit)) return `${parts.map((q) => q.value).join('/')} ${parts[0].unit ?? ''}`.trim();
  return parts.map(quantity).join(', ');
}

/** UTF-8 text of a plain-text attachment (base64 `data`); other content types are not shown inline. */
function attachmentText(a) {
  if (!a?.data || !/^text\/plain/.test(a.contentType ?? '')) return '';
  try {
    const bin = globalThis.atob(a.data);
    return new TextDecoder('utf-8').decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  } catch {
    return '';
  }
}

function period(p, lang) {
  if (!p) return '';
  const from = formatDate(p.start, lang, false);
  const to = formatDate(p.end, lang, false);
  return to ? `${from} – ${to}` : from ? `${from} –` : '';
}

const TYPE_WORDS = {
  nb: {
    Appointment: 'timeavtaler', Communication: 'meldinger', MedicationStatement: 'legemidler', MedicationRequest: 'resepter',
    Observation: 'prøvesvar og målinger', AllergyIntolerance: 'allergier', Immunization: 'vaksiner', DocumentReference: 'notater og dokumenter',
    Condition: 'diagnoser', Encounter: 'kontakter', Patient: 'personopplysninger', Consent: 'fullmakter', RelatedPerson: 'fullmektige og pårørende',
    AuditEvent: 'tilgangsloggen', Task: 'oppgaver', QuestionnaireResponse: 'skjemaer', ServiceRequest: 'henvisninger',
  },
  en: {
    Appointment: 'appointments', Communication: 'messages', MedicationStatement: 'medications', MedicationRequest: 'prescriptions',
    Observation: 'test results and measurements', AllergyIntolerance: 'allergies', Immunization: 'vaccinations', DocumentReference: 'notes and documents',
    Condition: 'diagnoses', Encounter: 'visits', Patient: 'personal details', Consent: 'powers of attorney', RelatedPerson: 'proxies and relatives',
    AuditEvent: 'the access log', Task: 'tasks', QuestionnaireResponse: 'forms', ServiceRequest: 'referrals',
  },
};

const ACTIONS = {
  nb: { R: 'Så på', E: 'Søkte i', C: 'Registrerte', U: 'Endret', D: 'Slettet' },
  en: { R: 'Viewed', E: 'Searched', C: 'Recorded', U: 'Changed', D: 'Deleted' },
};

const SECURITY_WORDS = {
  nb: {
    login: 'Logget inn', 'login-failed': 'Mislykket innlogging', 'token-issued': 'App fikk tilgang', refresh: 'App fornyet tilgangen',
    'refresh-refused': 'Fornyelse avvist', 'code-replay': 'Sikkerhetsvarsel: kode brukt to ganger', 'refresh-token-reuse': 'Sikkerhetsvarsel: gammel nøkkel brukt',
    revocation: 'Tilgang trukket tilbake', logout: 'Logget ut', 'grant-created': 'App fikk tillatelse', 'grant-revoked': 'Tillatelse trukket tilbake',
  },
  en: {
    login: 'Logged in', 'login-failed': 'Failed login', 'token-issued': 'App was given access', refresh: 'App renewed its access',
    'refresh-refused': 'Renewal refused', 'code-replay': 'Security alert: code used twice', 'refresh-token-reuse': 'Security alert: old key reused',
    revocation: 'Access revoked', logout: 'Logged out', 'grant-created': 'App was given permission', 'grant-revoked': 'Permission withdrawn',
  },
};

const WHO = {
  nb: { self: 'Du selv', proxy: 'En fullmektig', parent: 'En forelder', clinician: 'Helsepersonell', system: 'Et fagsystem' },
  en: { self: 'You', proxy: 'A proxy', parent: 'A parent', clinician: 'Health personnel', system: 'A health system' },
};

function auditAction(e, lang) {
  const own = (e.subtype ?? []).find((c) => c.system === SECURITY_EVENT);
  if (own) return SECURITY_WORDS[lang][own.code] ?? own.display ?? own.code;
  const verb = ACTIONS[lang][e.action] ?? e.action ?? '';
  const types = [...new Set((e.entity ?? []).map((x) => x.what?.reference?.split('/')[0]).filter((ty) => ty && ty !== 'Patient'))];
  // Only the patient entity: the person's own details (a read of Patient).
  const words = types.length === 0 ? [TYPE_WORDS[lang].Patient] : types.map((ty) => TYPE_WORDS[lang][ty] ?? (lang === 'en' ? 'other information' : 'andre opplysninger'));
  return [verb, [...new Set(words)].join(', ')].filter(Boolean).join(' ');
}

/** Who acted, in words: "you", the proxy's name when we know it, else the kind of actor. */
function auditWho(e, lang, names) {
  const requestor = (e.agent ?? []).find((a) => a.requestor) ?? (e.agent ?? [])[0];
  const ref = requestor?.who?.reference;
  if (ref && names.has(ref)) return names.get(ref);
  const relation = (requestor?.role ?? []).flatMap((r) => r.coding ?? []).find((c) => c.system === ACTING_RELATION)?.code;
  return WHO[lang][relation] ?? requestor?.who?.display ?? '';
}

function auditApp(e) {
  const app = (e.agent ?? []).find((a) => !a.requestor && a.who?.identifier);
  return app?.who?.display ?? '';
}

function others(participants, patientRef) {
  return (participants ?? []).map((p) => p.actor).filter((a) => a && a.reference !== patientRef).map((a) => a.display ?? '').filter(Boolean).join(', ');
}

/** Newest first by a date the resource carries (searches need no `_sort` support for this). */
function newestFirst(dateOf) {
  return (a, b) => String(dateOf(b) ?? '').localeCompare(String(dateOf(a) ?? ''));
}

/**
 * The sections in page order. `query(patient)` is relative to the FHIR base; `row(resource, ctx)`
 * gives one string per column. The grants section is built in portal.js (two searches joined).
 */
export const SECTIONS = [
  {
    id: 'appointments', type: 'Appointment',
    query: (p) => `Appointment?patient=${encodeURIComponent(p)}&_count=100`,
    columns: ['colDate', 'colWhat', 'colWith', 'colStatus'],
    sort: newestFirst((r) => r.start),
    row: (r, { lang, patientRef }) => [formatDate(r.start, lang), conceptText(r.serviceType?.[0]) || r.description || '', others(r.participant, patientRef), statusText(lang, r.status)],
  },
  {
    id: 'messages', type: 'Communication',
    query: (p) => `Communication?patient=${encodeURIComponent(p)}&_count=100`,
    columns: ['colDate', 'colFrom', 'colSubject', 'colText'],
    sort: newestFirst((r) => r.sent),
    row: (r, { lang }) => [formatDate(r.sent, lang), r.sender?.display ?? '', conceptText(r.topic), (r.payload ?? []).map((x) => x.contentString ?? '').join(' ')],
  },
  {
    id: 'medications', type: 'MedicationStatement',
    query: (p) => `MedicationStatement?patient=${encodeURIComponent(p)}&_count=100`,
    columns: ['colMedication', 'colDosage', 'colSince', 'colStatus'],
    sort: newestFirst((r) => r.effectivePeriod?.start ?? r.effectiveDateTime),
    row: (r, { lang }) => [conceptText(r.medicationCodeableConcept) || r.medicationReference?.display || '', (r.dosage ?? []).map((d) => d.text ?? '').join('; '), formatDate(r.effectivePeriod?.start ?? r.effectiveDateTime, lang, false), statusText(lang, r.status)],
  },
  {
    id: 'results', type: 'Observation',
    query: (p) => `Observation?patient=${encodeURIComponent(p)}&_count=100`,
    columns: ['colDate', 'colTest', 'colValue', 'colStatus'],
    sort: newestFirst((r) => r.effectiveDateTime ?? r.issued),
    row: (r, { lang }) => [formatDate(r.effectiveDateTime ?? r.issued, lang), conceptText(r.code), observationValue(r), statusText(lang, r.status)],
  },
  {
    id: 'allergies', type: 'AllergyIntolerance',
    query: (p) => `AllergyIntolerance?patient=${encodeURIComponent(p)}&_count=100`,
    columns: ['colAllergy', 'colSeverity', 'colDate'],
    sort: newestFirst((r) => r.recordedDate),
    row: (r, { lang }) => [conceptText(r.code), r.criticality ? t(lang, `crit_${r.criticality}`) : '', formatDate(r.recordedDate, lang, false)],
  },
  {
    id: 'vaccinations', type: 'Immunization',
    query: (p) => `Immunization?patient=${encodeURIComponent(p)}&_count=100`,
    columns: ['colDate', 'colVaccine', 'colGiven'],
    sort: newestFirst((r) => r.occurrenceDateTime),
    row: (r, { lang }) => [formatDate(r.occurrenceDateTime ?? r.occurrenceString, lang, false), conceptText(r.vaccineCode), (r.performer ?? []).map((x) => x.actor?.display ?? '').filter(Boolean).join(', ')],
  },
  {
    id: 'notes', type: 'DocumentReference',
    query: (p) => `DocumentReference?patient=${encodeURIComponent(p)}&category=${encodeURIComponent(`${DOCUMENT_CATEGORY}|personal-note`)}&_count=100`,
    columns: ['colDate', 'colTitle', 'colText'],
    sort: newestFirst((r) => r.date),
    row: (r, { lang }) => {
      const a = r.content?.[0]?.attachment;
      return [formatDate(r.date, lang), r.description ?? a?.title ?? '', attachmentText(a)];
    },
  },
  {
    id: 'accessLog', type: 'AuditEvent',
    query: (p) => `AuditEvent?patient=${encodeURIComponent(p)}&_count=100`,
    columns: ['colDate', 'colWho', 'colApp', 'colAction', 'colOutcome'],
    sort: newestFirst((r) => r.recorded),
    row: (r, { lang, names }) => [formatDate(r.recorded, lang), auditWho(r, lang, names), auditApp(r), auditAction(r, lang), t(lang, r.outcome === '0' ? 'outcomeOk' : 'outcomeFailed')],
  },
];

/** The grants the person has given: proxy Consents joined with their RelatedPersons; parents (register data) too. */
export function grantRows(consents, relatedPersons, lang) {
  const people = new Map(relatedPersons.map((rp) => [`RelatedPerson/${rp.id}`, rp]));
  const used = new Set();
  const rows = consents
    .filter((c) => {
      const codes = (c.category ?? []).flatMap((cat) => (cat.coding ?? []).map((x) => x.code));
      return codes.includes(PROXY_CONSENT) && !codes.includes(TERMS_ACCEPTANCE) && (c.provision?.actor ?? []).length > 0;
    })
    .map((c) => {
      const actor = c.provision?.actor?.[0]?.reference;
      const rp = actor?.reference ? people.get(actor.reference) : undefined;
      if (actor?.reference) used.add(actor.reference);
      const level = (c.policyRule?.coding ?? []).find((x) => x.system === PROXY_LEVEL)?.code;
      return [humanName(rp?.name) || actor?.display || '', relationText(rp, lang), level ? t(lang, `level_${level}`) : '', period(c.provision?.period, lang), statusText(lang, c.status)];
    });
  for (const [ref, rp] of people) {
    if (used.has(ref)) continue;
    rows.push([humanName(rp.name), relationText(rp, lang), '', period(rp.period, lang), statusText(lang, rp.active === false ? 'inactive' : 'active')]);
  }
  return rows;
}

export const GRANT_COLUMNS = ['colPerson', 'colRelation', 'colLevel', 'colPeriod', 'colStatus'];

const ROLES = {
  nb: { POWATT: 'fullmektig', HUSB: 'ektemann', WIFE: 'kone', SPS: 'ektefelle', DAU: 'datter', SON: 'sønn', CHILD: 'barn', SIS: 'søster', BRO: 'bror', FTH: 'far', MTH: 'mor', PRN: 'forelder', NBOR: 'nabo', FRND: 'venn' },
  en: { POWATT: 'power of attorney', HUSB: 'husband', WIFE: 'wife', SPS: 'spouse', DAU: 'daughter', SON: 'son', CHILD: 'child', SIS: 'sister', BRO: 'brother', FTH: 'father', MTH: 'mother', PRN: 'parent', NBOR: 'neighbour', FRND: 'friend' },
};

/** The relationship in words of the chosen language, from the v3-RoleCode codes (the register's text is Norwegian only). */
export function relationText(rp, lang) {
  if (!rp) return '';
  const words = (rp.relationship ?? []).flatMap((r) => (r.coding ?? []).map((c) => ROLES[lang]?.[c.code] ?? c.display ?? c.code));
  return [...new Set(words.filter(Boolean))].join(', ');
}
