/**
 * Core R4 rules kept in code: those that FHIRPath cannot state (decoding base64, hashing) and
 * those whose issue should name the exact entry or element rather than the whole resource. Each
 * rule is a plain function of one JSON node and its instance path; core-invariants.ts calls them
 * for every node of their type, wherever it occurs (nested resources and Bundle entries included).
 * See: https://hl7.org/fhir/R4/datatypes.html#Attachment, https://hl7.org/fhir/R4/bundle.html#rules,
 * https://hl7.org/fhir/R4/references.html#contained (dom-3)
 */
import { createHash } from 'node:crypto';
import type { Issue, IssueCode } from '../errors.js';

type Json = Record<string, unknown>;
export type CodeRule = (value: Json, at: string) => Issue[];

const issue = (code: IssueCode, at: string, text: string): Issue => ({ severity: 'error', code, diagnostics: `${at}: ${text}`, expression: [at] });

/**
 * base64Binary (datatypes.html#base64Binary, RFC 4648 §4): groups of four characters of the base64
 * alphabet, `=` padding only at the end; whitespace between groups is tolerated as in the R4 schema.
 */
export function isBase64(value: string): boolean {
  const compact = value.replace(/[ \t\r\n]/g, '');
  return compact.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(compact);
}

/**
 * Attachment: `size` is the number of bytes of the data before base64 encoding, and `hash` is the
 * base64 SHA-1 of those bytes. Both are checked when `data` is present (with only a `url` the bytes
 * are elsewhere and the claim cannot be checked here).
 */
export const attachmentRules: CodeRule = (value, at) => {
  if (typeof value.data !== 'string' || !isBase64(value.data)) return []; // the schema reports bad base64
  const bytes = Buffer.from(value.data, 'base64');
  const out: Issue[] = [];
  if (typeof value.size === 'number' && value.size !== bytes.length) {
    out.push(issue('value', `${at}.size`, `size is ${value.size} but data holds ${bytes.length} bytes`));
  }
  if (typeof value.hash === 'string') {
    const sha1 = createHash('sha1').update(bytes).digest('base64');
    if (value.hash.replace(/\s/g, '') !== sha1) out.push(issue('value', `${at}.hash`, `hash ${value.hash} is not the base64 SHA-1 of data (${sha1})`));
  }
  return out;
};

function collectReferences(node: unknown, out: Set<string>): void {
  if (Array.isArray(node)) return node.forEach((n) => collectReferences(n, out));
  if (!node || typeof node !== 'object') {
    if (typeof node === 'string' && node.startsWith('#')) out.add(node);
    return;
  }
  for (const [key, v] of Object.entries(node as Json)) if (key !== 'id') collectReferences(v, out);
}

/**
 * dom-3: a contained resource must be referenced from the resource that contains it (or from
 * another contained resource), by `#id` in a reference, canonical or uri. The core expression calls
 * `as(canonical)` on a collection, which a strict FHIRPath engine refuses, so it lives here.
 */
export const containedRules: CodeRule = (value, at) => {
  if (!Array.isArray(value.contained) || value.contained.length === 0) return [];
  const refs = new Set<string>();
  collectReferences(value, refs);
  const out: Issue[] = [];
  value.contained.forEach((c: unknown, i) => {
    const id = (c as Json | null)?.id;
    if (typeof id === 'string' && !refs.has(`#${id}`) && !refs.has('#')) {
      out.push(issue('invariant', `${at}.contained[${i}]`, `contained resource "${id}" is not referenced from the resource that contains it (dom-3)`));
    }
  });
  return out;
}

const ABSOLUTE = /^[A-Za-z][A-Za-z0-9+.-]*:/;
const URN_UUID = /^urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const URN_OID = /^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$/;

function fullUrlProblem(url: string): string | null {
  if (url.startsWith('urn:uuid:')) return URN_UUID.test(url) ? null : 'is not a valid urn:uuid (urn:uuid: followed by a UUID)';
  if (url.startsWith('urn:oid:')) return URN_OID.test(url) ? null : 'is not a valid urn:oid';
  return ABSOLUTE.test(url) ? null : 'must be an absolute URL, or a urn:uuid: or urn:oid: (a relative URL is not allowed)';
}

/**
 * Bundle rules (bundle.html#rules): `fullUrl` is absolute (or a urn:uuid / urn:oid); two entries do
 * not share a fullUrl unless they are versions of one resource (bdl-7), and, outside a history,
 * not the same resource type and id either; each link relation appears once.
 */
export const bundleRules: CodeRule = (value, at) => {
  const out: Issue[] = [];
  const history = value.type === 'history';
  const entries = Array.isArray(value.entry) ? (value.entry as unknown[]) : [];
  const fullUrls = new Map<string, number>();
  const ids = new Map<string, number>();
  entries.forEach((raw, i) => {
    if (!raw || typeof raw !== 'object') return;
    const entry = raw as Json;
    const here = `${at}.entry[${i}]`;
    const resource = entry.resource as Json | undefined;
    if (typeof entry.fullUrl === 'string') {
      const problem = fullUrlProblem(entry.fullUrl);
      if (problem) out.push(issue('value', `${here}.fullUrl`, `"${entry.fullUrl}" ${problem}`));
      const version = (resource?.meta as Json | undefined)?.versionId;
      const key = `${entry.fullUrl}\u0000${typeof version === 'string' ? version : ''}`;
      const first = fullUrls.get(key);
      if (first !== undefined && !history) {
        out.push(issue('invariant', `${here}.fullUrl`, `fullUrl ${entry.fullUrl} is also the fullUrl of entry[${first}]: entries must have distinct fullUrls (bdl-7)`));
      } else if (first === undefined) fullUrls.set(key, i);
    }
    if (!history && resource && typeof resource.resourceType === 'string' && typeof resource.id === 'string') {
      const key = `${resource.resourceType}/${resource.id}`;
      const first = ids.get(key);
      if (first !== undefined) out.push(issue('invariant', `${here}.resource.id`, `${key} is also the resource of entry[${first}]: a resource may appear only once in a Bundle`));
      else ids.set(key, i);
    }
  });
  const relations = new Map<string, number>();
  (Array.isArray(value.link) ? (value.link as unknown[]) : []).forEach((link, i) => {
    const relation = (link as Json | null)?.relation;
    if (typeof relation !== 'string') return;
    const first = relations.get(relation);
    if (first !== undefined) out.push(issue('invariant', `${at}.link[${i}].relation`, `link relation "${relation}" is also used by link[${first}]: each relation may appear only once`));
    else relations.set(relation, i);
  });
  return out;
};

/** Code rules by the type they apply to (a resource type or a datatype). */
export const CODE_RULES_BY_TYPE: Readonly<Record<string, CodeRule>> = {
  Attachment: attachmentRules,
  Bundle: bundleRules,
};

/** Applied to every resource (any type can carry `contained`). */
export const RESOURCE_CODE_RULES: readonly CodeRule[] = [containedRules];
