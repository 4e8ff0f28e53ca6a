/**
 * The small local terminology of profiles/: our CodeSystems and the ValueSets built from them (or
 * from an external system's listed codes). Only what can be expanded locally is accepted — a
 * ValueSet with filters, exclusions or an external system without a concept list fails to load,
 * so a required binding is never silently unchecked.
 * See: https://hl7.org/fhir/R4/valueset.html#compositions
 */
import type { CodeSystem, CodeSystemConcept, Coding, ValueSet } from 'fhir/r4';

export class ProfileLoadError extends Error {}

export interface LocalValueSet {
  url: string;
  /** Every `system|code` in the expansion. */
  readonly members: ReadonlySet<string>;
  /** Codes without their system (for elements of type `code`). */
  readonly codes: ReadonlySet<string>;
}

export interface Terminology {
  codeSystem(url: string): ReadonlySet<string> | undefined;
  valueSet(url: string): LocalValueSet | undefined;
  /** Whether a code, Coding or CodeableConcept (any of its codings) is in the ValueSet. */
  contains(vs: LocalValueSet, value: unknown): boolean;
}

/** `url|version` canonicals name the same local resource. */
export const stripVersion = (canonical: string): string => canonical.split('|')[0]!;

function flatten(concepts: CodeSystemConcept[] | undefined, into: Set<string>): void {
  for (const c of concepts ?? []) {
    into.add(c.code);
    flatten(c.concept, into);
  }
}

function isCoding(value: object): value is Coding {
  return 'code' in value && !('coding' in value);
}

export function buildTerminology(codeSystems: CodeSystem[], valueSets: ValueSet[]): Terminology {
  const systems = new Map<string, Set<string>>();
  for (const cs of codeSystems) {
    if (!cs.url) throw new ProfileLoadError(`CodeSystem/${cs.id} has no url`);
    if (cs.content !== 'complete') throw new ProfileLoadError(`CodeSystem ${cs.url}: only complete local code systems are supported`);
    const codes = new Set<string>();
    flatten(cs.concept, codes);
    systems.set(cs.url, codes);
  }
  const sources = new Map(valueSets.map((vs) => [stripVersion(vs.url ?? ''), vs]));
  const expanded = new Map<string, LocalValueSet>();

  const expand = (url: string, stack: string[]): LocalValueSet => {
    const done = expanded.get(url);
    if (done) return done;
    const vs = sources.get(url);
    if (!vs) throw new ProfileLoadError(`ValueSet ${url} is not defined in profiles/`);
    if (stack.includes(url)) throw new ProfileLoadError(`ValueSet ${url} includes itself`);
    if (vs.compose?.exclude?.length) throw new ProfileLoadError(`ValueSet ${url}: compose.exclude is not supported`);
    const members = new Set<string>();
    for (const inc of vs.compose?.include ?? []) {
      if (inc.filter?.length) throw new ProfileLoadError(`ValueSet ${url}: compose.include.filter is not supported`);
      for (const other of inc.valueSet ?? []) for (const m of expand(stripVersion(other), [...stack, url]).members) members.add(m);
      if (!inc.system) continue;
      const known = systems.get(inc.system);
      if (inc.concept?.length) {
        for (const c of inc.concept) {
          if (known && !known.has(c.code)) throw new ProfileLoadError(`ValueSet ${url}: ${c.code} is not a code of ${inc.system}`);
          members.add(`${inc.system}|${c.code}`);
        }
      } else if (known) {
        for (const code of known) members.add(`${inc.system}|${code}`);
      } else {
        throw new ProfileLoadError(`ValueSet ${url}: ${inc.system} is not a local CodeSystem, so its codes must be listed`);
      }
    }
    const result: LocalValueSet = { url, members, codes: new Set([...members].map((m) => m.slice(m.lastIndexOf('|') + 1))) };
    expanded.set(url, result);
    return result;
  };
  for (const url of sources.keys()) expand(url, []);

  const codingIn = (vs: LocalValueSet, c: Coding): boolean => typeof c.code === 'string' && (c.system ? vs.members.has(`${c.system}|${c.code}`) : false);

  return {
    codeSystem: (url) => systems.get(url),
    valueSet: (url) => expanded.get(stripVersion(url)),
    contains(vs, value) {
      if (typeof value === 'string') return vs.codes.has(value);
      if (!value || typeof value !== 'object') return false;
      if (isCoding(value)) return codingIn(vs, value);
      const codings = (value as { coding?: Coding[] }).coding;
      return Array.isArray(codings) && codings.some((c) => c && codingIn(vs, c));
    },
  };
}
