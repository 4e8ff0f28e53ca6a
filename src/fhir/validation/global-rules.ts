/**
 * Rules that hold wherever an element occurs, whatever profile a resource claims, checked in one
 * walk over the resource:
 * - an extension defined in profiles/ must be used in its context and conform to its definition;
 *   an extension in our own namespace that profiles/ does not define is refused (a typo in a URL
 *   would otherwise silently disable e.g. the address protection gate of access-spec G11);
 * - a Coding in one of our CodeSystems must use a code that CodeSystem defines;
 * - a fødselsnummer or D-nummer identifier must be valid (named-rules.ts), in every resource.
 * Resources nested in the walk (contained, Bundle entries) are handed to `onResource`.
 */
import type { Issue } from '../errors.js';
import { applyProfile } from './apply-profile.js';
import { HELSEBRO_CANONICAL, type Conformance } from './conformance.js';
import { LazyPath } from './lazy-path.js';
import { IDENTIFIER_RULES } from './named-rules.js';

type Json = Record<string, unknown>;

export type NestedResourceHandler = (resource: Json, path: string) => Issue[];

const ANY_CONTEXT = new Set(['Element', 'Resource', 'DomainResource', 'BackboneElement']);

const isObject = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);

function error(code: Issue['code'], at: string, text: string): Issue {
  return { severity: 'error', code, diagnostics: `${at}: ${text}`, expression: [at] };
}

interface WalkState {
  c: Conformance;
  /** The resource the current element belongs to (for contained references). */
  resource: Json;
  out: Issue[];
  onResource: NestedResourceHandler;
}

function checkExtension(ext: Json, loc: LazyPath, host: LazyPath, s: WalkState): void {
  const url = ext.url;
  if (typeof url !== 'string') return; // the schema reports the missing url
  const def = s.c.extensions.get(url);
  if (!def) {
    if (url.startsWith(HELSEBRO_CANONICAL)) s.out.push(error('structure', loc.at, `unknown extension ${url}: profiles/ defines no such extension`));
    return;
  }
  if (!def.context.some((c) => c === host.def || ANY_CONTEXT.has(c))) {
    s.out.push(error('structure', loc.at, `extension ${url} may be used on ${def.context.join(', ')}, not on ${host.def}`));
  }
  s.out.push(...applyProfile(def, { value: ext, path: loc.at }, s.resource, s.c.terminology));
}

function checkCoding(coding: Json, loc: LazyPath, s: WalkState): void {
  const { system, code } = coding;
  if (typeof system !== 'string' || typeof code !== 'string' || !system.startsWith(HELSEBRO_CANONICAL)) return;
  const codes = s.c.terminology.codeSystem(system);
  if (!codes) s.out.push(error('code-invalid', `${loc.at}.system`, `unknown code system ${system}: profiles/ defines no such CodeSystem`));
  else if (!codes.has(code)) s.out.push(error('code-invalid', `${loc.at}.code`, `"${code}" is not a code of ${system} (known: ${[...codes].join(', ')})`));
}

function checkIdentifier(identifier: Json, loc: LazyPath, s: WalkState): void {
  for (const [key, rule] of IDENTIFIER_RULES) {
    const failure = rule(identifier);
    if (failure) s.out.push(error(failure.code, `${loc.at}${failure.at}`, `${failure.diagnostics} (${key})`));
  }
}

/** `obj` at `loc` (its instance path, and its element definition path without indices). */
function walkObject(obj: Json, loc: LazyPath, s: WalkState): void {
  if ('system' in obj && 'code' in obj) checkCoding(obj, loc, s);
  for (const key in obj) {
    if (!Object.hasOwn(obj, key)) continue;
    const value = obj[key];
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        if (isObject(item)) walkChild(item, key, new LazyPath(loc, key, i), loc, s);
      }
    } else if (isObject(value)) walkChild(value, key, new LazyPath(loc, key, -1), loc, s);
  }
}

function walkChild(item: Json, key: string, loc: LazyPath, parent: LazyPath, s: WalkState): void {
  if (typeof item.resourceType === 'string') {
    s.out.push(...s.onResource(item, loc.at));
    walkObject(item, LazyPath.root(loc.at, item.resourceType), { ...s, resource: item });
    return;
  }
  if (key === 'extension' || key === 'modifierExtension') checkExtension(item, loc, parent, s);
  if (key === 'identifier') checkIdentifier(item, loc, s);
  walkObject(item, loc, s);
}

/** Global-rule issues of a resource found at `path` (its type for a top-level resource). */
export function globalRuleIssues(resource: Json, path: string, c: Conformance, onResource: NestedResourceHandler): Issue[] {
  const state: WalkState = { c, resource, out: [] as Issue[], onResource };
  walkObject(resource, LazyPath.root(path, String(resource.resourceType)), state);
  return state.out;
}
