/**
 * A stored resource served as the text the database holds (issue 11 §3 "reads without needless JSON
 * work"): a read by id or a vread answers with the stored JSON without parsing it into objects and
 * stringifying it again. Only the small `meta` element is parsed, because versionId and lastUpdated
 * always come from the row (rows.ts `withServerMeta`, the same rule as every other read). The patients
 * whose data it is come from the row's `compartments` column, written with the version by the same
 * function the access log would otherwise evaluate (compartments.ts), so logging a read parses nothing.
 */
import type { Meta, Resource } from 'fhir/r4';
import { isoTime } from './rows.js';

/**
 * Whose data a row is, for the access log. A Binary is in no patient compartment (R4), yet a message
 * attachment is the patient's data as much as the message (seed S23: every look at the record is
 * logged): its patients are those of the resource its `securityContext` names, the same resource that
 * decides who may see it (access-spec §5.3 row 28). Only the log reads this; access never does.
 */
const loggedPatients = (a: string): string =>
  `CASE WHEN ${a}.resource_type = 'Binary' THEN COALESCE((SELECT sc.compartments FROM resources sc
     WHERE sc.resource_type = split_part(${a}.content -> 'securityContext' ->> 'reference', '/', 1)
       AND sc.id = split_part(${a}.content -> 'securityContext' ->> 'reference', '/', 2)), '{}') ELSE ${a}.compartments END AS compartments`;

/** The columns a stored read selects from alias `a` (resources `r` or resource_history `h`). */
export const storedColumns = (a: string): string =>
  `${a}.resource_type, ${a}.id, ${a}.version_id, ${a}.last_updated, ${a}.deleted, ${loggedPatients(a)}, ${a}.content -> 'meta' AS meta, (${a}.content - 'meta' - 'resourceType')::text AS body`;

export interface StoredRow {
  resource_type: string;
  id: string;
  version_id: number;
  last_updated: string | Date;
  deleted: boolean;
  compartments: string[] | null;
  meta: Meta | string | null;
  body: string | null;
}

export class StoredResource {
  readonly resourceType: string;
  readonly id: string;
  readonly versionId: string;
  readonly lastUpdated: string;
  /** The patients whose compartment holds this version (the access log's "whose data"). */
  readonly compartments: readonly string[];
  /** The resource as JSON text: resourceType first, then meta with the row's versionId and lastUpdated. */
  readonly json: string;

  constructor(row: StoredRow) {
    this.resourceType = row.resource_type;
    this.id = row.id;
    this.versionId = String(row.version_id);
    this.lastUpdated = isoTime(row.last_updated);
    this.compartments = row.compartments ?? [];
    const stored = (typeof row.meta === 'string' ? JSON.parse(row.meta) : row.meta) as Meta | null;
    const meta = JSON.stringify({ ...(stored ?? {}), versionId: this.versionId, lastUpdated: this.lastUpdated });
    const head = `{"resourceType":${JSON.stringify(this.resourceType)},"meta":${meta}`;
    const body = row.body ?? '{}';
    this.json = body.trim() === '{}' ? `${head}}` : `${head},${body.slice(body.indexOf('{') + 1)}`;
  }

  /** The parsed resource, for the rare response that changes it (`_pretty`) or a caller that needs objects. */
  toResource<T extends Resource = Resource>(): T {
    return JSON.parse(this.json) as T;
  }

  /** Serialising a StoredResource yields the resource itself, never the wrapper. */
  toJSON(): Resource {
    return this.toResource();
  }
}
