/**
 * Runs a search: compile → count (per `_total`) → one page (`LIMIT count+1` tells whether a next
 * page exists) → `_include`/`_revinclude` for the page → searchset Bundle. Every query, including
 * includes, carries the access predicate. Paging links pin a snapshot (`_snapshot` = the highest
 * history sequence number when the first page ran), so resources written meanwhile do not shift pages.
 */
import type { Bundle, BundleEntry, OperationOutcome, Resource } from 'fhir/r4';
import type { AccessContext, LivenessGuard } from '../../access/access-context.js';
import type { Queryable } from '../../db/db.js';
import { FhirError, badRequest, operationOutcome, type Issue } from '../errors.js';
import { isResourceType, patientCompartmentParams, searchParam } from '../definitions/registry.js';
import { settleLiveness } from '../repository/reads.js';
import { resourceFromRow, type ResourceRow } from '../repository/rows.js';
import { StoredResource, storedColumns, type StoredRow } from '../repository/stored.js';
import { accessPredicateFor } from './access-sql.js';
import { bind, compileParam, hasPredicate, withStableAliases, type CompileCtx } from './compile.js';
import { dateWindowPredicate, groupDateWindows } from './date-window.js';
import { loadIncludes } from './includes.js';
import { parseQuery, type ParsedQuery } from './parse.js';
import { parseSummary, shapeResource } from './shape.js';
import { compileSort } from './sort.js';

/** The order of a search without `_sort` (sort.ts), over columns of `resources` alone. */
const DEFAULT_SORT = compileSort(undefined, 'Resource', { params: [], fhirBase: '', access: [], accessPredicate: () => 'TRUE', depth: 0 });
/** The same order over the collected matches `m`, which keep those columns (`mSorted` below). */
const DEFAULT_SORT_OVER_M = DEFAULT_SORT.replaceAll('r.', 'm.');

/** Up to this many matches (known from the count) a page is sorted from the collected matches. */
const COLLECT_FIRST_BELOW = 2000;

export interface SearchRequest {
  resourceType: string | null;
  params: Array<[string, string]>;
  access: AccessContext;
  fhirBase: string;
  strict: boolean;
  compartment?: { resourceType: 'Patient'; id: string };
  defaultCount: number;
  maxCount: number;
  /**
   * The Bundle goes straight to the HTTP response (sendJson): its matches may be StoredResource text
   * instead of objects. Callers that read the entries (terms, batch entries, export) leave it unset.
   */
  storedText?: boolean;
  /**
   * A refusal of the request by its access context (search-guard.ts), judged before anything is read:
   * with a context whose grant check rides in the search's statement, only after that check (below).
   */
  before?: (access: AccessContext) => void;
}

/** A row of the search statement: the snapshot and count (on every row), then a match's columns (NULL when none). */
type SearchRow = { search_snapshot: number | string | null; search_count: number | string | null; search_live?: number | string | null; id: string | null } & Record<string, unknown>;

/** `live`: the token's access version while its grant is live (NULL otherwise), and whether it is the one the context was decided under. */
function liveCte(guard: LivenessGuard, params: unknown[]): string {
  const version = guard.sql(params);
  params.push(guard.version);
  // OFFSET 0 keeps `x` a subquery of its own: pulled up, its grant check ran once for `v` and again for `ok`.
  return `live AS MATERIALIZED (SELECT x.v, x.v = $${params.length} AS ok FROM (SELECT ${version} AS v OFFSET 0) x)`;
}

/**
 * When the context carries the grant check (access-context.ts `liveness`: the token's previous request
 * was fully checked, auth/resource-server.ts), the search's one statement also answers "is the grant
 * still live, under which access version?" and reads no row unless the version is the one the context
 * was decided under (issue 11 §2: one round trip instead of two, as for a read by id). The guard then
 * confirms, refuses (401), or hands a context decided afresh, under which the search runs again. A
 * refusal raised before that statement ran (a bad parameter, another patient named) is given only
 * once the grant has been checked alone: an ended token gets its 401 first, and a changed access fact
 * is decided afresh before anything is refused.
 */
export async function executeSearch(q: Queryable, req: SearchRequest): Promise<Bundle> {
  const guard = req.access.liveness;
  if (!guard) return searchOnce(q, req, null);
  let settled = false;
  const settle = (version: number | null): Promise<AccessContext | null> => {
    settled = true;
    return guard.settle(version);
  };
  try {
    return await searchOnce(q, req, settle);
  } catch (err) {
    if (settled || !(err instanceof FhirError)) throw err;
    const decided = await settleLiveness(q, guard);
    if (decided) return executeSearch(q, { ...req, access: decided });
    throw err;
  }
}

async function searchOnce(q: Queryable, req: SearchRequest, settle: ((version: number | null) => Promise<AccessContext | null>) | null): Promise<Bundle> {
  req.before?.(req.access);
  const parsed = parseQuery(req.params);
  const control = (name: string) => parsed.control.get(name)?.[0];
  const types = searchTypes(req, control('_type'));
  const count = parseCount(control('_count'), req);
  const offset = parseNonNegative(control('_offset'), '_offset') ?? 0;
  const summary = parseSummary(control('_summary'));
  const totalMode = control('_total') ?? 'none';
  if (!['none', 'estimate', 'accurate'].includes(totalMode)) throw badRequest(`_total must be none, estimate or accurate; got "${totalMode}"`, '_total');
  const elements = control('_elements')?.split(',').map((e) => e.trim()).filter(Boolean);

  const params: unknown[] = [];
  const ctx: CompileCtx = { params, fhirBase: req.fhirBase, access: req.access.filters, accessPredicate: accessPredicateFor, depth: 0 };
  const warnings: Issue[] = [];
  const where: string[] = ['NOT r.deleted'];
  where.push(types.length === 1 ? `r.resource_type = ${bind(ctx, types[0])}` : `r.resource_type = ANY(${bind(ctx, types)}::text[])`);
  const typeForParams = types.length === 1 ? types[0]! : 'Resource';
  // Aliases numbered from 1 (compile.ts): the same query shape always gives the same SQL text, which
  // PostgreSQL can keep prepared (below). The access predicate numbers its own from 1 too; its
  // subqueries and the criteria's are siblings over `r`, never nested in each other.
  withStableAliases(() => {
    compileCriteria(parsed, typeForParams, types, ctx, req.strict, where, warnings);
    if (req.compartment) where.push(compartmentPredicate(types, req.compartment.id, ctx));
    where.push(accessPredicateFor(types.length === 1 ? types[0]! : '*', 'r', ctx));
  });

  // A later page pins the snapshot its first page saw (Paging, docs/search.md). A first page needs no
  // bound: it reads in one statement, and the statement's own MVCC snapshot shows no resource row whose
  // seq is above the highest history seq it sees, which the same statement returns as the snapshot.
  const pinned = parseNonNegative(control('_snapshot'), '_snapshot');
  if (pinned !== undefined) where.push(`r.seq <= ${bind(ctx, pinned)}`);
  // The sort binds its parameters into the page query only: the count alone must not carry
  // parameters it does not reference (a bind/prepare mismatch on PGlite, untypable on PostgreSQL).
  const pageParams = [...params];
  const sort = compileSort(control('_sort'), typeForParams, { ...ctx, params: pageParams });
  const whereSql = where.join(' AND ');
  // Gated on the grant check the statement carries (`live`, below): no row is read unless it passed.
  const firstWhere = settle ? `(SELECT live.ok FROM live) AND ${whereSql}` : whereSql;

  // What is counted (docs/search.md, "Totals"): everything for _total=accurate and _summary=count;
  // nothing when _total=none was asked (the page walks the sort order); otherwise up to
  // COLLECT_FIRST_BELOW + 1, which bounds the work and says whether the matches are few. The count is
  // judged on the same access-filtered WHERE as the page (whereSql), so a total never counts what the
  // caller may not see.
  const mode = summary === 'count' ? 'accurate' : totalMode;
  const counted = !(control('_total') === 'none' && mode !== 'accurate');
  const countSql = mode === 'accurate'
    ? `SELECT count(*) AS n FROM resources r WHERE ${firstWhere}`
    : `SELECT count(*) AS n FROM (SELECT 1 FROM resources r WHERE ${firstWhere} LIMIT ${COLLECT_FIRST_BELOW + 1}) m`;
  const wantPage = summary !== 'count' && count > 0;
  // Entries as stored text (repository/stored.ts) when the caller sends the Bundle as JSON and nothing
  // reshapes or follows the matches (_summary, _elements, _include, _revinclude need the objects).
  const asText = req.storedText === true && summary === undefined && elements === undefined && !parsed.control.has('_include') && !parsed.control.has('_revinclude');
  const columns = asText ? storedColumns('r') : 'r.resource_type, r.id, r.version_id, r.last_updated, r.deleted, r.content, r.seq';
  const limits = (list: unknown[]) => `LIMIT $${list.push(count + 1)} OFFSET $${list.push(offset)}`;
  // Issue 11: snapshot, count and page in ONE statement (each was a round trip of its own). For
  // ORDER BY … LIMIT PostgreSQL likes to walk the last_updated index backwards and test each row,
  // which visits the whole table when the matches are few or old (docs/bench.md); so when the count
  // says they are few, they are collected first (OFFSET 0 keeps the subquery from being merged into the
  // outer query) and only those are sorted. That page is gated on the count (a one-time filter: not
  // run at all when the matches are many). Many matches are dense and read by walking the sort order,
  // which stops after one page: without a count that walk is this statement's page, after a count
  // that found many it is a second statement (below).
  // The bounded count (the default) reads the matches' seqs once into `m` and counts and pages from
  // there: the WHERE (criteria and the access predicate) appears once in the statement instead of
  // twice, which halves what the database parses and plans per search (on PGlite, in-process, planning
  // was most of a search's CPU). The page joins `m` back to `resources` by seq (unique index).
  const once = counted && mode !== 'accurate';
  // Sorted by what `m` already holds (the default order, sort.ts): `m` keeps those columns and the
  // page is chosen from `m` alone, without looking each collected match up in `resources` again.
  const mSorted = once && sort === DEFAULT_SORT;
  const statementParams = wantPage ? [...pageParams] : [...params];
  // A collected page is chosen by seq first and only its rows are read out (`pageOf`): PostgreSQL
  // computes a Sort's input columns for every row it sorts, so selecting the columns in the sorted
  // query built the response text (`content - 'meta' …`::text, storedColumns) of every match, ~100
  // for a compartment of 100 readings, to keep 20 — most of the statement's time (docs/bench.md, w8-search).
  const pageOf = (chosen: string) => `SELECT ${columns} FROM resources r JOIN (${chosen}) pg ON pg.seq = r.seq ORDER BY ${sort}`;
  const page = !wantPage ? null
    : mSorted ? pageOf(`SELECT m.seq FROM m WHERE (SELECT n FROM c) <= ${COLLECT_FIRST_BELOW} ORDER BY ${DEFAULT_SORT_OVER_M} ${limits(statementParams)}`)
    : once ? pageOf(`SELECT r.seq FROM resources r WHERE r.seq IN (SELECT m.seq FROM m) AND (SELECT n FROM c) <= ${COLLECT_FIRST_BELOW} ORDER BY ${sort} ${limits(statementParams)}`)
      : counted ? pageOf(`SELECT r.seq FROM (SELECT r.* FROM resources r WHERE ${firstWhere} AND (SELECT n FROM c) <= ${COLLECT_FIRST_BELOW} OFFSET 0) r ORDER BY ${sort} ${limits(statementParams)}`)
        : `SELECT ${columns} FROM resources r WHERE ${firstWhere} ORDER BY ${sort} ${limits(statementParams)}`;
  const snapshotColumn = pinned === undefined ? '(SELECT max(seq) FROM resource_history)' : 'NULL::bigint';
  const head = `SELECT ${snapshotColumn} AS search_snapshot, ${counted ? '(SELECT n FROM c)' : 'NULL::bigint'} AS search_count${settle ? ', (SELECT live.v FROM live) AS search_live' : ''}`;
  const ctes = [
    // The grant check, bound last (its values follow every other parameter of the statement).
    ...(settle && req.access.liveness ? [liveCte(req.access.liveness, statementParams)] : []),
    ...(!counted ? []
      : once ? [`m AS MATERIALIZED (SELECT r.seq${mSorted ? ', r.last_updated, r.id' : ''} FROM resources r WHERE ${firstWhere} LIMIT ${COLLECT_FIRST_BELOW + 1})`, 'c AS MATERIALIZED (SELECT count(*) AS n FROM m)']
        : [`c AS MATERIALIZED (${countSql})`]),
  ];
  const text = `${ctes.length > 0 ? `WITH ${ctes.join(', ')} ` : ''}SELECT s.search_snapshot, s.search_count${settle ? ', s.search_live' : ''}${page ? ', p.*' : ''} FROM (${head}) s${page ? ` LEFT JOIN (${page}) p ON TRUE` : ''}`;
  // The one-row `s` is the outer side of a nested loop without a join condition, so the page keeps its order.
  // Prepared on PostgreSQL (planned once per connection, then a generic plan) only for a compartment
  // search, whose one index path (the patient's reference rows) anchors the plan whatever the values
  // are. A type search by a token confined to patient compartments is planned with its values there:
  // the generic plan PostgreSQL settled on for `Observation?patient=…&code=…` cost 7–9 ms of database
  // CPU per search against 3.4–4.4 ms planned each time (docs/bench.md, w8-search). On PGlite it stays
  // prepared: there planning is the server's own CPU (db/pglite-prepared.ts).
  const confined = req.access.filters.some((f) => f.kind === 'compartment');
  const prepare = req.compartment !== undefined ? true : confined ? 'in-process' as const : false;
  const result = await q.query<SearchRow>(text, statementParams, { prepare });
  const first = result[0]!;
  if (settle) {
    const decided = await settle(first.search_live === null || first.search_live === undefined ? null : Number(first.search_live));
    // An access fact changed since the context was decided: nothing read under it is used.
    if (decided) return executeSearch(q, { ...req, access: decided });
  }
  const snapshot = pinned ?? Number(first.search_snapshot ?? 0);
  const n = counted ? Number(first.search_count) : undefined;
  let total: number | undefined;
  if (n !== undefined && (mode === 'accurate' || n <= COLLECT_FIRST_BELOW)) total = n;
  else if (n !== undefined && mode === 'estimate') {
    const plan = await q.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (FORMAT JSON) SELECT 1 FROM resources r WHERE ${whereSql}`, params);
    const raw = plan[0]?.['QUERY PLAN'];
    const plans = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Array<{ Plan?: { 'Plan Rows'?: number } }>;
    // Never below what was seen: more than COLLECT_FIRST_BELOW matched.
    total = Math.max(Math.round(plans[0]?.Plan?.['Plan Rows'] ?? 0), COLLECT_FIRST_BELOW + 1);
  }
  const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', ...(total !== undefined ? { total } : {}), link: [], entry: [] };
  if (wantPage) {
    let rows: Array<ResourceRow & Record<string, unknown>> = result.filter((r) => r.id !== null) as unknown as Array<ResourceRow & Record<string, unknown>>;
    if (n !== undefined && n > COLLECT_FIRST_BELOW) {
      // Many matches: walk the sort order, bounded by the snapshot the statement above returned.
      const walkParams = [...pageParams];
      const bound = pinned === undefined ? ` AND r.seq <= $${walkParams.push(snapshot)}` : '';
      rows = await q.query<ResourceRow & Record<string, unknown>>(`SELECT ${columns} FROM resources r WHERE ${whereSql}${bound} ORDER BY ${sort} ${limits(walkParams)}`, walkParams);
    }
    if (asText) {
      // Issue 11 §3: nothing reshapes the matches, so they go out as the stored text.
      bundle.entry = (rows as unknown as StoredRow[]).slice(0, count).map((r) => ({ fullUrl: `${req.fhirBase}/${r.resource_type}/${r.id}`, resource: new StoredResource(r) as unknown as Resource, search: { mode: 'match' } }));
    } else {
      const matches = rows.slice(0, count).map((r) => resourceFromRow(r));
      bundle.entry = matches.map((r) => entry(r, 'match', req.fhirBase, summary, elements));
      const included = await loadIncludes(q, matches, parsed, req);
      bundle.entry.push(...included.map((r) => entry(r, 'include', req.fhirBase, summary, elements)));
    }
    bundle.link = links(req, snapshot, offset, count, rows.length > count);
  } else {
    bundle.link = links(req, snapshot, 0, count, false);
  }
  if (warnings.length > 0) bundle.entry!.push({ resource: operationOutcome(warnings.map((w) => ({ ...w, severity: 'warning' }))) as OperationOutcome, search: { mode: 'outcome' } });
  if (bundle.entry!.length === 0) delete bundle.entry;
  return bundle;
}

function compileCriteria(parsed: ParsedQuery, type: string, types: string[], ctx: CompileCtx, strict: boolean, where: string[], warnings: Issue[]): void {
  const attempt = (raw: string, fn: () => string) => {
    const bound = ctx.params.length;
    try {
      where.push(fn());
    } catch (err) {
      // Drop what the failed parameter bound: PostgreSQL rejects parameters the SQL never uses.
      ctx.params.length = bound;
      // Lenient handling (the default) ignores a parameter it cannot use and says so in the Bundle.
      if (!(err instanceof FhirError) || strict || err.status !== 400 || !isUnknownParam(err)) throw err;
      warnings.push({ code: 'not-supported', diagnostics: `Ignored: ${err.issues[0]!.diagnostics}`, expression: [raw] });
    }
  };
  // The date parameters of one code that form a window compile together (date-window.ts, issue 11 §6).
  for (const p of types.length === 1 ? groupDateWindows(type, parsed.params) : parsed.params) {
    if (Array.isArray(p)) {
      attempt(p[0]!.raw, () => dateWindowPredicate(type, p, 'r', ctx));
      continue;
    }
    if (types.length > 1 && !['_id', '_lastUpdated', '_tag', '_profile', '_security', '_source', '_text', '_content'].includes(p.code)) {
      // Applied to the types that define the parameter; resources of the other types cannot match it.
      const known = types.filter((t) => searchParam(t, p.code));
      attempt(p.raw, () => {
        if (known.length === 0) throw badRequest(`Unknown search parameter "${p.code}" for ${types.slice(0, 5).join(', ')}${types.length > 5 ? ', …' : ''}`, p.raw, 'not-supported');
        return `(${known.map((t) => `(r.resource_type = ${bind(ctx, t)} AND ${compileParam(t, p, 'r', ctx)})`).join(' OR ')})`;
      });
    } else attempt(p.raw, () => compileParam(type, p, 'r', ctx));
  }
  for (const h of parsed.has) attempt(h.raw, () => hasPredicate(type, h.raw, h.value, 'r', ctx));
}

function isUnknownParam(err: FhirError): boolean {
  return err.issues.some((i) => i.code === 'not-supported');
}

function searchTypes(req: SearchRequest, typeParam: string | undefined): string[] {
  if (req.resourceType) return [req.resourceType];
  if (typeParam) {
    const types = typeParam.split(',').map((t) => t.trim());
    for (const t of types) if (!isResourceType(t)) throw badRequest(`_type names an unknown resource type "${t}"`, '_type');
    return types;
  }
  if (req.compartment) return [...new Set(['Patient', ...allCompartmentTypes()])];
  throw badRequest('A system-level search needs _type', '_type');
}

function allCompartmentTypes(): string[] {
  return COMPARTMENT_TYPES;
}
import { PATIENT_SCOPED_TYPES } from './compartments.js';
const COMPARTMENT_TYPES = PATIENT_SCOPED_TYPES;

/** `GET Patient/{id}/{type}`: membership by the full Patient CompartmentDefinition. */
function compartmentPredicate(types: string[], patientId: string, ctx: CompileCtx): string {
  const ors = types.map((t) => {
    if (t === 'Patient') return `(r.resource_type = 'Patient' AND r.id = ${bind(ctx, patientId)})`;
    const codes = patientCompartmentParams(t);
    if (codes.length === 0) return null;
    return `(r.resource_type = ${bind(ctx, t)} AND r.seq IN (SELECT cr.seq FROM sp_reference cr WHERE cr.resource_type = ${bind(ctx, t)} AND cr.code = ANY(${bind(ctx, [...codes])}::text[]) AND cr.target_type = 'Patient' AND cr.target_id = ${bind(ctx, patientId)}))`;
  });
  const valid = ors.filter((o): o is string => o !== null);
  return valid.length === 0 ? 'FALSE' : `(${valid.join(' OR ')})`;
}

function parseCount(value: string | undefined, req: SearchRequest): number {
  if (value === undefined) return req.defaultCount;
  const n = parseNonNegative(value, '_count')!;
  return Math.min(n, req.maxCount);
}

function parseNonNegative(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,12}$/.test(value)) throw badRequest(`${name} must be a non-negative integer, got "${value}"`, name);
  return Number(value);
}

function entry(resource: Resource, mode: 'match' | 'include', fhirBase: string, summary: ReturnType<typeof parseSummary>, elements: string[] | undefined): BundleEntry {
  return { fullUrl: `${fhirBase}/${resource.resourceType}/${resource.id}`, resource: shapeResource(resource, summary, mode === 'match' ? elements : undefined), search: { mode } };
}

function links(req: SearchRequest, snapshot: number, offset: number, count: number, hasNext: boolean): NonNullable<Bundle['link']> {
  const path = req.compartment ? `Patient/${req.compartment.id}/${req.resourceType ?? '*'}` : req.resourceType ?? '';
  // The query is encoded once; the paging parameters (digits only, nothing to encode) follow it.
  const base = new URLSearchParams(req.params.filter(([k]) => !['_offset', '_snapshot', '_count'].includes(k))).toString();
  const prefix = `${req.fhirBase}/${path}?${base}${base ? '&' : ''}_count=${count}`;
  const url = (off: number) => `${prefix}${off > 0 || hasNext ? `&_snapshot=${snapshot}` : ''}${off > 0 ? `&_offset=${off}` : ''}`;
  const out: NonNullable<Bundle['link']> = [{ relation: 'self', url: url(offset) }];
  if (hasNext) out.push({ relation: 'next', url: url(offset + count) });
  if (offset > 0) out.push({ relation: 'previous', url: url(Math.max(0, offset - count)) });
  return out;
}
