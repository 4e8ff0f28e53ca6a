/**
 * SMART App Launch 2.2 scope grammar (scopes-and-launch-context.html), v2 and v1:
 *   v2  (patient|user|system)/(Type|*).[c][r][u][d][s][?param=value(&param=value)*]
 *   v1  (patient|user|system)/(Type|*).(read|write|*)   mapped .read→rs, .write→cud, .*→cruds
 * plus the context, identity and refresh scopes. Anything else is not a scope this server grants;
 * `parseScope` returns null for it and callers drop it (RFC 6749 §3.3 lets the server narrow).
 */

export type ScopeContext = 'patient' | 'user' | 'system';
export type Interaction = 'c' | 'r' | 'u' | 'd' | 's';

/** Letter order fixed by the v2 grammar; out-of-order suffixes (`.dus`) are rejected. */
export const INTERACTIONS: readonly Interaction[] = ['c', 'r', 'u', 'd', 's'];

export interface ResourceScope {
  kind: 'resource';
  context: ScopeContext;
  /** A resource type name or `*`. */
  resourceType: string;
  interactions: readonly Interaction[];
  /** v1 scopes are written back in v1 form when their interactions are unchanged (scopes §v1 compatibility). */
  version: 'v1' | 'v2';
  /** Granular restriction as `[name, value]` pairs, ANDed (permission-v2); empty when unrestricted. */
  query: ReadonlyArray<readonly [string, string]>;
}

export interface NamedScope {
  kind: 'named';
  /** `openid`, `fhirUser`, `profile`, `launch`, `launch/patient`, `launch/encounter`, `launch/<type>`, `offline_access`, `online_access`. */
  name: string;
}

export type Scope = ResourceScope | NamedScope;

const V1_SUFFIX: Record<string, Interaction[]> = { read: ['r', 's'], write: ['c', 'u', 'd'], '*': ['c', 'r', 'u', 'd', 's'] };
const NAMED = new Set(['openid', 'fhirUser', 'profile', 'launch', 'launch/patient', 'launch/encounter', 'offline_access', 'online_access']);
const RESOURCE_SCOPE = /^(patient|user|system)\/([A-Z][A-Za-z]*|\*)\.([a-z*]+)(?:\?(.+))?$/;

export function parseScope(s: string): Scope | null {
  if (NAMED.has(s)) return { kind: 'named', name: s };
  // `launch/<type>` context requests are lower-case type names (scopes §launch context requests).
  if (/^launch\/[a-z][A-Za-z]*(\?role=[^\s&]+)?$/.test(s)) return { kind: 'named', name: s };
  const m = RESOURCE_SCOPE.exec(s);
  if (!m) return null;
  const [, context, resourceType, suffix, rawQuery] = m as unknown as [string, ScopeContext, string, string, string | undefined];
  let interactions: Interaction[];
  let version: 'v1' | 'v2';
  if (V1_SUFFIX[suffix]) {
    if (rawQuery !== undefined) return null; // granular restrictions exist only in v2
    interactions = V1_SUFFIX[suffix]!;
    version = 'v1';
  } else {
    const parsed = parseV2Suffix(suffix);
    if (!parsed) return null;
    interactions = parsed;
    version = 'v2';
  }
  const query = rawQuery === undefined ? [] : parseQuery(rawQuery);
  if (query === null) return null;
  return { kind: 'resource', context, resourceType, interactions, version, query };
}

function parseV2Suffix(suffix: string): Interaction[] | null {
  let at = 0;
  const out: Interaction[] = [];
  for (const ch of suffix) {
    const i = INTERACTIONS.indexOf(ch as Interaction, at);
    if (i < 0) return null;
    out.push(INTERACTIONS[i]!);
    at = i + 1;
  }
  return out.length > 0 ? out : null;
}

function parseQuery(raw: string): Array<[string, string]> | null {
  const pairs: Array<[string, string]> = [];
  for (const part of raw.split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0 || eq === part.length - 1) return null;
    const name = part.slice(0, eq);
    if (!/^[A-Za-z_][\w:.-]*$/.test(name)) return null;
    pairs.push([name, part.slice(eq + 1)]);
  }
  return pairs;
}

/** Parses a space-separated scope string; unknown and malformed scopes are left out. */
export function parseScopes(str: string | undefined | null): Scope[] {
  if (!str) return [];
  const out: Scope[] = [];
  const seen = new Set<string>();
  for (const token of str.split(/\s+/)) {
    if (!token) continue;
    const scope = parseScope(token);
    if (!scope) continue;
    const key = formatScope(scope);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(scope);
  }
  return out;
}

export function formatScope(scope: Scope): string {
  if (scope.kind === 'named') return scope.name;
  const letters = INTERACTIONS.filter((i) => scope.interactions.includes(i));
  let suffix = letters.join('');
  if (scope.version === 'v1') {
    const v1 = Object.entries(V1_SUFFIX).find(([, list]) => sameSet(list, letters));
    if (v1) suffix = v1[0];
  }
  const query = scope.query.length > 0 ? `?${scope.query.map(([k, v]) => `${k}=${v}`).join('&')}` : '';
  return `${scope.context}/${scope.resourceType}.${suffix}${query}`;
}

export function formatScopes(scopes: readonly Scope[]): string {
  return [...new Set(scopes.map(formatScope))].join(' ');
}

function sameSet<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/**
 * requested ∩ ceiling. A named scope survives when the ceiling names it. A resource scope is cut to
 * every ceiling scope of the same context that covers its type: the interactions are intersected and
 * the granular queries ANDed. A requested wildcard against an explicit ceiling type list becomes that
 * list, so proxies never receive `*` (access-spec §4.5). Query restrictions are kept, never dropped.
 */
export function intersectScopes(requested: readonly Scope[], ceiling: readonly Scope[]): Scope[] {
  const out: Scope[] = [];
  for (const req of requested) {
    if (req.kind === 'named') {
      if (ceiling.some((c) => c.kind === 'named' && c.name === req.name)) out.push(req);
      continue;
    }
    for (const cap of ceiling) {
      if (cap.kind !== 'resource' || cap.context !== req.context) continue;
      let resourceType: string;
      if (cap.resourceType === '*' || cap.resourceType === req.resourceType) resourceType = req.resourceType;
      else if (req.resourceType === '*') resourceType = cap.resourceType;
      else continue;
      const interactions = INTERACTIONS.filter((i) => req.interactions.includes(i) && cap.interactions.includes(i));
      if (interactions.length === 0) continue;
      const query = mergeQueries(req.query, cap.query);
      // v1 form only when nothing was cut and no query was added by the ceiling.
      const version = req.version === 'v1' && sameSet(interactions, req.interactions) && query.length === 0 ? 'v1' : 'v2';
      out.push({ kind: 'resource', context: req.context, resourceType, interactions, version, query });
    }
  }
  return dedupe(removeSubsumed(out));
}

function mergeQueries(a: ResourceScope['query'], b: ResourceScope['query']): Array<readonly [string, string]> {
  const out = [...a];
  for (const pair of b) if (!out.some(([k, v]) => k === pair[0] && v === pair[1])) out.push(pair);
  return out;
}

/** Drops a resource scope that another unrestricted scope of the same context and type fully covers. */
function removeSubsumed(scopes: Scope[]): Scope[] {
  return scopes.filter((s, idx) => {
    if (s.kind !== 'resource') return true;
    return !scopes.some((o, j) => {
      if (j === idx || o.kind !== 'resource' || o.context !== s.context || o.query.length > 0) return false;
      if (o.resourceType !== s.resourceType && o.resourceType !== '*') return false;
      if (!s.interactions.every((i) => o.interactions.includes(i))) return false;
      // Equal scopes: keep the first one only.
      const equal = o.resourceType === s.resourceType && sameSet(o.interactions, s.interactions) && s.query.length === 0;
      return equal ? j < idx : true;
    });
  });
}

function dedupe(scopes: Scope[]): Scope[] {
  const seen = new Set<string>();
  return scopes.filter((s) => {
    const key = formatScope(s);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Resource scopes of `context` that grant `interaction` on `resourceType` (directly or through `*`). */
export function coveringScopes(scopes: readonly Scope[], context: ScopeContext, resourceType: string, interaction: Interaction): ResourceScope[] {
  return scopes.filter(
    (s): s is ResourceScope =>
      s.kind === 'resource' && s.context === context && (s.resourceType === '*' || s.resourceType === resourceType) && s.interactions.includes(interaction),
  );
}

/** True when some granted scope allows this interaction on this type, with or without a granular query. */
export function scopeAllows(scopes: readonly Scope[], context: ScopeContext, resourceType: string, interaction: Interaction): boolean {
  return coveringScopes(scopes, context, resourceType, interaction).length > 0;
}

/**
 * The granular restrictions that apply to `interaction` on `resourceType`:
 *  - `null`: not allowed at all;
 *  - `[]`: allowed without restriction (an unrestricted scope covers it);
 *  - otherwise one entry per covering granular scope; the caller must admit a resource that matches
 *    ANY entry (scopes are alternatives), where an entry's pairs are ANDed search parameters.
 */
export function scopeRestrictions(
  scopes: readonly Scope[],
  context: ScopeContext,
  resourceType: string,
  interaction: Interaction,
): ReadonlyArray<ResourceScope['query']> | null {
  const covering = coveringScopes(scopes, context, resourceType, interaction);
  if (covering.length === 0) return null;
  if (covering.some((s) => s.query.length === 0)) return [];
  return covering.map((s) => s.query);
}

/**
 * Compiles restriction alternatives into ONE search query string (`name=value&name=value`) when FHIR
 * search syntax can express it: a single alternative, or alternatives that each restrict the same
 * single parameter (joined with `,`, FHIR's OR). Returns null when it cannot; the caller then has to
 * fall back to something stricter (deny by default).
 */
export function restrictionsAsQuery(alternatives: ReadonlyArray<ResourceScope['query']>): string | null {
  if (alternatives.length === 0) return null;
  if (alternatives.length === 1) return alternatives[0]!.map(([k, v]) => `${k}=${v}`).join('&');
  const names = new Set(alternatives.map((alt) => (alt.length === 1 ? alt[0]![0] : '\u0000')));
  if (names.size !== 1 || names.has('\u0000')) return null;
  const [name] = [...names];
  return `${name}=${alternatives.map((alt) => alt[0]![1]).join(',')}`;
}

export function hasScope(scopes: readonly Scope[], name: string): boolean {
  return scopes.some((s) => s.kind === 'named' && s.name === name);
}

/** The resource types a context may read (`r` or `s`); `*` when a wildcard scope grants it. */
export function readableTypes(scopes: readonly Scope[], context: ScopeContext): string[] {
  const types = new Set<string>();
  for (const s of scopes) {
    if (s.kind === 'resource' && s.context === context && (s.interactions.includes('r') || s.interactions.includes('s'))) types.add(s.resourceType);
  }
  return [...types];
}

/** Is `requested` (all of it) within `granted`? Used for refresh-time narrowing: no widening allowed. */
export function isSubsetOf(requested: readonly Scope[], granted: readonly Scope[]): boolean {
  return requested.every((r) => {
    if (r.kind === 'named') return hasScope(granted, r.name);
    const cut = intersectScopes([r], granted);
    return r.interactions.every((i) => {
      // Each interaction must survive unrestricted-by-new-queries: the cut must contain a scope for
      // the same type with this interaction and no query beyond the requested one.
      return cut.some(
        (c) =>
          c.kind === 'resource' &&
          (c.resourceType === r.resourceType) &&
          c.interactions.includes(i) &&
          c.query.every(([k, v]) => r.query.some(([rk, rv]) => rk === k && rv === v)),
      );
    });
  });
}
