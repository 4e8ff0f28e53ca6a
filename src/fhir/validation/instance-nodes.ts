/**
 * Walking a resource along an element path (`Consent.provision.actor`) while keeping the
 * instance location of every value (`Consent.provision.actor[0]`), so each profile issue names
 * the exact element. Arrays are expanded with their index; a single value keeps a plain path.
 */

export interface InstanceNode {
  value: unknown;
  /** FHIRPath-like location, e.g. `Patient.identifier[0]`. */
  path: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** Property names of a choice element `value[x]` present on an object (`valueCode`, `valueString`…). */
export function choiceKeys(obj: Record<string, unknown>, name: string): string[] {
  const stem = name.slice(0, -3);
  return Object.keys(obj).filter((k) => k.length > stem.length && k.startsWith(stem) && /[A-Z]/.test(k[stem.length]!));
}

function keysFor(obj: Record<string, unknown>, name: string): string[] {
  return name.endsWith('[x]') ? choiceKeys(obj, name) : name in obj ? [name] : [];
}

/** The values of `name` under one node, each with its location. Nulls (array alignment) are skipped. */
export function childNodes(node: InstanceNode, name: string): InstanceNode[] {
  if (!isObject(node.value)) return [];
  const out: InstanceNode[] = [];
  for (const key of keysFor(node.value, name)) {
    const v = node.value[key];
    if (Array.isArray(v)) v.forEach((item, i) => item !== null && out.push({ value: item, path: `${node.path}.${key}[${i}]` }));
    else if (v !== null && v !== undefined) out.push({ value: v, path: `${node.path}.${key}` });
  }
  return out;
}

/**
 * How many times `name` occurs under a node. A primitive present only through its `_name`
 * extension twin (e.g. a data-absent-reason) still occurs (json.html#primitive).
 */
export function occurrences(node: InstanceNode, name: string): number {
  if (!isObject(node.value)) return 0;
  const obj = node.value;
  const size = (v: unknown): number => (Array.isArray(v) ? v.length : v === undefined || v === null ? 0 : 1);
  const keys = name.endsWith('[x]') ? choiceKeys(obj, name) : [name];
  return keys.reduce((sum, key) => sum + Math.max(size(obj[key]), size(obj[`_${key}`])), 0);
}

/** Every node reached from `roots` by following `segments`. */
export function select(roots: InstanceNode[], segments: readonly string[]): InstanceNode[] {
  let nodes = roots;
  for (const seg of segments) nodes = nodes.flatMap((n) => childNodes(n, seg));
  return nodes;
}
