/** Rewrites references inside a resource: `urn:uuid:` placeholders and conditional references. */
import type { Resource } from 'fhir/r4';

/**
 * Applies `rewrite` to every `reference` string anywhere in the resource (returns a copy), and to
 * every `url` that is a `urn:uuid:`/`urn:oid:` placeholder: http.html#trules has the server replace
 * fullUrls in url/uri elements too, e.g. an `Attachment.url` naming a Binary of the same Bundle.
 */
export function rewriteReferences(resource: Resource, rewrite: (reference: string) => string): Resource {
  return copyRewriting(resource, rewrite) as Resource;
}

/**
 * The copy, with plain loops and for…in over own keys: every entry of a transaction is copied through
 * here (a bridge push of a thousand samples, issue 11), so no Object.entries pairs, no regular
 * expression on every `url` and no closure per call.
 */
function copyRewriting(node: unknown, rewrite: (reference: string) => string): unknown {
  if (node === null || typeof node !== 'object') return node;
  if (Array.isArray(node)) {
    const copy = new Array<unknown>(node.length);
    for (let i = 0; i < node.length; i++) copy[i] = copyRewriting(node[i], rewrite);
    return copy;
  }
  const out: Record<string, unknown> = {};
  const obj = node as Record<string, unknown>;
  for (const k in obj) {
    if (!Object.hasOwn(obj, k)) continue;
    const v = obj[k];
    if (typeof v === 'string') out[k] = k === 'reference' || (k === 'url' && isPlaceholder(v)) ? rewrite(v) : v;
    else out[k] = copyRewriting(v, rewrite);
  }
  return out;
}

/** `urn:uuid:…` or `urn:oid:…`: a Bundle-local placeholder in a url element. */
function isPlaceholder(v: string): boolean {
  return v.startsWith('urn:uuid:') || v.startsWith('urn:oid:');
}

/** Every reference string in the resource. */
export function collectReferences(resource: Resource): string[] {
  const found: string[] = [];
  rewriteReferences(resource, (r) => {
    found.push(r);
    return r;
  });
  return found;
}

/** `Patient?identifier=…` — a conditional reference (http.html#trules). */
export function isConditionalReference(reference: string): boolean {
  return /^[A-Z][A-Za-z]+\?/.test(reference);
}
