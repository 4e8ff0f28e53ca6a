/**
 * The citizen's access log (S23 "who has accessed your journal"): every FHIR response that shows
 * patient data is recorded as `access_log` rows (one per patient shown, audit-event.ts) *before*
 * the response leaves the server; if the log cannot be written the data is not shown (500).
 *
 * Writes are group-committed: requests arriving while a batch is being written join the next batch,
 * and a batch is ONE multi-row INSERT (no transaction of its own, no resource or index rows), so
 * under load one statement records many accesses and an idle request waits for one. A batch starts
 * one event-loop turn after its first entry (setImmediate), so the requests whose bytes arrived in the
 * same turn join it: with PGlite, whose statements run synchronously in this process, a request
 * otherwise went from its read to its own INSERT without ever yielding, and every read paid for a
 * one-row INSERT (issue 11, bench/read-cost.ts "rows per access-log insert").
 */
import type { AuditEvent, Bundle, Parameters, Resource } from 'fhir/r4';
import type { Queryable } from '../db/db.js';
import { StoredResource } from '../fhir/repository/stored.js';
import { patientCompartmentsOf } from '../fhir/search/compartments.js';
import { observeAccessLogBatch } from '../http/metrics.js';
import type { Logger } from '../log.js';
import { actionOf, rowsFromAuditEvent, type AccessLogRow, type ActingRelation, type RestInteraction } from './audit-event.js';

interface Pending {
  rows: AccessLogRow[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Rows as one INSERT … SELECT FROM jsonb_to_recordset: one statement however many rows. */
export async function insertRows(q: Queryable, rows: readonly AccessLogRow[]): Promise<void> {
  if (rows.length === 0) return;
  const json = rows.map((r) => ({
    recorded: r.recorded, patient_id: r.patientId, actor: r.actor, relation: r.relation, level: r.level, client_id: r.clientId,
    client_name: r.clientName, event: r.event, interaction: r.interaction, action: r.action, shown: r.shown, query: r.query,
    outcome: r.outcome, grant_ref: r.grant, detail: r.detail,
  }));
  await q.query(
    `INSERT INTO access_log (recorded, patient_id, actor, relation, level, client_id, client_name, event, interaction, action, shown, query, outcome, grant_ref, detail)
     SELECT x.recorded, x.patient_id, x.actor, x.relation, x.level, x.client_id, x.client_name, x.event, x.interaction, x.action, COALESCE(x.shown, '{}'), x.query, x.outcome, x.grant_ref, x.detail
     FROM jsonb_to_recordset($1::jsonb) AS x(recorded timestamptz, patient_id text, actor text, relation text, level text, client_id text, client_name text,
       event text, interaction text, action text, shown text[], query text, outcome text, grant_ref text, detail text)`,
    [JSON.stringify(json)],
    // One text for every batch: prepared on PostgreSQL, parsed and planned once per connection.
    { prepare: true },
  );
}

export class AccessLog {
  private pending: Pending[] = [];
  private running = false;
  private readonly q: Queryable;
  private drained: Promise<void> = Promise.resolve();

  constructor(
    target: Queryable | { readonly queryable: Queryable },
    private readonly logger: Logger,
  ) {
    this.q = 'queryable' in target ? target.queryable : target;
  }

  /** AuditEvents built elsewhere (security events): stored as rows; resolves once durably stored. */
  record(events: AuditEvent[]): Promise<void> {
    return this.recordRows(events.flatMap((e) => rowsFromAuditEvent(e)));
  }

  /** Resolves once the rows are durably stored; rejects (and the caller shows nothing) otherwise. */
  recordRows(rows: AccessLogRow[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.pending.push({ rows, resolve, reject });
      if (!this.running) {
        this.running = true;
        this.drained = new Promise<void>((done) => setImmediate(() => void this.drain().then(done)));
      }
    });
  }

  /** Resolves once every event recorded so far is stored or has failed (graceful shutdown, issue 17). */
  async flush(): Promise<void> {
    await this.drained;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0);
        try {
          const rows = batch.flatMap((p) => p.rows);
          await insertRows(this.q, rows);
          observeAccessLogBatch(rows.length);
          batch.forEach((p) => p.resolve());
        } catch (err) {
          this.logger.error('access log write failed', { error: (err as Error).message, rows: batch.reduce((n, p) => n + p.rows.length, 0) });
          batch.forEach((p) => p.reject(err));
        }
      }
    } finally {
      this.running = false;
    }
  }
}

/** Who acts in a request, the same for every row it leaves (the resource server's principal + relation). */
export interface ActorFacts {
  actor: string | null;
  relation: ActingRelation;
  level: string | null;
  clientId: string | null;
  /** The app's registered name (client-names.ts). */
  clientName: string | null;
  grant: string | null;
  /** The token's patient, logged even when a search found nothing of theirs. */
  contextPatientId: string | null;
}

/** What the auditor needs of a request. */
export interface AuditedRequest {
  method: string;
  /** Path below the FHIR base, e.g. `/Observation/1`. */
  path: string;
  /** Query string without `?` (search, history, operation parameters). */
  query: string;
  /** The If-None-Exist header of a conditional create. */
  ifNoneExist?: string;
}

/**
 * The resources a FHIR response body shows: a resource; the entries of a Bundle, and of every
 * Bundle nested in it (batch and transaction responses hold search Bundles); the resources of a
 * Parameters. The log itself (AuditEvent) and OperationOutcomes are not patient data.
 */
export function shownResources(body: unknown): Resource[] {
  const out: Resource[] = [];
  const visit = (node: unknown, depth: number) => {
    if (!node || typeof node !== 'object' || depth > 8) return;
    // Served as stored text (repository/stored.ts): whose data it is comes with it.
    if (node instanceof StoredResource) return void out.push(node as unknown as Resource);
    const r = node as Resource;
    switch (r.resourceType) {
      case 'Bundle':
        for (const e of (r as Bundle).entry ?? []) visit(e.resource, depth + 1);
        return;
      case 'Parameters':
        for (const p of (r as Parameters).parameter ?? []) {
          visit(p.resource, depth + 1);
          for (const part of p.part ?? []) visit(part.resource, depth + 1);
        }
        return;
      case 'OperationOutcome':
      case 'AuditEvent':
        return;
      default:
        if (typeof r.resourceType === 'string') out.push(r);
    }
  };
  visit(body, 0);
  return out;
}

/** Patients of shown resources that their content does not name (a Binary's: binary-owners.ts). */
export type KnownOwners = ReadonlyMap<Resource, readonly string[]>;

/** The patients whose data a shown resource is: stored with it, looked up for it, or derived from its content. */
const compartmentsOf = (r: Resource, owners?: KnownOwners): readonly string[] =>
  r instanceof StoredResource ? r.compartments : (owners?.get(r) ?? patientCompartmentsOf(r));

const WRITES = new Set<RestInteraction>(['create', 'update', 'patch', 'delete']);

/** The REST interaction of a request below the FHIR base (a batch/transaction by its response type). */
export function interactionOf(req: Pick<AuditedRequest, 'method' | 'path'>, body?: unknown): RestInteraction {
  const parts = req.path.split('/').filter(Boolean);
  if (parts.length === 0 && req.method === 'POST') return (body as Bundle | undefined)?.type === 'transaction-response' ? 'transaction' : 'batch';
  if (parts.some((p) => p.startsWith('$'))) return 'operation';
  if (parts.includes('_history')) return parts.length === 4 ? 'vread' : 'history';
  switch (req.method) {
    case 'GET':
    case 'HEAD':
      return parts.length === 2 ? 'read' : 'search';
    case 'POST':
      return parts.at(-1) === '_search' ? 'search' : 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
    default:
      return 'operation';
  }
}

/**
 * The log rows of one response: one per patient whose data it shows. Writes log themselves inside
 * their transaction (write-log.ts), except a conditional create that matched (200): nothing was
 * written, and the existing resource is shown. Reading the log is not logged again, or every look
 * at the log would grow it.
 */
export function responseRows(facts: ActorFacts, req: AuditedRequest, body: unknown, status: number, now = new Date(), owners?: KnownOwners): AccessLogRow[] {
  const parts = req.path.split('/').filter(Boolean);
  if (parts[0] === 'AuditEvent' || (parts[0] === 'Patient' && parts[2] === 'AuditEvent')) return [];
  const interaction = interactionOf(req, body);
  let action = actionOf(interaction);
  let query: string | null = null;
  if (WRITES.has(interaction)) {
    if (!(interaction === 'create' && status === 200)) return [];
    action = 'R';
    query = req.ifNoneExist ?? null;
  }
  if (interaction === 'search' || interaction === 'history') query = req.query || null;

  const byPatient = new Map<string, string[]>();
  const touch = (pid: string, ref: string | null) => {
    const list = byPatient.get(pid) ?? [];
    if (ref && !list.includes(ref)) list.push(ref);
    byPatient.set(pid, list);
  };
  if (interaction === 'operation') {
    const op = parts.find((p) => p.startsWith('$'))!;
    query = req.query ? `${op}?${req.query}` : op;
    // An operation on a patient's own record ($deactivate, $reactivate, $everything) touches it,
    // whatever the answer shows.
    if (parts[0] === 'Patient' && parts.length === 3) touch(parts[1]!, `Patient/${parts[1]}`);
  }
  for (const r of shownResources(body)) for (const pid of compartmentsOf(r, owners)) touch(pid, `${r.resourceType}/${r.id}`);
  const askedForRecord = interaction === 'search' || interaction === 'history' || interaction === 'batch' || interaction === 'transaction';
  if (facts.contextPatientId && !byPatient.has(facts.contextPatientId) && askedForRecord) touch(facts.contextPatientId, null);

  const recorded = now.toISOString();
  return [...byPatient].map(([patientId, shown]) => ({
    recorded, patientId, actor: facts.actor, relation: facts.relation, level: facts.level, clientId: facts.clientId, clientName: facts.clientName,
    event: 'rest', interaction, action, shown, query, outcome: '0', grant: facts.grant, detail: null,
  }));
}
