import fs from 'node:fs';
import { validateResource } from '../../../src/fhir/validation/validate.js';
const dir = '/work/shared/synthea-r4';
const all: any[] = [];
for (const f of fs.readdirSync(dir)) { const b = JSON.parse(fs.readFileSync(`${dir}/${f}`, 'utf8')); for (const e of b.entry) all.push(e.resource); }
let t0 = Date.now();
for (const r of all) { const i = validateResource(r); if (i.length) console.log(JSON.stringify(i).slice(0, 400)); }
console.log('first pass ms', Date.now() - t0);
t0 = Date.now(); let n = 0;
for (let k = 0; k < 3; k++) for (const r of all) { n++; validateResource(r); }
console.log('per s', Math.round(n / ((Date.now() - t0) / 1000)));
const p = structuredClone(all.find((r) => r.resourceType === 'Patient'));
p.foo = 1; p.birthDate = '1990-13-01'; p.name[0].given = [null, 'x']; p.name[0].family = 'Nord\u00a0mann'; p.contained = [{ resourceType: 'Nope' }, { resourceType: 'Observation', status: 'final', foo: 2 }, {resourceType: 'Project'}];
p.identifier.push({ system: 'urn:oid:2.16.578.1.12.4.1.4.1', value: '12345678901' });
p.multipleBirthInteger = 1.5; p.gender = 'mal'; p.active = 'yes'; p.telecom = {};
p.extension.push({ url: 'https://fhir.helsebro.no/StructureDefinition/nope', valueCode: 'x' });
p.meta = { profile: ['https://fhir.helsebro.no/StructureDefinition/Nope'], project: 'x' };
console.log(JSON.stringify(validateResource(p), null, 1));
