/**
 * Our conformance resources from profiles/ (StructureDefinitions, CodeSystems, ValueSets), loaded
 * and compiled once. A file the engine cannot fully enforce stops the server at start (see
 * compile-profile.ts) instead of being half-applied. SearchParameters in the same folder belong to
 * the definitions registry and are skipped here.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { CodeSystem, Resource, StructureDefinition, ValueSet } from 'fhir/r4';
import { PROFILES_DIR } from '../../paths.js';
import { compileStructureDefinition, type CompiledProfile } from './compile-profile.js';
import { localTerminologyFunctions } from './invariants.js';
import { buildTerminology, ProfileLoadError, type Terminology } from './terminology.js';

/** Canonical base of everything we define (coordinated with the access engine through these URLs). */
export const HELSEBRO_CANONICAL = 'https://fhir.helsebro.no/';

export interface Conformance {
  terminology: Terminology;
  /** Resource profiles by canonical URL. */
  profiles: ReadonlyMap<string, CompiledProfile>;
  /** Extension definitions by canonical URL. */
  extensions: ReadonlyMap<string, CompiledProfile>;
  /** Profiles that apply to every resource of a type. */
  defaults: ReadonlyMap<string, CompiledProfile[]>;
  /** The resources as loaded, by file name. */
  files: ReadonlyMap<string, Resource>;
}

export function readConformanceFiles(dir: string): Map<string, Resource> {
  const files = new Map<string, Resource>();
  if (!fs.existsSync(dir)) return files;
  for (const name of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    let json: unknown;
    try {
      json = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8'));
    } catch (err) {
      throw new ProfileLoadError(`profiles/${name} is not valid JSON: ${(err as Error).message}`);
    }
    files.set(name, json as Resource);
  }
  return files;
}

export function loadConformance(dir: string = PROFILES_DIR): Conformance {
  const files = readConformanceFiles(dir);
  const sds: StructureDefinition[] = [];
  const codeSystems: CodeSystem[] = [];
  const valueSets: ValueSet[] = [];
  for (const [name, r] of files) {
    if (r.resourceType === 'StructureDefinition') sds.push(r as StructureDefinition);
    else if (r.resourceType === 'CodeSystem') codeSystems.push(r as CodeSystem);
    else if (r.resourceType === 'ValueSet') valueSets.push(r as ValueSet);
    else if (r.resourceType !== 'SearchParameter') throw new ProfileLoadError(`profiles/${name}: ${String(r.resourceType)} is not a conformance resource this server loads`);
  }
  const terminology = buildTerminology(codeSystems, valueSets);
  const typeByUrl = new Map(sds.map((sd) => [sd.url, sd.type]));
  const ctx = { terminology, functions: localTerminologyFunctions(terminology), typeOfProfile: (url: string) => typeByUrl.get(url) };
  const profiles = new Map<string, CompiledProfile>();
  const extensions = new Map<string, CompiledProfile>();
  const defaults = new Map<string, CompiledProfile[]>();
  for (const sd of sds) {
    if (!sd.url) throw new ProfileLoadError(`StructureDefinition/${sd.id} has no url`);
    if (profiles.has(sd.url) || extensions.has(sd.url)) throw new ProfileLoadError(`${sd.url} is defined twice in profiles/`);
    const compiled = compileStructureDefinition(sd, ctx);
    if (sd.type === 'Extension') {
      if (compiled.context.length === 0) throw new ProfileLoadError(`${sd.url}: an extension definition needs an element context`);
      extensions.set(sd.url, compiled);
      continue;
    }
    profiles.set(sd.url, compiled);
    if (compiled.isDefault) defaults.set(sd.type, [...(defaults.get(sd.type) ?? []), compiled]);
  }
  return { terminology, profiles, extensions, defaults, files };
}

let loaded: Conformance | null = null;

/** The conformance resources of profiles/, loaded on first use and kept. */
export function conformance(): Conformance {
  loaded ??= loadConformance();
  return loaded;
}
