/**
 * Semantic equality of two FHIR element values for the write rules (§5.2): a PUT that carries an
 * unchanged field passes whatever the key order of its objects, and an absent field equals an empty
 * array (FHIR has no empty arrays: `[]` and "not there" say the same thing).
 */
export function canonical(value: unknown): string {
  return JSON.stringify(normalise(value)) ?? 'null';
}

function normalise(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (Array.isArray(v)) return v.length === 0 ? null : v.map(normalise);
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => [k, normalise(x)] as const)
      .filter(([, x]) => x !== null)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return entries.length === 0 ? null : Object.fromEntries(entries);
  }
  return v;
}

export const sameValue = (a: unknown, b: unknown): boolean => canonical(a) === canonical(b);
