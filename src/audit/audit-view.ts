/**
 * AuditEvent as a read-only view of the `access_log` table (issue 11 §1): read by id, and search by
 * patient, date, agent, entity, action, subtype, outcome and policy with `_sort`, paging and
 * `_summary=count`. The caller's access filters (policy row 17: the patient and system clients; the
 * token's compartment) are compiled into the same SQL, so a row the caller may not see is a row
 * that does not exist (access-spec §0.4). Nothing here writes.
 */
import type { AuditEvent, Bundle, BundleEntry, CapabilityStatementRestResource, OperationOutcome } from 'fhir/r4';
import type { AccessContext, AccessFilter, FilterExpr } from '../access/access-context.js';
import type { Queryable } from '../db/db.js';
import { badRequest, FhirError, notFound, operationOutcome, type Issue } from '../fhir/errors.js';
import { datePredicate, type CompileCtx } from '../fhir/search/compile.js';
import { parseQuery, type ParamNode } from '../fhir/search/parse.js';
import { auditEventFromRow, type ActingRelation, type AuditAction, type AuditOutcome, type StoredAccessLogRow } from './audit-event.js';

export const AUDIT_TYPE = 'AuditEvent';

export interface LogSearchOptions {
  fhirBase: string;
  defaultCount: number;
  maxCount: number;
  /** `Prefer: handling=strict`: an unknown parameter is an error instead of ignored. */
  strict: boolean;
  /** `GET Patient/{id}/AuditEvent`. */
  compartmentPatient?: string;
}

/** The search parameters of the view (R4 AuditEvent names), for the CapabilityStatement. */
export const LOG_SEARCH_PARAMS: ReadonlyArray<{ name: string; type: 'token' | 'reference' | 'date' | 'uri' }> = [
  { name: '_id', type: 'token' }, { name: 'patient', type: 'reference' }, { name: 'date', type: 'date' }, { name: 'agent', type: 'reference' },
  { name: 'entity', type: 'reference' }, { name: 'action', type: 'token' }, { name: 'subtype', type: 'token' }, { name: 'outcome', type: 'token' },
  { name: 'policy', type: 'uri' },
];

/**
 * `shown` comes as JSON text (issue 11): a search's row names every resource it showed, and the driver's
 * text[] parser walks such an array character by character in JavaScript, where JSON.parse is native.
 */
const COLUMNS = `l.seq, l.id, to_char(l.recorded AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS recorded, l.patient_id, l.actor, l.relation,
  l.level, l.client_id, l.client_name, l.event, l.interaction, l.action, array_to_json(l.shown)::text AS shown, l.query, l.outcome, l.grant_ref, l.detail`;
const CONTROL = new Set(['_count', '_sort', '_summary', '_total', '_offset', '_snapshot', '_format', '_pretty']);
const SUBTYPE_CODES: Record<string, string> = { 'search-type': 'search', 'search-system': 'search', 'search-compartment': 'search', 'history-instance': 'history', 'history-type': 'history', 'history-system': 'history' };

interface DbRow {
  seq: number | string; id: string; recorded: string; patient_id: string | null; actor: string | null; relation: string; level: string | null;
  client_id: string | null; client_name: string | null; event: string; interaction: string; action: string; shown: string | string[] | null;
  query: string | null; outcome: string; grant_ref: string | null; detail: string | null;
  [k: string]: unknown;
}

function fromDb(r: DbRow): StoredAccessLogRow {
  return {
    seq: Number(r.seq), id: r.id, recorded: r.recorded, patientId: r.patient_id, actor: r.actor, relation: r.relation as ActingRelation,
    level: r.level, clientId: r.client_id, clientName: r.client_name, event: r.event, interaction: r.interaction,
    action: r.action as AuditAction, shown: typeof r.shown === 'string' ? (JSON.parse(r.shown) as string[]) : (r.shown ?? []), query: r.query, outcome: r.outcome as AuditOutcome, grant: r.grant_ref, detail: r.detail,
  };
}

const bind = (params: unknown[], value: unknown): string => `$${params.push(value)}`;

/**
 * One patient is an equality, not `= ANY(array)`: with an equality on its leading column the
 * `access_log_patient (patient_id, recorded, seq)` index gives the rows in date order, so a page is
 * read from the index and stops after `_count` rows; with `= ANY` the planner reads all of the
 * patient's entries and sorts them (issue 11: a citizen's log grows with every look at the record).
 */
function patientIs(ids: readonly string[], params: unknown[]): string {
  return ids.length === 1 ? `l.patient_id = ${bind(params, ids[0])}::text` : `l.patient_id = ANY(${bind(params, [...ids])}::text[])`;
}

/** `GET AuditEvent/{id}`: the entry, if the caller may see it. */
export async function readLogEntry(q: Queryable, id: string, access: AccessContext): Promise<AuditEvent> {
  const params: unknown[] = [];
  const where = `l.id = ${bind(params, id)} AND ${logAccessPredicate(access.filters, params)}`;
  const rows = await q.query<DbRow>(`SELECT ${COLUMNS} FROM access_log l WHERE ${where}`, params);
  if (!rows[0]) throw notFound(`AuditEvent/${id} is not known`);
  return auditEventFromRow(fromDb(rows[0]));
}

/** `GET AuditEvent?…`: one statement for the page (and one more only when a total is asked for). */
export async function searchLog(q: Queryable, pairs: ReadonlyArray<readonly [string, string]>, access: AccessContext, opts: LogSearchOptions): Promise<Bundle> {
  const parsed = parseQuery(pairs);
  const control = (name: string) => parsed.control.get(name)?.[0];
  for (const name of parsed.control.keys()) if (!CONTROL.has(name)) throw badRequest(`${name} is not supported on AuditEvent`, name, 'not-supported');
  if (parsed.has.length > 0) throw badRequest('_has is not supported on AuditEvent', parsed.has[0]!.raw, 'not-supported');
  const count = Math.min(nonNegative(control('_count'), '_count') ?? opts.defaultCount, opts.maxCount);
  const offset = nonNegative(control('_offset'), '_offset') ?? 0;
  const snapshot = nonNegative(control('_snapshot'), '_snapshot');
  const summary = control('_summary');
  if (summary !== undefined && summary !== 'count' && summary !== 'false') throw badRequest(`_summary=${summary} is not supported on AuditEvent; use count or false`, '_summary', 'not-supported');
  const totalMode = control('_total') ?? 'none';
  if (!['none', 'estimate', 'accurate'].includes(totalMode)) throw badRequest(`_total must be none, estimate or accurate; got "${totalMode}"`, '_total');
  const sort = control('_sort') ?? '-date';
  if (sort !== 'date' && sort !== '-date') throw badRequest(`AuditEvent sorts by date or -date, not "${sort}"`, '_sort', 'not-supported');

  const params: unknown[] = [];
  const where: string[] = [];
  const warnings: Issue[] = [];
  const used: Array<[string, string]> = [];
  for (const node of parsed.params) {
    const bound = params.length;
    try {
      where.push(compileLogParam(node, params));
      for (const [k, v] of pairs) if (k === node.raw) used.push([k, v]);
    } catch (err) {
      params.length = bound;
      if (!(err instanceof FhirError) || opts.strict || !err.issues.some((i) => i.code === 'not-supported')) throw err;
      warnings.push({ severity: 'warning', code: 'not-supported', diagnostics: `Ignored: ${err.issues[0]!.diagnostics}`, expression: [node.raw] });
    }
  }
  if (opts.compartmentPatient !== undefined) where.push(`l.patient_id = ${bind(params, opts.compartmentPatient)}`);
  where.push(logAccessPredicate(access.filters, params));
  const whereSql = where.join(' AND ');

  let total: number | undefined;
  if (summary === 'count' || totalMode !== 'none') {
    const countParams = [...params];
    const pinned = snapshot !== undefined ? ` AND l.seq <= ${bind(countParams, snapshot)}` : '';
    const rows = await q.query<{ n: number | string }>(`SELECT count(*) AS n FROM access_log l WHERE ${whereSql}${pinned}`, countParams);
    total = Number(rows[0]!.n);
  }
  const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', ...(total !== undefined ? { total } : {}), link: [] };
  const path = opts.compartmentPatient !== undefined ? `Patient/${opts.compartmentPatient}/AuditEvent` : 'AuditEvent';
  const base = [...used, ...pairs.filter(([k]) => k === '_sort' || k === '_summary' || k === '_total')];
  const link = (off: number, snap: number | undefined) => {
    const sp = new URLSearchParams(base.map(([k, v]) => [k, v]));
    sp.set('_count', String(count));
    if (snap !== undefined) sp.set('_snapshot', String(snap));
    if (off > 0) sp.set('_offset', String(off));
    return `${opts.fhirBase}/${path}?${sp.toString()}`;
  };
  if (summary === 'count') {
    bundle.link = [{ relation: 'self', url: link(0, undefined) }];
  } else {
    // The snapshot pins the pages: entries logged while the caller pages (this search's own reads
    // included) do not shift them. It is read in the page query itself, not by a statement of its own.
    const pageParams = [...params];
    const snap = snapshot !== undefined ? `${bind(pageParams, snapshot)}::bigint` : '(SELECT max(seq) FROM access_log)';
    const dir = sort === '-date' ? 'DESC' : 'ASC';
    const rows = await q.query<DbRow & { snap: number | string | null }>(
      `SELECT ${COLUMNS}, ${snap} AS snap FROM access_log l WHERE ${whereSql} AND l.seq <= ${snap} ORDER BY l.recorded ${dir}, l.seq ${dir} LIMIT ${bind(pageParams, count + 1)} OFFSET ${bind(pageParams, offset)}`,
      pageParams,
      // Kept prepared (db.ts) when confined to patients' logs, as searches are (search/execute.ts).
      { prepare: opts.compartmentPatient !== undefined || access.filters.some((f) => f.kind === 'compartment') },
    );
    const pinned = rows[0]?.snap !== undefined && rows[0]?.snap !== null ? Number(rows[0].snap) : snapshot;
    const hasNext = count > 0 && rows.length > count;
    bundle.entry = rows.slice(0, count).map((r): BundleEntry => {
      const event = auditEventFromRow(fromDb(r));
      return { fullUrl: `${opts.fhirBase}/AuditEvent/${event.id}`, resource: event, search: { mode: 'match' } };
    });
    bundle.link = [{ relation: 'self', url: link(offset, offset > 0 || hasNext ? pinned : undefined) }];
    if (hasNext) bundle.link.push({ relation: 'next', url: link(offset + count, pinned) });
    if (offset > 0) bundle.link.push({ relation: 'previous', url: link(Math.max(0, offset - count), pinned) });
  }
  if (warnings.length > 0) (bundle.entry ??= []).push({ resource: operationOutcome(warnings) as OperationOutcome, search: { mode: 'outcome' } });
  if (bundle.entry?.length === 0) delete bundle.entry;
  return bundle;
}

function nonNegative(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,12}$/.test(value)) throw badRequest(`${name} must be a non-negative integer, got "${value}"`, name);
  return Number(value);
}

/** A reference value as `Type/id` (absolute URLs of this or another base reduced to their tail). */
function refValue(v: string): string {
  const m = /([A-Z][A-Za-z]+\/[^/?#]+)$/.exec(v);
  return m ? m[1]! : v;
}

/** One search parameter → a predicate over `access_log l`; comma values OR, repeated parameters AND. */
export function compileLogParam(node: ParamNode, params: unknown[]): string {
  const unsupported = () => badRequest(`Unknown search parameter "${node.raw}" for AuditEvent`, node.raw, 'not-supported');
  if (node.chain.length > 0) throw badRequest(`Chained search "${node.raw}" is not supported on AuditEvent`, node.raw, 'not-supported');
  const values = node.values.filter((v) => v !== '');
  if (values.length === 0) throw badRequest(`Search parameter "${node.raw}" has no value`, node.raw);
  const plain = (allowed: Array<string | undefined>) => {
    if (!allowed.includes(node.modifier)) throw badRequest(`Modifier ":${node.modifier}" is not supported for AuditEvent ${node.code}`, node.raw, 'not-supported');
  };
  const tokenCodes = () => values.map((v) => (v.includes('|') ? v.slice(v.lastIndexOf('|') + 1) : v));
  switch (node.code) {
    case '_id':
      plain([undefined]);
      return `l.id = ANY(${bind(params, values)}::text[])`;
    case 'patient': {
      plain([undefined, 'Patient']);
      const ids = values.map(refValue).map((v) => (v.startsWith('Patient/') ? v.slice('Patient/'.length) : v.includes('/') ? '' : v));
      return patientIs(ids, params);
    }
    case 'date': {
      plain([undefined]);
      const ctx: CompileCtx = { params, fhirBase: '', access: [], accessPredicate: () => 'TRUE', depth: 0 };
      return `(${values.map((v) => datePredicate('l.recorded', "l.recorded + interval '1 millisecond'", v, ctx, node.raw)).join(' OR ')})`;
    }
    case 'agent': {
      if (node.modifier === 'identifier') {
        const ids = values.map((v) => (v.includes('|') ? v.slice(v.indexOf('|') + 1) : v));
        return `l.client_id = ANY(${bind(params, ids)}::text[])`;
      }
      plain([undefined]);
      return `l.actor = ANY(${bind(params, values.map(refValue))}::text[])`;
    }
    case 'entity': {
      plain([undefined]);
      const refs = values.map(refValue);
      const patients = refs.filter((r) => r.startsWith('Patient/')).map((r) => r.slice('Patient/'.length));
      const shown = `l.shown && ${bind(params, refs)}::text[]`;
      return patients.length > 0 ? `(${shown} OR l.patient_id = ANY(${bind(params, patients)}::text[]))` : shown;
    }
    case 'action':
      plain([undefined]);
      return `l.action = ANY(${bind(params, tokenCodes().map((c) => c.toUpperCase()))}::text[])`;
    case 'subtype':
      plain([undefined]);
      // A non-REST row may hold several subtypes, space-separated (audit-event.ts).
      return `string_to_array(l.interaction, ' ') && ${bind(params, tokenCodes().map((c) => SUBTYPE_CODES[c] ?? c))}::text[]`;
    case 'outcome':
      plain([undefined]);
      return `l.outcome = ANY(${bind(params, tokenCodes())}::text[])`;
    case 'policy':
      plain([undefined]);
      return `l.grant_ref = ANY(${bind(params, values.map(refValue))}::text[])`;
    default:
      throw unsupported();
  }
}

/**
 * The access filters of the request over `access_log l`. Deny by default: a filter on AuditEvent
 * that cannot be expressed over the log's columns hides the whole log rather than widening it.
 */
export function logAccessPredicate(filters: readonly AccessFilter[], params: unknown[]): string {
  const parts: string[] = [];
  for (const f of filters) {
    switch (f.kind) {
      case 'types':
        if (!f.allowed.includes(AUDIT_TYPE) && !f.allowed.includes('*')) return 'FALSE';
        break;
      case 'hide-type':
        if (f.resourceType === AUDIT_TYPE) return 'FALSE';
        break;
      case 'compartment':
        parts.push(patientIs(f.patientIds, params));
        break;
      case 'query':
      case 'predicate': {
        if (f.resourceType !== AUDIT_TYPE) break;
        const mark = params.length;
        try {
          parts.push(f.kind === 'query' ? compileQuery(f.query, params) : compileExpr(f.expr, params));
        } catch (err) {
          if (!(err instanceof FhirError)) throw err;
          params.length = mark;
          return 'FALSE';
        }
        break;
      }
    }
  }
  return parts.length === 0 ? 'TRUE' : parts.join(' AND ');
}

function compileQuery(query: string, params: unknown[]): string {
  const parsed = parseQuery([...new URLSearchParams(query)]);
  if (parsed.control.size > 0 || parsed.has.length > 0) throw badRequest(`access filter "${query}" cannot be applied to the access log`, 'filter');
  const preds = parsed.params.map((p) => compileLogParam(p, params));
  return preds.length === 0 ? 'TRUE' : `(${preds.join(' AND ')})`;
}

function compileExpr(expr: FilterExpr, params: unknown[]): string {
  if (expr === true) return 'TRUE';
  if (expr === false) return 'FALSE';
  if ('query' in expr) return compileQuery(expr.query, params);
  if ('not' in expr) return `NOT (${compileExpr(expr.not, params)})`;
  const list = 'and' in expr ? expr.and : expr.or;
  if (list.length === 0) return 'and' in expr ? 'TRUE' : 'FALSE';
  return `(${list.map((e) => compileExpr(e, params)).join('and' in expr ? ' AND ' : ' OR ')})`;
}

/** What the CapabilityStatement says of AuditEvent: read-only, searched by the view's parameters. */
export function auditEventCapability(): CapabilityStatementRestResource {
  return {
    type: 'AuditEvent',
    documentation: 'The access log (S23): written by the server only, one entry per patient per access. Read-only.',
    interaction: [{ code: 'read' }, { code: 'vread' }, { code: 'history-instance' }, { code: 'search-type' }],
    versioning: 'no-version',
    readHistory: false,
    updateCreate: false,
    conditionalCreate: false,
    conditionalUpdate: false,
    conditionalDelete: 'not-supported',
    searchParam: LOG_SEARCH_PARAMS.map((p) => ({ name: p.name, type: p.type })),
  };
}
