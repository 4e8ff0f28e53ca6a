import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4/index.js';
import { conformance } from '../../../src/fhir/validation/conformance.js';
import { hasValidCheckDigits, syntheticFnr } from '../../../src/fhir/validation/fnr.js';
const sd: any = conformance().files.get('StructureDefinition-HelsebroPatient.json');
const expr = sd.differential.element.find((e: any) => e.path === 'Patient.identifier').constraint[0].expression;
const fn = fhirpath.compile({ base: 'Patient.identifier', expression: expr }, r4 as never);
let agree = 0, disagree = 0;
const t0 = Date.now();
for (let i = 0; i < 20000; i++) {
  const v = i % 2 ? syntheticFnr('1980-05-17', i) : String(Math.floor(Math.random() * 1e11)).padStart(11, '0');
  const id = { system: 'urn:oid:2.16.578.1.12.4.1.4.1', value: v };
  const before = JSON.stringify(id);
  const r = fn(id);
  if (JSON.stringify(id) !== before) throw new Error('mutated');
  const ok = r.length === 1 && r[0] === true;
  if (ok === hasValidCheckDigits(v)) agree++; else { disagree++; if (disagree < 5) console.log(v, r); }
}
console.log(agree, disagree, Date.now() - t0);
console.log(fn({ system: 'x', value: '1' }), fn({ system: 'urn:oid:2.16.578.1.12.4.1.4.1' }));
