/**
 * Structural validation against the R4 JSON schema: one ajv instance, one compiled validator per
 * resource type (compiled on first use and kept), all errors reported. Contained resources, Bundle
 * entries and Parameters resources are dispatched on their `resourceType` to their own type's
 * validator, so a Bundle of Observations costs what the Observations cost.
 */
import { createRequire } from 'node:module';
import { Ajv, type ErrorObject, type SchemaValidateFunction, type ValidateFunction } from 'ajv';
import type { Issue } from '../errors.js';
import { correctedR4Schema, isR4ResourceType, R4_SCHEMA_ID } from './r4-schema.js';
import { issuesFromSchemaErrors } from './schema-errors.js';
import { isBase64 } from './code-rules.js';

const require = createRequire(import.meta.url);

let ajv: Ajv | null = null;
const validators = new Map<string, ValidateFunction>();

/**
 * `fhirResource: true` stands where the schema had a oneOf over every resource type. Errors of the
 * inner resource are re-rooted at the element holding it.
 */
const fhirResource: SchemaValidateFunction = (_schema, data, _parent, cxt) => {
  const type = (data as { resourceType?: unknown } | null)?.resourceType;
  const at = cxt?.instancePath ?? '';
  if (typeof type !== 'string' || !isR4ResourceType(type)) {
    fhirResource.errors = [{ keyword: 'fhirResource', instancePath: at, params: { resourceType: type }, message: 'unknown resource type' }];
    return false;
  }
  const validate = schemaValidator(type);
  if (validate(data)) return true;
  fhirResource.errors = (validate.errors ?? []).map((e) => ({ ...e, instancePath: at + e.instancePath }));
  return false;
};

function instance(): Ajv {
  if (ajv) return ajv;
  // verbose: errors carry the offending value and their schema node (which names the FHIR type).
  const created = new Ajv({ allErrors: true, strict: false, verbose: true, validateSchema: false });
  // The R4 schema declares draft-06; ajv's default draft (07) needs its meta-schema to accept the id.
  created.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json') as object);
  created.addKeyword({ keyword: 'fhirResource', schemaType: 'boolean', errors: true, validate: fhirResource });
  created.addKeyword({ keyword: 'fhirType', schemaType: 'string' });
  created.addKeyword({ keyword: 'fhirBase64', schemaType: 'boolean', type: 'string', errors: false, validate: (_s: boolean, data: string) => isBase64(data) });
  created.addSchema(correctedR4Schema());
  ajv = created;
  return created;
}

/** The compiled validator of one R4 resource type (compiled once, on first use). */
export function schemaValidator(type: string): ValidateFunction {
  let validate = validators.get(type);
  if (!validate) {
    validate = instance().compile({ $ref: `${R4_SCHEMA_ID}#/definitions/${type}` });
    validators.set(type, validate);
  }
  return validate;
}

/** Schema issues of a resource whose `resourceType` is a known R4 type. */
export function schemaIssues(type: string, resource: object): Issue[] {
  const validate = schemaValidator(type);
  if (validate(resource)) return [];
  return issuesFromSchemaErrors(type, (validate.errors ?? []) as ErrorObject[]);
}
