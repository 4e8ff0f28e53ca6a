/**
 * Query string → search AST. Comma separates OR values (a `\,` is a literal comma); a repeated
 * parameter is AND. Names carry a modifier (`code:not`) and chains (`subject:Patient.name`).
 * See: https://hl7.org/fhir/R4/search.html
 */
import { badRequest } from '../errors.js';

export interface ParamNode {
  /** As sent, for messages. */
  raw: string;
  code: string;
  modifier?: string;
  /** Remaining chain after the first link: `subject:Patient.name` → code subject, modifier Patient, chain ['name']. */
  chain: string[];
  values: string[];
}

export const CONTROL_PARAMS = new Set([
  '_count', '_sort', '_include', '_revinclude', '_total', '_summary', '_elements', '_type', '_offset', '_snapshot', '_format', '_pretty', '_contained', '_containedType',
]);

export interface ParsedQuery {
  params: ParamNode[];
  has: Array<{ raw: string; value: string }>;
  control: Map<string, string[]>;
}

export function splitValues(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\' && i + 1 < value.length && value[i + 1] === '$') {
      // Kept escaped: a composite splits its parts on unescaped `$` later (compile.ts unescapes).
      cur += value.slice(i, i + 2);
      i++;
    } else if (c === '\\' && i + 1 < value.length && (value[i + 1] === ',' || value[i + 1] === '|' || value[i + 1] === '\\')) {
      cur += value[++i];
    } else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

export function parseQuery(pairs: ReadonlyArray<readonly [string, string]>): ParsedQuery {
  const parsed: ParsedQuery = { params: [], has: [], control: new Map() };
  for (const [name, value] of pairs) {
    if (name.length > 200 || value.length > 4000) throw badRequest(`Search parameter "${name.slice(0, 40)}" is too long`, name.slice(0, 40));
    // NUL is in no FHIR string, PostgreSQL text cannot hold it, and it marks :iterate below.
    if (name.includes('\u0000') || value.includes('\u0000')) {
      const shown = name.slice(0, 40).split('\u0000').join('');
      throw badRequest(`Search parameter "${shown}" contains a NUL character`, shown);
    }
    if (CONTROL_PARAMS.has(name) || /^_(include|revinclude)(:iterate|:recurse)?$/.test(name)) {
      const key = name.replace(/:(iterate|recurse)$/, '');
      const list = parsed.control.get(key) ?? [];
      list.push(name.endsWith(':iterate') || name.endsWith(':recurse') ? `${value}\u0000iterate` : value);
      parsed.control.set(key, list);
      continue;
    }
    if (name.startsWith('_has:')) {
      parsed.has.push({ raw: name, value });
      continue;
    }
    const [head, ...chain] = name.split('.');
    const [code, modifier] = head!.split(':');
    if (!code) throw badRequest(`Search parameter name "${name}" is empty`, name);
    parsed.params.push({ raw: name, code, modifier, chain, values: splitValues(value) });
  }
  return parsed;
}

/** `ge2024-01-01` → ['ge', '2024-01-01']; no prefix → 'eq'. */
export function splitPrefix(value: string): [string, string] {
  const m = /^(eq|ne|gt|lt|ge|le|sa|eb|ap)(.*)$/.exec(value);
  return m && /^[\d-]/.test(m[2]!) ? [m[1]!, m[2]!] : ['eq', value];
}
