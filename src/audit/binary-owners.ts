/**
 * Whose data a shown Binary is, for the access log, when it was not served as stored text (a
 * history Bundle, `_include`/`_revinclude`, a search with `_summary` or `_elements`, `$everything`).
 * A Binary is in no patient compartment (R4), yet a message attachment is the patient's data as
 * much as the message (seed S23: every look at the record is logged): its patients are those of the
 * resource its `securityContext` names — the resource that decides who may see it (access-spec §5.3
 * row 28) and the rule a stored read applies in SQL (repository/stored.ts `loggedPatients`).
 * Only the log calls this; it returns patient ids, never content, and access never reads it.
 */
import type { Binary, Resource } from 'fhir/r4';
import type { Queryable } from '../db/db.js';
import { StoredResource } from '../fhir/repository/stored.js';

/** Each shown Binary that names a securityContext → the patients of that resource (empty when it is gone). */
export async function binaryOwners(q: Queryable, shown: readonly Resource[]): Promise<Map<Resource, readonly string[]>> {
  const owners = new Map<Resource, readonly string[]>();
  const asked: Array<{ binary: Resource; type: string; id: string }> = [];
  for (const r of shown) {
    if (r.resourceType !== 'Binary' || r instanceof StoredResource) continue;
    const [type, id, ...rest] = ((r as Binary).securityContext?.reference ?? '').split('/');
    if (type && id && rest.length === 0) asked.push({ binary: r, type, id });
    else owners.set(r, []);
  }
  if (asked.length === 0) return owners;
  const rows = await q.query<{ resource_type: string; id: string; compartments: string[] | null }>(
    `SELECT o.resource_type, o.id, o.compartments FROM resources o
      WHERE (o.resource_type, o.id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [asked.map((a) => a.type), asked.map((a) => a.id)],
  );
  const byKey = new Map(rows.map((row) => [`${row.resource_type}/${row.id}`, row.compartments ?? []]));
  for (const a of asked) owners.set(a.binary, byKey.get(`${a.type}/${a.id}`) ?? []);
  return owners;
}
