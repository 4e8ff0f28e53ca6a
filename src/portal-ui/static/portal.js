/**
 * The reference portal's page logic: log in (smart.js), say whom the token acts for, fetch each
 * section with the bearer token and render it. Every piece of FHIR data reaches the page through
 * textContent (never innerHTML), and one language is shown at a time (bokmål by default).
 */
/* global document, localStorage, fetch, URL */
import { LANGUAGES, t } from './i18n.js';
import { GRANT_COLUMNS, SECTIONS, grantRows, humanName, relationText } from './fhir-view.js';
import { completeLaunch, currentSession, endSession, loadSettings, rememberInSession, startLaunch } from './smart.js';

const LANG_KEY = 'helsebro-portal-lang';

const state = {
  lang: LANGUAGES.includes(localStorage.getItem(LANG_KEY)) ? localStorage.getItem(LANG_KEY) : 'nb',
  settings: null,
  session: null,
  /** Whom the token is for and who acts: { patientName, self, actorName, actorRelation }. */
  acting: null,
  /** Section id → { status, resources, outcome, more }. */
  data: new Map(),
  /** Global problem to show (a key of i18n plus an optional technical text). */
  notice: null,
  names: new Map(),
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return node;
}

/** The message of an OperationOutcome, for the "technical message" disclosure. */
function outcomeText(body) {
  if (!body || body.resourceType !== 'OperationOutcome') return '';
  return (body.issue ?? []).map((i) => i.diagnostics ?? i.details?.text ?? i.code).filter(Boolean).join(' ');
}

async function fhir(path) {
  const url = `${state.settings.fhirBase}/${path}`;
  try {
    const res = await fetch(url, { headers: { accept: 'application/fhir+json', authorization: `Bearer ${state.session.accessToken}` } });
    const body = await res.json().catch(() => null);
    return { status: res.status, body };
  } catch {
    return { status: 0, body: null };
  }
}

/** All entries of a search (first page; `more` when the server has a next page). */
async function search(path) {
  const r = await fhir(path);
  if (r.status !== 200) return { status: r.status, resources: [], outcome: outcomeText(r.body), more: false };
  const resources = (r.body?.entry ?? []).map((e) => e.resource).filter((x) => x && x.resourceType !== 'OperationOutcome');
  return { status: 200, resources, outcome: '', more: (r.body?.link ?? []).some((l) => l.relation === 'next') };
}

function errorKey(status) {
  if (status === 401) return 'err401';
  if (status === 403) return 'err403';
  if (status === 404) return 'err404';
  if (status === 503) return 'err503';
  if (status === 0) return 'errNetwork';
  return 'errOther';
}

function alertBox(key, technical, color = 'warning') {
  const box = el('div', { class: 'ds-alert', 'data-color': color }, el('p', { class: 'ds-paragraph' }, t(state.lang, key)));
  if (technical) {
    box.append(el('details', { class: 'portal-technical' }, el('summary', {}, t(state.lang, 'technical')), el('p', { class: 'ds-paragraph', lang: 'en' }, technical)));
  }
  return box;
}

function table(columns, rows, captionId) {
  const head = el('tr', {}, ...columns.map((c) => el('th', { scope: 'col' }, t(state.lang, c))));
  const body = el('tbody', {}, ...rows.map((cells) => el('tr', {}, ...cells.map((cell) => el('td', {}, cell)))));
  return el('table', { class: 'ds-table', 'data-border': true, 'aria-labelledby': captionId }, el('thead', {}, head), body);
}

function sectionBody(id, columns, entry, rowsOf) {
  if (!entry) return [el('p', { class: 'ds-paragraph', role: 'status' }, t(state.lang, 'loading'))];
  if (entry.status !== 200) return [alertBox(errorKey(entry.status), entry.outcome)];
  const rows = rowsOf(entry.resources);
  if (rows.length === 0) return [el('p', { class: 'ds-paragraph portal-empty' }, t(state.lang, 'empty'))];
  const parts = [table(columns, rows, `heading-${id}`)];
  if (entry.more) parts.push(el('p', { class: 'ds-paragraph' }, t(state.lang, 'more', { n: String(entry.resources.length) })));
  return parts;
}

function renderSection(id, title, content) {
  return el('section', { class: 'ds-card portal-section', id: `section-${id}`, 'aria-labelledby': `heading-${id}`, 'data-section': id },
    el('h2', { class: 'ds-heading', 'data-size': 'sm', id: `heading-${id}` }, title), ...content);
}

function renderGrants() {
  const lang = state.lang;
  const consents = state.data.get('consents');
  const people = state.data.get('relatedPersons');
  const given = !consents || !people ? undefined
    : consents.status !== 200 ? consents
    : people.status !== 200 ? people
    : { status: 200, resources: grantRows(consents.resources, people.resources, lang), outcome: '', more: consents.more || people.more };
  const a = state.acting ?? {};
  const givenTitle = a.self ? t(lang, 'grantsGiven') : t(lang, 'grantsGivenOther', { name: a.patientName ?? '' });
  const actingFor = a.self
    ? t(lang, 'grantsActingForSelf')
    : t(lang, 'grantsActingForOther', { name: a.patientName ?? '', relation: a.actorRelation ? ` (${a.actorRelation})` : '' });
  return renderSection('grants', t(lang, 'grants'), [
    el('h3', { class: 'ds-heading', 'data-size': 'xs', id: 'heading-grants-given' }, givenTitle),
    ...sectionBody('grants-given', GRANT_COLUMNS, given, (rows) => rows),
    el('h3', { class: 'ds-heading', 'data-size': 'xs', id: 'heading-grants-acting' }, t(lang, 'grantsActingFor')),
    el('p', { class: 'ds-paragraph', id: 'grants-acting-for' }, actingFor),
  ]);
}

function renderActing() {
  const lang = state.lang;
  const a = state.acting;
  $('acting-for').textContent = !a ? t(lang, 'loading')
    : a.self ? t(lang, 'actingSelf', { name: a.patientName || t(lang, 'unknownPerson') })
      : t(lang, 'actingFor', { name: a.patientName || t(lang, 'unknownPerson') });
  $('acting-as').textContent = a && !a.self ? t(lang, 'actingAs', { name: a.actorName || t(lang, 'unknownPerson'), relation: a.actorRelation ? ` (${a.actorRelation})` : '' }) : '';
  $('acting-as').hidden = !a || a.self;
}

function render() {
  const lang = state.lang;
  document.documentElement.lang = lang;
  document.title = t(lang, 'pageTitle');
  for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = t(lang, node.dataset.i18n);
  for (const b of document.querySelectorAll('button[data-lang]')) b.setAttribute('aria-pressed', String(b.dataset.lang === lang));
  const notice = $('notice');
  notice.replaceChildren(...(state.notice ? [alertBox(state.notice.key, state.notice.technical, state.notice.color)] : []));
  const signedIn = Boolean(state.session);
  $('signed-out').hidden = signedIn;
  $('signed-in').hidden = !signedIn;
  if (!signedIn) return;
  renderActing();
  const ctx = { lang, patientRef: `Patient/${state.session.patient}`, names: state.names };
  const ids = [...SECTIONS.map((s) => s.id), 'grants'];
  $('contents-list').replaceChildren(...ids.map((id) => el('li', {}, el('a', { href: `#section-${id}`, class: 'ds-link' }, t(lang, id)))));
  $('sections').replaceChildren(
    ...SECTIONS.map((s) => renderSection(s.id, t(lang, s.id), sectionBody(s.id, s.columns, state.data.get(s.id), (resources) => [...resources].sort(s.sort).map((r) => s.row(r, ctx))))),
    renderGrants(),
  );
}

/** A reference from the token (absolute fhirUser URL) relative to the FHIR base. */
function relativeRef(ref) {
  if (!ref) return null;
  const base = `${state.settings.fhirBase}/`;
  return ref.startsWith(base) ? ref.slice(base.length) : ref;
}

async function loadActing() {
  const s = state.session;
  const patient = await fhir(`Patient/${encodeURIComponent(s.patient)}`);
  if (patient.status === 401) return signedOut('err401', outcomeText(patient.body));
  // Any other failure (403, 404, 503 …) is said once at the top; the sections say theirs.
  if (patient.status !== 200) state.notice = { key: errorKey(patient.status), technical: outcomeText(patient.body), color: 'warning' };
  const patientName = patient.status === 200 ? humanName(patient.body.name) : (s.patientName ?? '');
  const actor = relativeRef(s.fhirUser);
  const self = actor === `Patient/${s.patient}`;
  let actorName = '';
  let actorRelation = '';
  if (!self && actor) {
    const who = await fhir(actor);
    if (who.status === 200) {
      actorName = humanName(who.body.name);
      actorRelation = who.body.resourceType === 'RelatedPerson' ? relationText(who.body, state.lang) : '';
      state.names.set(actor, actorName);
      state.actorResource = who.body;
    }
  }
  if (!actorName && s.actorName) actorName = s.actorName;
  rememberInSession({ patientName, actorName });
  state.acting = { patientName, self, actorName, actorRelation };
  render();
}

async function loadSections() {
  const p = state.session.patient;
  const jobs = SECTIONS.map(async (s) => {
    state.data.set(s.id, await search(s.query(p)));
  });
  jobs.push((async () => {
    const [consents, people] = await Promise.all([search(`Consent?patient=${encodeURIComponent(p)}&_count=100`), search(`RelatedPerson?patient=${encodeURIComponent(p)}&_count=100`)]);
    state.data.set('consents', consents);
    state.data.set('relatedPersons', people);
    for (const rp of people.resources) state.names.set(`RelatedPerson/${rp.id}`, humanName(rp.name));
  })());
  await Promise.all(jobs);
  if ([...state.data.values()].some((d) => d.status === 401)) return signedOut('err401', [...state.data.values()].find((d) => d.status === 401).outcome);
  render();
  document.body.dataset.loaded = 'true';
}

function signedOut(key, technical) {
  endSession();
  state.session = null;
  state.acting = null;
  state.data.clear();
  state.notice = { key, technical, color: 'warning' };
  render();
}

function setLanguage(lang) {
  if (!LANGUAGES.includes(lang)) return;
  state.lang = lang;
  localStorage.setItem(LANG_KEY, lang);
  // The relation words of the acting person follow the language too.
  if (state.acting && state.actorResource) state.acting.actorRelation = relationText(state.actorResource, lang);
  render();
}

async function login() {
  state.notice = { key: 'loggingIn', technical: '', color: 'info' };
  render();
  try {
    await startLaunch(state.settings, state.lang);
  } catch (err) {
    state.notice = { key: err.status === 503 ? 'err503' : 'errNetwork', technical: String(err.message ?? ''), color: 'danger' };
    render();
  }
}

function logout() {
  endSession();
  // Ends the login session at the authorization server too (and its session grants).
  document.location.assign('/auth/logout');
}

async function main() {
  for (const b of document.querySelectorAll('button[data-lang]')) b.addEventListener('click', () => setLanguage(b.dataset.lang));
  $('login').addEventListener('click', login);
  $('switch').addEventListener('click', login);
  $('logout').addEventListener('click', logout);
  render();
  try {
    state.settings = await loadSettings();
  } catch (err) {
    state.notice = { key: 'errNetwork', technical: String(err.message ?? ''), color: 'danger' };
    return render();
  }
  // The callback must come back to the origin that holds the PKCE verifier: use the registered one.
  const home = new URL(state.settings.redirectUri);
  if (document.location.origin !== home.origin) {
    document.location.replace(`${home.origin}/portal`);
    return;
  }
  const result = await completeLaunch(state.settings);
  if (result?.error) {
    const key = result.error === 'state_mismatch' ? 'errState' : result.error === 'access_denied' ? 'errDenied' : 'errLogin';
    state.notice = { key, technical: [result.error, result.description].filter(Boolean).join(': '), color: 'danger' };
  }
  state.session = currentSession();
  if (state.session && state.session.expiresAt <= Date.now()) return signedOut('err401', '');
  if (state.session && !state.session.patient) return signedOut('errLogin', 'no patient in the token response');
  render();
  if (!state.session) return;
  await loadActing();
  if (state.session) await loadSections();
}

main();
