/**
 * "Who wrote is the server's word" (access-spec §5.2): on patient-side writes the author-type fields
 * are taken from the token (the acting Patient or RelatedPerson). Absent → filled in; the value the
 * current version already holds → kept (a Full proxy may edit a note the patient wrote); anything
 * else → 403 naming the field. Filling in happens before the policy judges the write (decide.ts), so
 * a patient-reported MedicationStatement (§4.4 row 5, `source={actor}`) is judged as it is stored.
 */
import type { Reference, Resource } from 'fhir/r4';
import { FhirError } from '../fhir/errors.js';
import type { WriteRule } from '../fhir/repository/write-rules.js';
import { sameValue } from './same-value.js';

interface AuthorField {
  path: string;
  /** true for a list of references (DocumentReference.author). */
  many?: boolean;
}

export const AUTHOR_FIELDS: Readonly<Record<string, readonly AuthorField[]>> = {
  Communication: [{ path: 'sender' }],
  DocumentReference: [{ path: 'author', many: true }],
  QuestionnaireResponse: [{ path: 'author' }, { path: 'source' }],
  Task: [{ path: 'requester' }],
  AllergyIntolerance: [{ path: 'recorder' }, { path: 'asserter' }],
  MedicationStatement: [{ path: 'informationSource' }],
};

export type AuthorDecision = { ok: true; fill: Record<string, unknown> } | { ok: false; expression: string; why: string };

const refersTo = (value: unknown, actor: string): boolean => (value as Reference | undefined)?.reference === actor;

/** Pure: what the author fields of `resource` must become for `actor`, or which one is refused. */
export function decideAuthors(resource: Resource, previous: Resource | undefined, actor: string): AuthorDecision {
  const fill: Record<string, unknown> = {};
  for (const field of AUTHOR_FIELDS[resource.resourceType] ?? []) {
    const value = (resource as unknown as Record<string, unknown>)[field.path];
    const before = previous ? (previous as unknown as Record<string, unknown>)[field.path] : undefined;
    const expression = `${resource.resourceType}.${field.path}`;
    const empty = value === undefined || (Array.isArray(value) && value.length === 0);
    if (empty) {
      fill[field.path] = before !== undefined ? before : field.many ? [{ reference: actor }] : { reference: actor };
      continue;
    }
    if (before !== undefined && sameValue(value, before)) continue;
    const own = field.many ? Array.isArray(value) && value.every((v) => refersTo(v, actor)) : refersTo(value, actor);
    if (!own) return { ok: false, expression, why: `${expression} is set by the server from the token and must be ${actor} (access-spec §5.2)` };
  }
  return { ok: true, fill };
}

/** The resource as it will be stored after the author fields are filled in (unchanged when refused). */
export function withTokenAuthors<T extends Resource>(resource: T, previous: Resource | undefined, actor: string): T {
  if (!actor) return resource;
  const d = decideAuthors(resource, previous, actor);
  return d.ok && Object.keys(d.fill).length > 0 ? { ...resource, ...d.fill } : resource;
}

/**
 * The write rule: completes the version about to be stored (`change.resource`, the repository's own
 * copy, stamped and validated) with the token's author, or refuses with 403.
 */
export const authorFieldsRule: WriteRule = async ({ interaction, resource, previous, access }) => {
  if (access.side !== 'patient' || interaction === 'delete' || !AUTHOR_FIELDS[resource.resourceType]) return;
  if (!access.actor) throw forbidden403(`${resource.resourceType}: a patient-side write needs an acting person`, resource.resourceType);
  const d = decideAuthors(resource, previous, access.actor);
  if (!d.ok) throw forbidden403(d.why, d.expression);
  Object.assign(resource, d.fill);
};

export function forbidden403(diagnostics: string, expression: string): FhirError {
  return new FhirError(403, { code: 'forbidden', diagnostics, expression: [expression] });
}
