/**
 * Who is acting for whom, read live from the record on every request: the patient themself, a
 * proxy through a fullmakt (RelatedPerson + Consent), a parent through register data, a clinician
 * or a backend system. The relationship is re-derived each time (never cached in the token), so a
 * revocation, a death, a deactivation or a 16th birthday acts on the very next request (S13).
 */
import type { Consent, Patient, RelatedPerson } from 'fhir/r4';
import { SYSTEM_ACCESS } from './access-context.js';
import type { Repository } from '../fhir/repository/repository.js';
import type { Queryable } from '../db/db.js';
import { DatabaseUnavailable } from '../db/unavailable.js';
import { findMatchingIds } from '../fhir/search/find-ids.js';
import { hasAcceptedTerms, termsState } from '../identity/terms.js';
import { accountGates, parentalCode, parentGates, proxyGates, proxyLevelOf, selfGates, PROXY_RELATIONSHIP, type GateResult } from './gates.js';
import { isProxyLevel, type Actor } from './policy.js';

export interface Relation {
  actor: Actor;
  /** The represented patient (null for clinicians and systems without a patient context). */
  patientId: string | null;
  /** The acting person as a reference: `Patient/…` for self, `RelatedPerson/…` for proxies and parents. */
  actorRef: string | null;
  /** The Consent the proxy acts through, for the access log. */
  grantRef: string | null;
}

export type Resolution = { ok: true; relation: Relation } | { ok: false; gate: string; why: string; relation?: Relation };

export interface WhoActs {
  kind: 'patient' | 'user' | 'system';
  patientId: string | null;
  fhirUser: string | null;
}

const denied = (g: GateResult & { ok: false }, relation?: Relation): Resolution => ({ ok: false, gate: g.gate, why: g.why, ...(relation ? { relation } : {}) });

/**
 * Missing or deleted is "no such person" (the gate denies); a database that does not answer is not,
 * and stays a DatabaseUnavailable (503 + Retry-After, issue 17) instead of turning into a 401 that
 * tells every app to log its user in again.
 */
async function readOrNull<T extends Patient | RelatedPerson | Consent>(repo: Repository, type: T['resourceType'], id: string): Promise<T | null> {
  return repo.read<T>(type, id, SYSTEM_ACCESS).catch((err: unknown) => {
    if (err instanceof DatabaseUnavailable) throw err;
    return null;
  });
}

const refId = (ref: string | undefined, type: string): string | null => (ref?.startsWith(`${type}/`) ? ref.slice(type.length + 1) : null);

export async function resolveRelation(db: Queryable, repo: Repository, who: WhoActs, now = new Date()): Promise<Resolution> {
  if (who.kind === 'system') return { ok: true, relation: { actor: 'system', patientId: who.patientId, actorRef: null, grantRef: null } };
  if (who.kind === 'user') return { ok: true, relation: { actor: 'clinician', patientId: who.patientId, actorRef: who.fhirUser, grantRef: null } };
  const patientId = who.patientId;
  if (!patientId) return { ok: false, gate: 'context', why: 'a patient token without a patient' };
  const patient = await readOrNull<Patient>(repo, 'Patient', patientId);
  if (!patient) return { ok: false, gate: 'context', why: 'the patient no longer exists' };

  if (who.fhirUser === `Patient/${patientId}`) {
    const relation: Relation = { actor: 'self', patientId, actorRef: who.fhirUser, grantRef: null };
    const g = selfGates(patient, null, now);
    if (!g.ok) return denied(g, relation);
    // G15: the Terms of Use accepted (and still in force) before any access.
    if (!(await hasAcceptedTerms(db, patientId))) return { ok: false, gate: 'G15', why: 'the Terms of Use in force are not accepted', relation };
    return { ok: true, relation };
  }
  const rpId = refId(who.fhirUser ?? undefined, 'RelatedPerson');
  if (!rpId) return { ok: false, gate: 'context', why: 'the acting user is neither the patient nor a RelatedPerson' };
  const rp = await readOrNull<RelatedPerson>(repo, 'RelatedPerson', rpId);
  if (!rp || rp.patient?.reference !== `Patient/${patientId}`) return { ok: false, gate: 'context', why: 'the RelatedPerson does not belong to this patient' };
  return relationThrough(db, repo, patient, rp, now);
}

/** The relation a RelatedPerson gives to its patient: a fullmakt, a parent, or nothing. */
export async function relationThrough(db: Queryable, repo: Repository, patient: Patient, rp: RelatedPerson, now: Date): Promise<Resolution> {
  const patientId = patient.id!;
  const actorRef = `RelatedPerson/${rp.id}`;
  const isProxy = rp.relationship?.some((r) => r.coding?.some((c) => c.system === PROXY_RELATIONSHIP.system && c.code === PROXY_RELATIONSHIP.code));
  if (isProxy) {
    const consent = await grantConsentFor(db, repo, patientId, actorRef);
    if (!consent) return { ok: false, gate: 'G4', why: 'no grant for this proxy' };
    const level = proxyLevelOf(consent);
    const relation: Relation = { actor: isProxyLevel(level ?? undefined) ? (level as Actor) : 'standard', patientId, actorRef, grantRef: `Consent/${consent.id}` };
    if (!isProxyLevel(level ?? undefined)) return { ok: false, gate: 'G4', why: `unknown proxy level "${level}"`, relation };
    const g = proxyGates(patient, consent, rp, now);
    if (!g.ok) return denied(g, relation);
    // Issue 14: a proxy acts only while the patient's acceptance is current. A patient who accepted an
    // earlier version must renew it first (terms §9); one who never used the service (a paper or
    // registry fullmakt, S9) is not held to terms they were never shown.
    if ((await termsState(db, patientId)) === 'outdated') return { ok: false, gate: 'G15', why: 'the patient has not accepted the Terms of Use in force', relation };
    return { ok: true, relation };
  }
  if (parentalCode(rp)) {
    const relation: Relation = { actor: 'parent', patientId, actorRef, grantRef: null };
    const parents = await parentsOf(db, repo, patientId);
    const g = parentGates(patient, rp, parents, now);
    return g.ok ? { ok: true, relation } : denied(g, relation);
  }
  const account = accountGates(patient);
  return account.ok ? { ok: false, gate: 'G9', why: 'the RelatedPerson is neither a proxy nor a parent' } : denied(account);
}

/** The most recent proxy-grant Consent naming this RelatedPerson (an active one wins over a revoked one). */
async function grantConsentFor(db: Queryable, repo: Repository, patientId: string, actorRef: string): Promise<Consent | null> {
  const ids = await findMatchingIds(db, 'Consent', `patient=Patient/${patientId}&actor=${actorRef}`, SYSTEM_ACCESS, 50);
  const consents = (await Promise.all(ids.map((id) => readOrNull<Consent>(repo, 'Consent', id)))).filter((c): c is Consent => !!c && proxyLevelOf(c) !== null);
  consents.sort((a, b) => Number(b.status === 'active') - Number(a.status === 'active') || (b.meta?.lastUpdated ?? '').localeCompare(a.meta?.lastUpdated ?? ''));
  return consents[0] ?? null;
}

async function parentsOf(db: Queryable, repo: Repository, childId: string): Promise<RelatedPerson[]> {
  const ids = await findMatchingIds(db, 'RelatedPerson', `patient=Patient/${childId}`, SYSTEM_ACCESS, 100);
  const all = await Promise.all(ids.map((id) => readOrNull<RelatedPerson>(repo, 'RelatedPerson', id)));
  return all.filter((r): r is RelatedPerson => !!r && parentalCode(r) !== null);
}

