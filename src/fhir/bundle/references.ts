/** Rewrites references inside a resource: `urn:uuid:` placeholders and conditional references. */
import type { Resource } from 'fhir/r4';

/**
 * Applies `rewrite` to every `reference` string anywhere in the resource (returns a copy), and to
 * every `url` that is a `urn:uuid:`/`urn:oid:` placeholder: http.html#trules has the server replace
 * fullUrls in url/uri elements too, e.g. an `Attachment.url` naming a Binary of the same Bundle.
 */
export function rewriteReferences(resource: Resource, rewrite: (reference: string) => string): Resource {
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (node && typeof node === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(node)) {
        const placeholderUrl = k === 'url' && typeof v === 'string' && /^urn:(uuid|oid):/.test(v);
        out[k] = (k === 'reference' || placeholderUrl) && typeof v === 'string' ? rewrite(v) : walk(v);
      }
      return out;
    }
    return node;
  };
  return walk(resource) as Resource;
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
