/**
 * Checks one resource (or one extension instance) against a compiled profile. Cardinality is
 * counted per occurrence of the parent element, so `Consent.provision.actor` 1..1 binds only when
 * there is a provision (the parent's own minimum is a rule of its own), as profiling.html says.
 */
import type { Issue } from '../errors.js';
import type { CompiledProfile, ElementRule } from './compile-profile.js';
import { childNodes, choiceKeys, occurrences, select, type InstanceNode } from './instance-nodes.js';
import type { Terminology } from './terminology.js';

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}

/** pattern[x]: every property the pattern has, the instance has too; each pattern array item matches some instance item. */
export function matchesPattern(value: unknown, pattern: unknown): boolean {
  if (Array.isArray(pattern)) return Array.isArray(value) && pattern.every((p) => value.some((v) => matchesPattern(v, p)));
  if (pattern && typeof pattern === 'object') {
    if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
    return Object.entries(pattern).every(([k, p]) => matchesPattern((value as Record<string, unknown>)[k], p));
  }
  return value === pattern;
}

/** The resource type a literal reference points at, when the reference says (not for `urn:` placeholders). */
export function referencedType(reference: string, resource: object): string | undefined {
  if (reference.startsWith('#')) {
    const contained = (resource as { contained?: Array<{ id?: string; resourceType?: string }> }).contained ?? [];
    return contained.find((c) => c?.id === reference.slice(1))?.resourceType ?? '(missing contained resource)';
  }
  if (reference.startsWith('urn:')) return undefined;
  const m = /(?:^|\/)([A-Z][A-Za-z]+)\/[A-Za-z0-9\-.]{1,64}(?:\/_history\/[^/]+)?$/.exec(reference.split('?')[0]!);
  return m?.[1];
}

function issue(code: Issue['code'], at: string, text: string): Issue {
  return { severity: 'error', code, diagnostics: `${at}: ${text}`, expression: [at] };
}

function checkRule(profile: CompiledProfile, rule: ElementRule, root: InstanceNode, resource: object, tx: Terminology): Issue[] {
  const out: Issue[] = [];
  if (rule.segments.length === 0) {
    for (const inv of rule.invariants) out.push(...inv.check(root, resource));
    return out;
  }
  const last = rule.segments.at(-1)!;
  const parents = select([root], rule.segments.slice(0, -1));
  const where = `(profile ${profile.name})`;
  for (const parent of parents) {
    const n = occurrences(parent, last);
    const at = `${parent.path}.${last}`;
    if (rule.min !== undefined && n < rule.min) out.push(issue('required', at, `at least ${rule.min} required, found ${n} ${where}`));
    if (rule.max !== undefined && n > rule.max) {
      out.push(issue('structure', at, rule.max === 0 ? `not allowed ${where}` : `at most ${rule.max} allowed, found ${n} ${where}`));
    }
    if (rule.choiceTypes && parent.value && typeof parent.value === 'object') {
      const stem = last.slice(0, -3);
      for (const key of choiceKeys(parent.value as Record<string, unknown>, last)) {
        if (!rule.choiceTypes.includes(key.slice(stem.length))) {
          out.push(issue('structure', `${parent.path}.${key}`, `type ${key.slice(stem.length)} not allowed here, only ${rule.choiceTypes.join(', ')} ${where}`));
        }
      }
    }
    for (const slice of rule.extensionSlices) {
      const count = childNodes(parent, last).filter((e) => (e.value as { url?: unknown }).url === slice.url).length;
      if (count < slice.min) out.push(issue('required', at, `extension ${slice.url} (${slice.name}) is required ${where}`));
      if (count > slice.max) out.push(issue('structure', at, `extension ${slice.url} (${slice.name}) may occur at most ${slice.max} time(s), found ${count} ${where}`));
    }
    if (rule.closedSlicing) {
      for (const e of childNodes(parent, last)) {
        const url = (e.value as { url?: unknown }).url;
        if (!rule.extensionSlices.some((s) => s.url === url)) out.push(issue('structure', e.path, `extension ${show(url)} is not allowed here ${where}`));
      }
    }
  }
  const nodes = parents.flatMap((p) => childNodes(p, last));
  for (const node of nodes) {
    if (rule.fixed !== undefined && !deepEqual(node.value, rule.fixed)) out.push(issue('value', node.path, `must be exactly ${show(rule.fixed)}, found ${show(node.value)} ${where}`));
    if (rule.pattern !== undefined && !matchesPattern(node.value, rule.pattern)) out.push(issue('value', node.path, `must match ${show(rule.pattern)}, found ${show(node.value)} ${where}`));
    if (rule.binding && !tx.contains(rule.binding, node.value)) {
      out.push(issue('code-invalid', node.path, `${show(node.value)} is not a code of ValueSet ${rule.binding.url} (required binding) ${where}`));
    }
    if (rule.targetTypes) {
      const ref = (node.value as { reference?: unknown; type?: unknown }) ?? {};
      const types = [typeof ref.reference === 'string' ? referencedType(ref.reference, resource) : undefined, typeof ref.type === 'string' ? ref.type : undefined];
      for (const t of types) {
        if (t !== undefined && !rule.targetTypes.includes(t)) out.push(issue('value', node.path, `must refer to ${rule.targetTypes.join(' or ')}, not ${t} ${where}`));
      }
    }
    for (const inv of rule.invariants) out.push(...inv.check(node, resource));
  }
  return out;
}

/** Issues of `root` (a resource, or an extension inside one) against `profile`. */
export function applyProfile(profile: CompiledProfile, root: InstanceNode, resource: object, tx: Terminology): Issue[] {
  return profile.rules.flatMap((rule) => checkRule(profile, rule, root, resource, tx));
}
