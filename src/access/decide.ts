/**
 * The access decision point: a token's principal plus its live relation (relations.ts) become one
 * AccessContext. Reads get filters the repository compiles into every SQL statement; writes are
 * judged by the same policy rows. The effective right is the intersection of the granted scopes
 * (access-for-principal.ts), the policy cell of the actor for the resource's slice, and the gates
 * already passed by the relation (access-spec §0.2).
 */
import type { Resource } from 'fhir/r4';
import { type AccessContext, type AccessFilter, type FilterExpr, type LivenessGuard, type WriteInteraction } from './access-context.js';
import { withTokenAuthors } from './authorship.js';
import { buildAccessContext } from './context-builder.js';
import { checkGrantAdministrationClient } from './first-party.js';
import { accessForPrincipal } from './scope-access.js';
import type { Principal } from '../identity/principal.js';
import { forbidden } from '../fhir/errors.js';
import { signFilters } from '../fhir/search/access-sql.js';
import { CONTEXT_BOUND, CS, PATIENT_FACING, POLICY_TYPES, rowsFor, type Actor } from './policy.js';
import type { Relation } from './relations.js';
import { sameInEverySlice, sliceExprs, sliceOf, type SliceVars } from './slices.js';

const LETTER: Record<WriteInteraction, string> = { create: 'c', update: 'u', patch: 'u', delete: 'd' };
const PARENT_RESTRICTED = `_security=${CS.proxyRestriction}|no-parent`;

export interface DecideOptions {
  now?: Date;
  /** The client's registered name, for the access log of writes (src/audit/client-names.ts). */
  clientName?: string | null;
  /** The first-party portal's client id: the only citizen-side client that administers grants (first-party.ts). */
  firstPartyClientId?: string;
  /** How far back a citizen still sees their questionnaire answers (S24 "answered recently"). */
  questionnaireRetentionDays?: number;
  /** The grant check a read by id carries in its own statement (access-context.ts `LivenessGuard`). */
  liveness?: LivenessGuard;
}

/** `now` and `recent` to the second, formatted once per second (every request of that second needs the same two). */
let lastTimes = { second: Number.NaN, days: Number.NaN, now: '', recent: '' };
function timesAt(now: Date, days: number): { now: string; recent: string } {
  const second = Math.floor(now.getTime() / 1000);
  if (second !== lastTimes.second || days !== lastTimes.days) {
    const at = second * 1000;
    lastTimes = {
      second,
      days,
      now: new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      recent: new Date(at - days * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    };
  }
  return lastTimes;
}

export function sliceVars(relation: Relation, opts: DecideOptions = {}): SliceVars {
  const times = timesAt(opts.now ?? new Date(), opts.questionnaireRetentionDays ?? 365);
  const actorId = relation.actorRef?.startsWith('RelatedPerson/') ? relation.actorRef.slice('RelatedPerson/'.length) : '';
  return {
    patient: relation.patientId ?? '',
    actor: relation.actorRef ?? '',
    actorId,
    now: times.now,
    recent: times.recent,
  };
}

/**
 * The policy's read filters depend only on the actor and the slice variables, which change once a
 * second at most (`now`): building them walked every policy row on every request, so the last few
 * are kept (frozen; callers copy before adding).
 */
const policyMemo = new Map<string, readonly AccessFilter[]>();
const POLICY_MEMO_MAX = 1_000;

export function memoPolicyFilters(actor: Actor, vars: SliceVars): readonly AccessFilter[] {
  const key = `${actor}|${vars.patient}|${vars.actor}|${vars.actorId}|${vars.now}|${vars.recent}`;
  let hit = policyMemo.get(key);
  if (!hit) {
    if (policyMemo.size >= POLICY_MEMO_MAX) policyMemo.delete(policyMemo.keys().next().value as string);
    hit = Object.freeze(policyFilters(actor, vars));
    policyMemo.set(key, hit);
  }
  return hit;
}

/** The read filters the policy adds for an actor (on top of the scope and compartment filters). */
export function policyFilters(actor: Actor, vars: SliceVars): AccessFilter[] {
  const filters: AccessFilter[] = [];
  const patientFacing = PATIENT_FACING.includes(actor);
  if (patientFacing) {
    // Deny by default: a type the policy does not name stays closed to the citizen side.
    filters.push({ kind: 'types', allowed: POLICY_TYPES.filter((t) => rowsFor(t).some((r) => r.allow[actor].includes('r'))) });
  }
  for (const type of POLICY_TYPES) {
    const slices = sliceExprs(type, vars);
    const visible = slices.filter((s) => s.row.allow[actor].includes('r'));
    if (visible.length === 0) {
      filters.push({ kind: 'hide-type', resourceType: type });
      continue;
    }
    let expr: FilterExpr = visible.length === slices.length ? true : { or: visible.map((s) => s.expr) };
    // S12: resources a clinician marked "not for parents" are hidden from parents (404, filtered).
    if (actor === 'parent') expr = expr === true ? { not: { query: PARENT_RESTRICTED } } : { and: [expr, { not: { query: PARENT_RESTRICTED } }] };
    if (expr !== true) filters.push({ kind: 'predicate', resourceType: type, expr });
  }
  // Row 28: a Binary is seen through the message or document it belongs to (clinicians too: S16).
  if (actor !== 'system') for (const [type, param] of Object.entries(CONTEXT_BOUND)) filters.push({ kind: 'context', resourceType: type, param });
  return filters;
}

/** Throws 403 unless the policy cell for the resource's slice holds the interaction's letter. */
export function checkPolicyWrite(actor: Actor, vars: SliceVars, interaction: WriteInteraction, resource: Resource, previous: Resource | undefined): void {
  const letter = LETTER[interaction];
  const type = resource.resourceType;
  const judge = (r: Resource, what: string) => {
    if (sameInEverySlice(type, actor, letter)) return;
    const slice = sliceOf(r, vars);
    if (!slice) {
      // No row: closed to the citizen side; clinicians and systems are bounded by their scopes alone.
      if (PATIENT_FACING.includes(actor)) throw forbidden(`${actorLabel(actor)} may not ${interaction} ${type}`);
      return;
    }
    if (!slice.allow[actor].includes(letter)) throw forbidden(`${actorLabel(actor)} may not ${interaction} ${type} (${what}: ${slice.slice}; access-spec §4.4 row ${slice.row})`);
  };
  if (previous && interaction !== 'create') judge(previous, 'current version');
  if (interaction !== 'delete') judge(resource, interaction === 'create' ? 'new resource' : 'new version');
  if (actor === 'parent' && previous?.meta?.security?.some((s) => s.system === CS.proxyRestriction && s.code === 'no-parent')) {
    throw forbidden('A clinician has closed this resource to parents');
  }
}

const ACTOR_LABEL: Record<Actor, string> = {
  self: 'The patient', standard: 'A Standard proxy', read: 'A Read proxy', communicate: 'A Communicate proxy', full: 'A Full proxy',
  parent: 'A parent', clinician: 'A clinician', system: 'A system client',
};
const actorLabel = (a: Actor) => ACTOR_LABEL[a];

/** The scopes as text for a signature, once per parsed list (the resource server reuses frozen lists). */
const scopeTexts = new WeakMap<readonly unknown[], string>();
function scopesText(scopes: readonly unknown[]): string {
  let text = scopeTexts.get(scopes);
  if (text === undefined) {
    text = JSON.stringify(scopes);
    if (Object.isFrozen(scopes)) scopeTexts.set(scopes, text);
  }
  return text;
}

/**
 * The filter list of a scope half and a policy half, signed, made once per pair. Both halves are
 * memoised lists (scope-access.ts per token scopes and patient; `memoPolicyFilters` per actor and
 * slice variables), so a token's requests within one second get the very same frozen list and
 * signature string, whose compiled SQL is then found without building and hashing a key from the
 * signature again (access-sql.ts; issue 11, read profile). Keyed by the halves' identities, so an
 * entry lives as long as both halves are remembered.
 */
const combined = new WeakMap<readonly AccessFilter[], WeakMap<readonly AccessFilter[], readonly AccessFilter[]>>();

function signedFilters(principal: Principal, relation: Relation, vars: SliceVars, scopeHalf: readonly AccessFilter[]): readonly AccessFilter[] {
  const policyHalf = memoPolicyFilters(relation.actor, vars);
  let byPolicy = combined.get(scopeHalf);
  const hit = byPolicy?.get(policyHalf);
  if (hit) return hit;
  const filters = Object.freeze([...scopeHalf, ...policyHalf]);
  // Everything the filters are made of: the scope half depends on the token's kind, patient and
  // scopes (scope-access.ts), the policy half on the actor and the slice variables. Equal signatures
  // mean equal filters, so their compiled SQL can be reused (access-sql.ts). A pair of halves always
  // gives the same signature: each half's memo key names what the signature names of it.
  signFilters(filters, `${principal.kind}|${principal.patientId ?? ''}|${scopesText(principal.scopes)}|${relation.actor}|${JSON.stringify(vars)}`);
  // Only memoised halves (frozen scope lists) are remembered: others are new on every request.
  if (Object.isFrozen(principal.scopes)) {
    if (!byPolicy) combined.set(scopeHalf, (byPolicy = new WeakMap()));
    byPolicy.set(policyHalf, filters);
  }
  return filters;
}

/** The one AccessContext of a request: scopes ∩ policy ∩ (gates passed by the relation). */
export function decideAccess(principal: Principal, relation: Relation, opts: DecideOptions = {}): AccessContext {
  const byScope = accessForPrincipal(principal);
  const vars = sliceVars(relation, opts);
  const patientSide = PATIENT_FACING.includes(relation.actor);
  const filters = signedFilters(principal, relation, vars, byScope.filters);
  return buildAccessContext({
    relation,
    clientId: principal.clientId,
    clientName: opts.clientName ?? null,
    fallbackActor: byScope.actor,
    filters,
    ...(opts.liveness ? { liveness: opts.liveness } : {}),
    async checkWrite(interaction: WriteInteraction, resource: Resource, previous: Resource | undefined): Promise<void> {
      // Judged as it will be stored: the author fields the write rule fills in from the token
      // (authorship.ts) decide the slice, e.g. a patient-reported MedicationStatement (§4.4 row 5).
      const judged = patientSide && interaction !== 'delete' ? withTokenAuthors(resource, previous, vars.actor) : resource;
      checkGrantAdministrationClient(principal, opts.firstPartyClientId, resource, previous);
      await byScope.checkWrite(interaction, judged, previous);
      checkPolicyWrite(relation.actor, vars, interaction, judged, previous);
    },
  });
}
