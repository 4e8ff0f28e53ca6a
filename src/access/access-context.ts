/**
 * What the access engine hands to the repository for one request. The repository ANDs `filters`
 * into the SQL of every read, vread, search, include, revinclude, chain, `_has`, history and count,
 * and calls `checkWrite` before every write. The filters are search-parameter expressions, so they
 * compile through the same code as any search and no query path can forget them.
 */
import type { Resource } from 'fhir/r4';
import type { Queryable } from '../db/db.js';

export type AccessFilter =
  /** Only resources of these types are visible at all. */
  | { kind: 'types'; allowed: readonly string[] }
  /**
   * A resource of a patient-compartment type is visible only when it is in the compartment of one
   * of these Patients (membership decided by the listed reference parameters, e.g. subject/patient;
   * `Patient` itself by `_id`). Types outside the Patient compartment are not narrowed by this filter.
   */
  | { kind: 'compartment'; patientIds: readonly string[] }
  /**
   * Resources of `resourceType` must match this search query (URL query syntax, one or more
   * parameters ANDed), e.g. `_tag:not=https://fhir.helsebro.no/CodeSystem/release-status|held`.
   */
  | { kind: 'query'; resourceType: string; query: string }
  /** Resources of `resourceType` are hidden entirely (still 404, never 403). */
  | { kind: 'hide-type'; resourceType: string }
  /**
   * Resources of `resourceType` must satisfy this boolean combination of search queries: how the
   * policy's slices ("upcoming appointments", "not a personal note") become SQL.
   */
  | { kind: 'predicate'; resourceType: string; expr: FilterExpr }
  /**
   * Resources of `resourceType` are visible only when the resource their reference parameter `param`
   * names (on this server) is visible under the same filters: a Binary through its `securityContext`
   * is readable exactly by those who may read the message or document it belongs to (access-spec §5.3 row 28).
   */
  | { kind: 'context'; resourceType: string; param: string };

/** A boolean expression over search queries (URL query syntax; parameters of one query are ANDed). */
export type FilterExpr = boolean | { query: string } | { and: readonly FilterExpr[] } | { or: readonly FilterExpr[] } | { not: FilterExpr };

export type WriteInteraction = 'create' | 'update' | 'patch' | 'delete';

/**
 * Patient side = the patient, proxies, parents and the apps acting for them (a token with a patient
 * context, access-spec §5.2); clinicians (`user/`) and backend clients (`system/`) are not.
 */
export type AccessSide = 'patient' | 'clinician' | 'system';

export interface AccessContext {
  /** Who acts, for logs and audit (e.g. `Patient/123`, `RelatedPerson/9`, `Client/dev-system`). */
  readonly actor: string | null;
  /** The patient the request is confined to, if any (token `patient` context). */
  readonly patientId: string | null;
  /** Which side writes; the write rules of §5.2 bind the patient side. Absent: the server itself. */
  readonly side?: AccessSide;
  readonly filters: readonly AccessFilter[];
  /** Throws a FhirError (403/404/422) when this write is not allowed. `previous` is the current version. */
  checkWrite(interaction: WriteInteraction, resource: Resource, previous: Resource | undefined): void | Promise<void>;
  /**
   * Called by the repository after a write, inside the write's transaction, so the access log and
   * provenance of a write commit or roll back with it. `tx` writes in that same transaction.
   */
  recordWrite?(tx: WriteRecorder, interaction: WriteInteraction, stored: Resource): Promise<void>;
  /**
   * Set when this context was decided from what the token's previous request established, without
   * checking the grant first (issue 11 §2 "one round trip to authenticate and authorise"): the one
   * statement that uses it (the read by id) must carry `liveness.sql` and hand its result to
   * `liveness.settle` before anything is answered (auth/resource-server.ts).
   */
  readonly liveness?: LivenessGuard;
}

/**
 * The live-grant check carried by a read's own statement. `sql` is a scalar subquery that yields the
 * access version of the token's subject while the grant is live and the token not revoked, NULL
 * otherwise; rows may be read only under `version`, the one this context was decided under.
 */
export interface LivenessGuard {
  readonly version: number;
  /** The scalar subquery; binds its values into `params`. */
  sql(params: unknown[]): string;
  /**
   * The statement's answer. NULL: 401. `version`: the context stands (resolves to null). Another
   * version: the context is decided afresh and returned, and the statement must be run again under it.
   */
  settle(version: number | null): Promise<AccessContext | null>;
}

/** What recordWrite may do in the write's transaction: store server-generated resources, now or just before commit. */
export interface WriteRecorder {
  /** The write's transaction, for the access log's rows (src/audit/write-log.ts). */
  readonly queryable: Queryable;
  createServerGenerated(resources: readonly Resource[]): Promise<void>;
  beforeCommit(key: object, work: (tx: WriteRecorder) => Promise<void>): void;
}

/** The context of the server itself (seeding, migrations, internal jobs): no filter, every write. */
export const SYSTEM_ACCESS: AccessContext = Object.freeze({
  actor: null,
  patientId: null,
  side: 'system',
  filters: [],
  checkWrite: () => undefined,
});
