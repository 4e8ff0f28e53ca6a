/**
 * The scope half of every decision (access-spec §0.2: scopes ∩ policy ∩ gates): decide.ts combines it
 * with the policy table, and the resource server's coarse URL check uses `requireScope`. Patient tokens are confined to the token's patient compartment and to the types
 * their read scopes name; granular read scopes become query filters; writes must be covered by a
 * scope (403 insufficient_scope) and land in the token patient's compartment (403, access-spec §4.7).
 */
import type { Resource } from 'fhir/r4';
import type { AccessContext, AccessFilter, WriteInteraction } from './access-context.js';
import { FhirError } from '../fhir/errors.js';
import { CONTEXT_BOUND } from './policy.js';
import { patientCompartmentsOf } from '../fhir/search/compartments.js';
import type { Principal } from '../identity/principal.js';
import { insteadOfCreate } from './policy.js';
import { matchesScopeQuery } from '../identity/scope-match.js';
import { readableTypes, restrictionsAsQuery, scopeRestrictions, type Interaction, type ScopeContext } from '../identity/scopes.js';

const WRITE_LETTER: Record<WriteInteraction, Interaction> = { create: 'c', update: 'u', patch: 'u', delete: 'd' };

/** 403 with `WWW-Authenticate: Bearer error="insufficient_scope"` (RFC 6750 §3.1; access-spec §1.12). */
export function insufficientScope(diagnostics: string): FhirError {
  return new FhirError(403, { code: 'forbidden', diagnostics }).withHeader('WWW-Authenticate', 'Bearer realm="helsebro", error="insufficient_scope"');
}

/** A citizen refused a create learns what to do instead (policy.ts `instead`: a request Task, issue 13). */
const hint = (principal: Principal, type: string, interaction: Interaction): string => (principal.kind === 'patient' && interaction === 'c' ? insteadOfCreate(type) : '');

function contextOf(principal: Principal): ScopeContext {
  return principal.kind;
}

/**
 * Whether a scope list covers an interaction on a type, remembered per frozen list (the resource
 * server hands every request of a token the same one): walking the scopes was ~2 % of a read's CPU.
 */
const coveredMemo = new WeakMap<readonly unknown[], Map<string, boolean>>();

function covered(principal: Principal, resourceType: string, interaction: Interaction): boolean {
  const context = contextOf(principal);
  if (!Object.isFrozen(principal.scopes)) return scopeRestrictions(principal.scopes, context, resourceType, interaction) !== null;
  let byKey = coveredMemo.get(principal.scopes);
  if (!byKey) coveredMemo.set(principal.scopes, (byKey = new Map()));
  const key = `${context}|${resourceType}|${interaction}`;
  let hit = byKey.get(key);
  if (hit === undefined) byKey.set(key, (hit = scopeRestrictions(principal.scopes, context, resourceType, interaction) !== null));
  return hit;
}

/** Throws 403 insufficient_scope unless some granted scope covers this interaction on this type. */
export function requireScope(principal: Principal, resourceType: string, interaction: Interaction): void {
  if (!covered(principal, resourceType, interaction)) {
    throw insufficientScope(`The granted scopes do not allow "${interaction}" on ${resourceType}${hint(principal, resourceType, interaction)}`);
  }
}

/**
 * The read filters of a token's scopes, which depend only on its kind, patient and scopes. The
 * resource server hands every request of a token the same frozen scope list, so they are made once
 * per list and patient (walking every scope for every type was a visible share of a read's CPU).
 */
const scopeFilterMemo = new WeakMap<readonly unknown[], Map<string, readonly AccessFilter[]>>();

function scopeFilters(principal: Principal, context: ScopeContext): readonly AccessFilter[] {
  const frozen = Object.isFrozen(principal.scopes);
  const key = `${principal.kind}|${principal.patientId ?? ''}`;
  const byKey = frozen ? scopeFilterMemo.get(principal.scopes) : undefined;
  const hit = byKey?.get(key);
  if (hit) return hit;
  const filters: AccessFilter[] = [];
  if (principal.kind === 'patient') {
    // A patient token without a patient context sees no patient data at all (deny by default).
    filters.push({ kind: 'compartment', patientIds: principal.patientId ? [principal.patientId] : [] });
  }
  const types = readableTypes(principal.scopes, context);
  if (!types.includes('*')) filters.push({ kind: 'types', allowed: types });
  for (const type of types.filter((t) => t !== '*')) {
    const restrictions = scopeRestrictions(principal.scopes, context, type, 'r') ?? scopeRestrictions(principal.scopes, context, type, 's');
    if (!restrictions || restrictions.length === 0) continue;
    // Alternatives FHIR search cannot express as one query: keep the first (narrower than granted, never wider).
    const query = restrictionsAsQuery(restrictions) ?? restrictionsAsQuery([restrictions[0]!]);
    if (query) filters.push({ kind: 'query', resourceType: type, query });
  }
  const done = Object.freeze(filters.map((f) => Object.freeze(f)));
  if (frozen) {
    const map = byKey ?? new Map<string, readonly AccessFilter[]>();
    // One token kind, at most a few patients per scope list (a proxy's tokens for each person they act for).
    if (map.size >= 100) map.clear();
    map.set(key, done);
    if (!byKey) scopeFilterMemo.set(principal.scopes, map);
  }
  return done;
}

export function accessForPrincipal(principal: Principal): AccessContext {
  const context = contextOf(principal);
  const filters = scopeFilters(principal, context);
  return Object.freeze({
    actor: principal.fhirUser ?? `Client/${principal.clientId}`,
    patientId: principal.patientId ?? null,
    filters,
    checkWrite(interaction: WriteInteraction, resource: Resource, previous: Resource | undefined): void {
      const letter = WRITE_LETTER[interaction];
      const type = resource.resourceType;
      const restrictions = scopeRestrictions(principal.scopes, context, type, letter);
      if (!restrictions) throw insufficientScope(`The granted scopes do not allow "${interaction}" on ${type}${hint(principal, type, letter)}`);
      if (restrictions.length > 0 && !restrictions.some((q) => matchesScopeQuery(resource, q) && (!previous || matchesScopeQuery(previous, q)))) {
        throw insufficientScope(`The granted scopes allow "${interaction}" on ${type} only for resources matching ${restrictions.map((q) => q.map(([k, v]) => `${k}=${v}`).join('&')).join(' or ')}`);
      }
      if (principal.kind === 'patient') {
        const pid = principal.patientId;
        // A Binary is in no compartment of its own: it belongs to the message its securityContext names
        // (row 28), and the message rules admit a patient-side Binary only with a new message of this
        // patient in the same transaction (portal/messages/message-rule.ts).
        const inCompartment = (r: Resource) => !!pid && (r.resourceType in CONTEXT_BOUND || (r.resourceType === 'Patient' ? r.id === pid : patientCompartmentsOf(r).includes(pid)));
        if (!inCompartment(resource) || (previous && !inCompartment(previous))) {
          throw new FhirError(403, { code: 'forbidden', diagnostics: `${type} is outside the patient this token is for` });
        }
      }
    },
  });
}
