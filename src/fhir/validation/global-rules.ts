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

function checkExtension(ext: Json, at: string, host: string, s: WalkState): void {
  const url = ext.url;
  if (typeof url !== 'string') return; // the schema reports the missing url
  const def = s.c.extensions.get(url);
  if (!def) {
    if (url.startsWith(HELSEBRO_CANONICAL)) s.out.push(error('structure', at, `unknown extension ${url}: profiles/ defines no such extension`));
    return;
  }
  if (!def.context.some((c) => c === host || ANY_CONTEXT.has(c))) {
    s.out.push(error('structure', at, `extension ${url} may be used on ${def.context.join(', ')}, not on ${host}`));
  }
  s.out.push(...applyProfile(def, { value: ext, path: at }, s.resource, s.c.terminology));
}

function checkCoding(coding: Json, at: string, s: WalkState): void {
  const { system, code } = coding;
  if (typeof system !== 'string' || typeof code !== 'string' || !system.startsWith(HELSEBRO_CANONICAL)) return;
  const codes = s.c.terminology.codeSystem(system);
  if (!codes) s.out.push(error('code-invalid', `${at}.system`, `unknown code system ${system}: profiles/ defines no such CodeSystem`));
  else if (!codes.has(code)) s.out.push(error('code-invalid', `${at}.code`, `"${code}" is not a code of ${system} (known: ${[...codes].join(', ')})`));
}

function checkIdentifier(identifier: Json, at: string, s: WalkState): void {
  for (const [key, rule] of IDENTIFIER_RULES) {
    const failure = rule(identifier);
    if (failure) s.out.push(error(failure.code, `${at}${failure.at}`, `${failure.diagnostics} (${key})`));
  }
}

/** `obj` at instance path `at`, whose element definition path (no indices) is `def`. */
function walkObject(obj: Json, at: string, def: string, s: WalkState): void {
  if ('system' in obj && 'code' in obj) checkCoding(obj, at, s);
  for (const [key, value] of Object.entries(obj)) {
    const childDef = `${def}.${key.startsWith('_') ? key.slice(1) : key}`;
    const items = Array.isArray(value) ? value : [value];
    items.forEach((item, i) => {
      if (!isObject(item)) return;
      const childAt = Array.isArray(value) ? `${at}.${key}[${i}]` : `${at}.${key}`;
      if (typeof item.resourceType === 'string') {
        s.out.push(...s.onResource(item, childAt));
        walkObject(item, childAt, item.resourceType, { ...s, resource: item });
        return;
      }
      if (key === 'extension' || key === 'modifierExtension') checkExtension(item, childAt, def, s);
      if (key === 'identifier') checkIdentifier(item, childAt, s);
      walkObject(item, childAt, childDef, s);
    });
  }
}

/** Global-rule issues of a resource found at `path` (its type for a top-level resource). */
export function globalRuleIssues(resource: Json, path: string, c: Conformance, onResource: NestedResourceHandler): Issue[] {
  const state: WalkState = { c, resource, out: [], onResource };
  walkObject(resource, path, String(resource.resourceType), state);
  return state.out;
}
