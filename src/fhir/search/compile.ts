/**
 * Search AST → parameterised SQL predicates over an alias of `resources` (current versions) or of
 * `resource_history` (one version, for vread and _history). Each parameter becomes
 * `alias.seq IN (SELECT seq FROM sp_<type> WHERE resource_type = … AND code = … AND …)`, an index
 * range scan: index rows belong to the version they were extracted from (006-per-version-index.sql),
 * so the same predicate judges a current resource or any stored version by its own content. OR
 * values are ORed inside, repeated parameters ANDed outside. Values are always bound parameters.
 * Chains and `_has` nest the same construction over current resources and carry the access filters.
 */
import type { AccessFilter } from '../../access/access-context.js';
import { badRequest } from '../errors.js';
import { isResourceType, searchParam, searchParamByUrl, type SearchParamDef } from '../definitions/registry.js';
import { dateRange, normalizeString } from './normalize.js';
import { rowCodes } from './row-sources.js';
import { splitPrefix, splitValues, type ParamNode } from './parse.js';

export interface CompileCtx {
  params: unknown[];
  fhirBase: string;
  /** Access filters applied to every resource a chain or `_has` reaches. */
  access: readonly AccessFilter[];
  /** Applies the access filters to an alias (provided by access-sql to avoid a cycle). */
  accessPredicate: (type: string, alias: string, ctx: CompileCtx) => string;
  depth: number;
  /**
   * Set for the access policy's slice queries (access-sql.ts): a parameter then compiles to a
   * correlated `EXISTS (… WHERE i.seq = alias.seq …)` instead of `alias.seq IN (…)`. Inside the OR of
   * a policy's slices PostgreSQL cannot turn an IN into a join and ran it as a hashed subplan over
   * every matching index row — for "performer=Patient/x" all of a citizen's device readings, on
   * every single-row read (issue 11). An EXISTS lets the planner choose a probe of the (seq, code)
   * index per row for a read and the hashed form for a search over many rows.
   */
  correlate?: boolean;
}

export const bind = (ctx: CompileCtx, value: unknown): string => {
  ctx.params.push(value);
  return `$${ctx.params.length}`;
};

let aliasCounter = 0;
let stable: { n: number } | null = null;
/**
 * A fresh table alias. Normally numbered by a process-wide counter; inside `withStableAliases` from 1
 * with an `s` after the prefix, a namespace the counter's aliases never use.
 */
export const nextAlias = (prefix: string): string => (stable ? `${prefix}s${++stable.n}` : `${prefix}${++aliasCounter % 1_000_000}`);

/**
 * Runs a (synchronous) compilation whose aliases are numbered from 1, so the same input always gives
 * the same text: the access predicate that access-sql.ts caches, and so the prepared read statement
 * that embeds it (db.ts `prepare`), keep one text instead of a new one per compilation.
 */
export function withStableAliases<T>(fn: () => T): T {
  const outer = stable;
  stable = { n: 0 };
  try {
    return fn();
  } finally {
    stable = outer;
  }
}

export function compileParam(type: string, node: ParamNode, alias: string, ctx: CompileCtx): string {
  if (node.code === '_id' && node.chain.length === 0) {
    if (node.modifier === 'missing') return node.values[0] === 'true' ? 'FALSE' : 'TRUE';
    return `${alias}.id = ANY(${bind(ctx, node.values)}::text[])`;
  }
  if (node.code === '_lastUpdated') return `(${node.values.map((v) => datePredicate(`${alias}.last_updated`, `${alias}.last_updated + interval '1 millisecond'`, v, ctx, node.raw)).join(' OR ')})`;
  if (node.code === '_text' || node.code === '_content') {
    // Plain full text over the stored JSON (narrative and strings): enough for R4's optional _text/_content.
    return `(${node.values.map((v) => `${alias}.content::text ILIKE ${bind(ctx, `%${escapeLike(v)}%`)}`).join(' OR ')})`;
  }
  const def = searchParam(type, node.code);
  if (!def || def.type === 'special' || (!def.expression && def.type !== 'composite')) throw badRequest(`Unknown search parameter "${node.code}" for ${type}`, node.raw, 'not-supported');
  if (node.modifier === 'missing') return missingPredicate(type, def, node, alias, ctx);
  if (def.type === 'reference' && node.chain.length > 0) return chainPredicate(type, def, node, alias, ctx);
  if (node.chain.length > 0) throw badRequest(`Only reference parameters can be chained; "${node.raw}" is a ${def.type}`, node.raw);
  if (def.type === 'composite') return compositePredicate(type, def, node, alias, ctx);
  const table = tableFor(def);
  const sub = nextAlias('i');
  const ors = node.values.map((v) => valuePredicate(def, node, v, sub, ctx));
  const codes = rowCodes(type, def.code).map((c) => (codeFor(def, node) === def.code ? c : `${c}:of-type`));
  return member(alias, sub, `${table} ${sub}`, `${sub}.resource_type = ${bind(ctx, type)} AND ${codeIs(`${sub}.code`, codes, ctx)} AND (${ors.join(' OR ')})`, node.modifier === 'not', ctx);
}

/** "`alias` has an index row `sub` in `from` meeting `where`" (or has none), as IN or as a correlated EXISTS (see `correlate`). */
function member(alias: string, sub: string, from: string, where: string, negate: boolean, ctx: CompileCtx): string {
  if (ctx.correlate) return `${negate ? 'NOT ' : ''}EXISTS (SELECT 1 FROM ${from} WHERE ${sub}.seq = ${alias}.seq AND ${where})`;
  return `${alias}.seq ${negate ? 'NOT IN' : 'IN'} (SELECT ${sub}.seq FROM ${from} WHERE ${where})`;
}

/**
 * `column = code`, or `column = ANY(codes)` for a parameter whose rows live under its sources too
 * (row-sources.ts); every other parameter keeps its one-code predicate and so its plan.
 */
export function codeIs(column: string, codes: readonly string[], ctx: CompileCtx): string {
  return codes.length === 1 ? `${column} = ${bind(ctx, codes[0])}` : `${column} = ANY(${bind(ctx, codes)}::text[])`;
}

function tableFor(def: SearchParamDef): string {
  const table = { token: 'sp_token', string: 'sp_string', reference: 'sp_reference', date: 'sp_date', number: 'sp_number', quantity: 'sp_quantity', uri: 'sp_uri' }[def.type as string];
  if (!table) throw badRequest(`Search parameter "${def.code}" of type ${def.type} is not supported`, def.code, 'not-supported');
  return table;
}

function codeFor(def: SearchParamDef, node: ParamNode): string {
  return def.type === 'token' && node.modifier === 'of-type' ? `${def.code}:of-type` : def.code;
}

function missingPredicate(type: string, def: SearchParamDef, node: ParamNode, alias: string, ctx: CompileCtx): string {
  const v = node.values[0];
  if (v !== 'true' && v !== 'false') throw badRequest(`${node.raw} takes true or false`, node.raw);
  const sub = nextAlias('m');
  // A composite is present when its first component is (its rows live under `<code>$0`).
  const [table, codes] = def.type === 'composite' ? [tableFor(componentDefs(def, node)[0]!), [`${def.code}$0`]] : [tableFor(def), rowCodes(type, def.code)];
  return member(alias, sub, `${table} ${sub}`, `${sub}.resource_type = ${bind(ctx, type)} AND ${codeIs(`${sub}.code`, codes, ctx)}`, v === 'true', ctx);
}

function valuePredicate(def: SearchParamDef, node: ParamNode, escaped: string, t: string, ctx: CompileCtx): string {
  if (escaped === '') throw badRequest(`Search parameter "${node.raw}" has an empty value`, node.raw);
  const value = escaped.replace(/\\\$/g, '$');
  switch (def.type) {
    case 'token':
      return tokenPredicate(node, value, t, ctx);
    case 'string':
      if (node.modifier === 'exact') return `${t}.value = ${bind(ctx, value)}`;
      if (node.modifier === 'contains') return `${t}.norm LIKE ${bind(ctx, `%${escapeLike(normalizeString(value))}%`)}`;
      if (node.modifier) throw badRequest(`Modifier ":${node.modifier}" is not valid on string parameter "${node.code}"`, node.raw);
      return `${t}.norm LIKE ${bind(ctx, `${escapeLike(normalizeString(value))}%`)}`;
    case 'reference':
      return referencePredicate(def, node, value, t, ctx);
    case 'date':
      return datePredicate(`${t}.low`, `${t}.high`, value, ctx, node.raw);
    case 'number':
      return numberPredicate(`${t}.value`, value, ctx, node.raw);
    case 'quantity': {
      const [num, system, code] = splitPipes(value, 3);
      const parts = [numberPredicate(`${t}.value`, num!, ctx, node.raw)];
      if (system) parts.push(`${t}.system = ${bind(ctx, system)}`);
      if (code) parts.push(`${t}.unit = ${bind(ctx, code)}`);
      return `(${parts.join(' AND ')})`;
    }
    case 'uri':
      if (node.modifier === 'below') return `${t}.value LIKE ${bind(ctx, `${escapeLike(value)}%`)}`;
      if (node.modifier === 'above') return `${bind(ctx, value)} LIKE (${t}.value || '%')`;
      return `${t}.value = ${bind(ctx, value)}`;
    default:
      throw badRequest(`Search parameter "${node.code}" of type ${def.type} is not supported`, node.raw, 'not-supported');
  }
}

/**
 * `code-value-quantity=http://loinc.org|8480-6$gt140`: each `$`-separated part is compiled by its
 * component's own type on that component's rows, and all parts must hit rows of the same element
 * (same `element` ordinal, see 004-composite.sql). See: https://hl7.org/fhir/R4/search.html#composite
 */
function compositePredicate(type: string, def: SearchParamDef, node: ParamNode, alias: string, ctx: CompileCtx): string {
  if (node.modifier) throw badRequest(`Modifier ":${node.modifier}" is not supported on composite parameter "${node.code}"`, node.raw, 'not-supported');
  const components = componentDefs(def, node);
  const tables = components.map((c) => tableFor(c));
  const aliases = components.map(() => nextAlias('k'));
  const ors = node.values.map((value) => {
    const parts = value.split(/(?<!\\)\$/);
    if (parts.length !== components.length) throw badRequest(`"${value}" is not ${components.map((c) => c.type).join('$')} for composite parameter "${node.code}"`, node.raw);
    const plain = { ...node, modifier: undefined };
    return `(${parts.map((part, k) => {
      return valuePredicate(components[k]!, plain, part, aliases[k]!, ctx);
    }).join(' AND ')})`;
  });
  const [first, ...rest] = aliases;
  const joins = rest.map((a, j) => `JOIN ${tables[j + 1]} ${a} ON ${a}.seq = ${first}.seq AND ${a}.code = ${bind(ctx, `${def.code}$${j + 1}`)} AND ${a}.element = ${first}.element`);
  return member(alias, first!, `${tables[0]} ${first} ${joins.join(' ')}`, `${first}.resource_type = ${bind(ctx, type)} AND ${first}.code = ${bind(ctx, `${def.code}$0`)} AND (${ors.join(' OR ')})`, false, ctx);
}

/** A composite's components as parameter definitions of their own types (from their canonical URLs). */
function componentDefs(def: SearchParamDef, node: ParamNode): SearchParamDef[] {
  const components = def.components.map((c) => searchParamByUrl(c.definition));
  if (components.length === 0 || components.some((c) => !c)) throw badRequest(`Composite parameter "${def.code}" has components this server does not know`, node.raw, 'not-supported');
  return components.map((c) => ({ ...def, type: c!.type, targets: c!.target ?? [], components: [] }));
}

function tokenPredicate(node: ParamNode, value: string, t: string, ctx: CompileCtx): string {
  if (node.modifier === 'text') return `${t}.text LIKE ${bind(ctx, `${escapeLike(normalizeString(value))}%`)}`;
  if (node.modifier === 'of-type') {
    const [system, code, v] = splitPipes(value, 3);
    if (!code || v === undefined) throw badRequest(`${node.raw} needs system|code|value`, node.raw);
    return `(${t}.system = ${bind(ctx, system)} AND ${t}.value = ${bind(ctx, `${code}|${v}`)})`;
  }
  if (node.modifier && node.modifier !== 'not') throw badRequest(`Modifier ":${node.modifier}" is not supported on token parameter "${node.code}"`, node.raw, 'not-supported');
  if (!value.includes('|')) return `${t}.value = ${bind(ctx, value)}`;
  const [system, code] = splitPipes(value, 2);
  if (system === '') return `(${t}.system IS NULL AND ${t}.value = ${bind(ctx, code)})`;
  if (!code) return `${t}.system = ${bind(ctx, system)}`;
  return `(${t}.value = ${bind(ctx, code)} AND ${t}.system = ${bind(ctx, system)})`;
}

function referencePredicate(def: SearchParamDef, node: ParamNode, value: string, t: string, ctx: CompileCtx): string {
  if (node.modifier === 'identifier') {
    const [system, v] = value.includes('|') ? splitPipes(value, 2) : [undefined, value];
    return system ? `(${t}.ident_system = ${bind(ctx, system)} AND ${t}.ident_value = ${bind(ctx, v)})` : `${t}.ident_value = ${bind(ctx, v)}`;
  }
  const typeModifier = node.modifier && isResourceType(node.modifier) ? node.modifier : undefined;
  if (node.modifier && !typeModifier) throw badRequest(`Modifier ":${node.modifier}" is not supported on reference parameter "${node.code}"`, node.raw, 'not-supported');
  let ref = value.startsWith(`${ctx.fhirBase}/`) ? value.slice(ctx.fhirBase.length + 1) : value;
  if (/^https?:\/\//.test(ref) || ref.startsWith('urn:')) return `${t}.url = ${bind(ctx, ref)}`;
  ref = ref.replace(/\/_history\/.*$/, '');
  const parts = ref.split('/');
  // `Type/id` means a resource on this server: an absolute reference to another server that happens
  // to end in the same Type/id is not it (relative and own-base references are).
  const local = () => (ctx.fhirBase ? ` AND (${t}.url IS NULL OR ${t}.url NOT LIKE '%://%' OR ${t}.url LIKE ${bind(ctx, `${escapeLike(ctx.fhirBase)}/%`)})` : '');
  if (parts.length === 2) {
    if (typeModifier && parts[0] !== typeModifier) return 'FALSE';
    return `(${t}.target_id = ${bind(ctx, parts[1])} AND ${t}.target_type = ${bind(ctx, parts[0])}${local()})`;
  }
  if (parts.length !== 1) throw badRequest(`Reference value "${value}" is not Type/id, id or a URL`, node.raw);
  const type = typeModifier ?? (def.targets.length === 1 ? def.targets[0] : undefined);
  return type ? `(${t}.target_id = ${bind(ctx, ref)} AND ${t}.target_type = ${bind(ctx, type)}${local()})` : `(${t}.target_id = ${bind(ctx, ref)}${local()})`;
}

/** `subject:Patient.name=x` → references whose target matches `name=x` (and is visible). */
function chainPredicate(type: string, def: SearchParamDef, node: ParamNode, alias: string, ctx: CompileCtx): string {
  if (ctx.depth > 4) throw badRequest(`Chain "${node.raw}" is too deep`, node.raw);
  const [next, ...rest] = node.chain;
  const [nextCode, nextModifier] = next!.split(':');
  if (node.modifier && !isResourceType(node.modifier)) throw badRequest(`Unknown target type in "${node.raw}"`, node.raw);
  // Without a :Type the chain runs over every target type that has the next parameter (spec:
  // search.html#chaining allows searching all targets), rather than guessing one.
  const targets = (node.modifier ? [node.modifier] : def.targets).filter((t) => isResourceType(t) && (searchParam(t, nextCode!) || ['_text', '_content'].includes(nextCode!)));
  if (targets.length === 0) throw badRequest(`Unknown search parameter "${nextCode}" in chain "${node.raw}"`, node.raw, 'not-supported');
  if (targets.length > 10) throw badRequest(`Chain "${node.raw}" is ambiguous: name the target type (${node.code}:Type.…)`, node.raw);
  const ref = nextAlias('c');
  const ors = targets.map((target) => {
    const tgt = nextAlias('t');
    const inner = compileParam(target, { raw: node.raw, code: nextCode!, modifier: nextModifier, chain: rest, values: node.values }, tgt, { ...ctx, depth: ctx.depth + 1 });
    const access = ctx.accessPredicate(target, tgt, ctx);
    return `(${ref}.target_type = ${bind(ctx, target)} AND ${ref}.target_id IN (SELECT ${tgt}.id FROM resources ${tgt} WHERE ${tgt}.resource_type = ${bind(ctx, target)} AND NOT ${tgt}.deleted AND ${inner} AND ${access}))`;
  });
  return `${alias}.seq IN (SELECT ${ref}.seq FROM sp_reference ${ref} WHERE ${ref}.resource_type = ${bind(ctx, type)} AND ${ref}.code = ${bind(ctx, def.code)} AND (${ors.join(' OR ')}))`;
}

/** `_has:Observation:patient:code=1234` (nestable). */
export function hasPredicate(type: string, raw: string, value: string, alias: string, ctx: CompileCtx): string {
  const m = /^_has:([A-Za-z]+):([A-Za-z0-9\-_]+):(.+)$/.exec(raw);
  if (!m || !isResourceType(m[1]!)) throw badRequest(`"${raw}" is not _has:Type:reference:parameter`, raw);
  const [, other, refCode, rest] = m;
  if (ctx.depth > 4) throw badRequest(`"${raw}" nests too deep`, raw);
  const refDef = searchParam(other!, refCode!);
  if (!refDef || refDef.type !== 'reference') throw badRequest(`"${refCode}" is not a reference parameter of ${other}`, raw);
  const o = nextAlias('h');
  const ref = nextAlias('hr');
  const next = { ...ctx, depth: ctx.depth + 1 };
  let inner: string;
  if (rest!.startsWith('_has:')) inner = hasPredicate(other!, rest!, value, o, next);
  else {
    const [head, ...chain] = rest!.split('.');
    const [code, modifier] = head!.split(':');
    inner = compileParam(other!, { raw, code: code!, modifier, chain, values: splitValues(value) }, o, next);
  }
  const access = ctx.accessPredicate(other!, o, ctx);
  return `${alias}.id IN (SELECT ${ref}.target_id FROM sp_reference ${ref} JOIN resources ${o} ON ${o}.seq = ${ref}.seq WHERE ${ref}.resource_type = ${bind(ctx, other)} AND ${ref}.code = ${bind(ctx, refCode)} AND ${ref}.target_type = ${bind(ctx, type)} AND NOT ${o}.deleted AND ${inner} AND ${access})`;
}

export function datePredicate(low: string, high: string, raw: string, ctx: CompileCtx, name: string): string {
  const [prefix, value] = splitPrefix(raw);
  const range = dateRange(value);
  if (!range) throw badRequest(`"${raw}" is not a FHIR date/dateTime for ${name}`, name);
  // Bind only the bounds a prefix uses: PostgreSQL cannot type an unreferenced parameter (42P18).
  const lo = () => bind(ctx, range.low.toISOString());
  const hi = () => bind(ctx, range.high.toISOString());
  // Target [low, high) against the search value's range [lo, hi), as search.html#prefix words it:
  // eq = the search range contains the target; gt/lt = the target reaches beyond it; ge/le = either.
  // `ne` is per index row, so a resource without the element does not match it (as HAPI does).
  const contained = () => `(${low} >= ${lo()}::timestamptz AND ${high} <= ${hi()}::timestamptz)`;
  switch (prefix) {
    case 'eq': return contained();
    case 'ne': return `NOT ${contained()}`;
    case 'gt': return `${high} > ${hi()}::timestamptz`;
    // ge/le also state the bound both of their cases imply, so an index range scan can use it.
    case 'ge': return `(${high} > ${lo()}::timestamptz AND (${high} > ${hi()}::timestamptz OR ${contained()}))`;
    case 'lt': return `${low} < ${lo()}::timestamptz`;
    case 'le': return `(${low} < ${hi()}::timestamptz AND (${low} < ${lo()}::timestamptz OR ${contained()}))`;
    case 'sa': return `${low} >= ${hi()}::timestamptz`;
    case 'eb': return `${high} <= ${lo()}::timestamptz`;
    default: return `(${low} < ${hi()}::timestamptz AND ${high} > ${lo()}::timestamptz)`; // ap: overlaps
  }
}

/** Numbers carry their precision: `100` means [99.5, 100.5). See: search.html#number */
function numberPredicate(column: string, raw: string, ctx: CompileCtx, name: string): string {
  const [prefix, value] = splitPrefix(raw);
  if (!/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(value)) throw badRequest(`"${raw}" is not a number for ${name}`, name);
  const n = Number(value);
  const decimals = /\.(\d+)/.exec(value)?.[1]?.length ?? 0;
  const half = 0.5 * 10 ** -decimals;
  switch (prefix) {
    case 'gt': case 'sa': return `${column} > ${bind(ctx, n)}`;
    case 'lt': case 'eb': return `${column} < ${bind(ctx, n)}`;
    case 'ge': return `${column} >= ${bind(ctx, n)}`;
    case 'le': return `${column} <= ${bind(ctx, n)}`;
    case 'ne': return `NOT (${column} >= ${bind(ctx, n - half)} AND ${column} < ${bind(ctx, n + half)})`;
    case 'ap': return `(${column} >= ${bind(ctx, n * 0.9)} AND ${column} <= ${bind(ctx, n * 1.1)})`;
    default: return `(${column} >= ${bind(ctx, n - half)} AND ${column} < ${bind(ctx, n + half)})`;
  }
}

function splitPipes(value: string, n: number): string[] {
  const parts = value.split('|');
  while (parts.length < n) parts.push('');
  return [...parts.slice(0, n - 1), parts.slice(n - 1).join('|')];
}

function escapeLike(v: string): string {
  return v.replace(/[\\%_]/g, (c) => `\\${c}`);
}
