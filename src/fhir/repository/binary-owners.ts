/**
 * Whose data a shown Binary is, for the access log, when it was not served as stored text (a
 * history Bundle, `_include`/`_revinclude`, a search with `_summary` or `_elements`, `$everything`).
 * A Binary is in no patient compartment (R4), yet a message attachment is the patient's data as
 * much as the message (seed S23: every look at the record is logged): its patients are those of the
 * resource its `securityContext` names — the resource that decides who may see it (access-spec §5.3
 * row 28) and the rule a stored read applies in SQL (stored.ts `loggedPatients`).
 * Only the log calls this; it returns patient ids, never content, and access never reads it.
 */
import type { Binary, Resource } from 'fhir/r4';
import type { Queryable } from '../../db/db.js';
import { StoredResource } from './stored.js';

/**
 * Each shown Binary → the patients of the resource its securityContext names (empty when it names
 * none or that resource is gone). A Binary shaped by `_elements` may have lost its securityContext;
 * then the stored Binary's own is used.
 */
export async function binaryOwners(q: Queryable, shown: readonly Resource[]): Promise<Map<Resource, readonly string[]>> {
  const owners = new Map<Resource, readonly string[]>();
  const byRef: Array<{ binary: Resource; type: string; id: string }> = [];
  const byId: Resource[] = [];
  for (const r of shown) {
    if (r.resourceType !== 'Binary' || r instanceof StoredResource) continue;
    const reference = (r as Binary).securityContext?.reference;
    const [type, id, ...rest] = (reference ?? '').split('/');
    if (type && id && rest.length === 0) byRef.push({ binary: r, type, id });
    else if (reference === undefined && r.id) byId.push(r);
    else owners.set(r, []);
  }
  if (byRef.length === 0 && byId.length === 0) return owners;
  const rows = await q.query<{ kind: string; key: string; compartments: string[] | null }>(
    `SELECT 'ref' AS kind, o.resource_type || '/' || o.id AS key, o.compartments FROM resources o
      WHERE (o.resource_type, o.id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
     UNION ALL
     SELECT 'binary', b.id, o.compartments FROM resources b
       JOIN resources o ON o.resource_type = split_part(b.content -> 'securityContext' ->> 'reference', '/', 1)
        AND o.id = split_part(b.content -> 'securityContext' ->> 'reference', '/', 2)
      WHERE b.resource_type = 'Binary' AND b.id = ANY($3::text[])`,
    [byRef.map((a) => a.type), byRef.map((a) => a.id), byId.map((r) => r.id!)],
  );
  const found = new Map(rows.map((row) => [`${row.kind}:${row.key}`, row.compartments ?? []]));
  for (const a of byRef) owners.set(a.binary, found.get(`ref:${a.type}/${a.id}`) ?? []);
  for (const r of byId) owners.set(r, found.get(`binary:${r.id}`) ?? []);
  return owners;
}
