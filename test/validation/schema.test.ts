import { createRequire } from 'node:module';
import { expect } from 'chai';
import { Ajv } from 'ajv';
import { validateResource } from '../../src/fhir/validation/validate.js';
import { correctedR4Schema, isR4ResourceType, R4_RESOURCE_TYPES } from '../../src/fhir/validation/r4-schema.js';
import { at, errorsOf } from './support.js';

const require = createRequire(import.meta.url);
const patient = (extra: Record<string, unknown> = {}) => ({ resourceType: 'Patient', id: 'p1', name: [{ family: 'Nordmann', given: ['Kari'] }], ...extra });

describe('validation against the R4 JSON schema', () => {
  it('a well-formed Patient has no issues', () => {
    expect(validateResource(patient({ gender: 'female', birthDate: '1975-04-12', active: true }))).to.deep.equal([]);
  });

  it('an unknown element is a structure error located at that element', () => {
    const issues = validateResource(patient({ nickname: 'K' }));
    expect(at(issues, 'Patient.nickname')).to.have.length(1);
    expect(issues[0]!.code).to.equal('structure');
    expect(issues[0]!.diagnostics).to.match(/^Patient\.nickname: unknown element/);
  });

  it('a missing required element is reported by its name', () => {
    const issues = validateResource({ resourceType: 'Observation', status: 'final' });
    expect(at(issues, 'Observation.code')).to.have.length(1);
    expect(at(issues, 'Observation.code')[0]!.code).to.equal('required');
  });

  it('errors inside arrays carry the index of the element', () => {
    const issues = validateResource(patient({ identifier: [{ system: 'urn:x', value: 'a' }, { system: 'urn:x', value: 7 }] }));
    expect(at(issues, 'Patient.identifier[1].value')[0]!.diagnostics).to.contain('must be a string, found a number');
  });

  it('a repeating element given as a single object must be an array', () => {
    const issues = validateResource(patient({ telecom: { system: 'phone', value: '1' } }));
    expect(at(issues, 'Patient.telecom')[0]!.diagnostics).to.contain('must be an array');
  });

  it('a code outside a required binding lists the allowed codes', () => {
    const issues = validateResource(patient({ gender: 'mal' }));
    expect(at(issues, 'Patient.gender')[0]).to.include({ code: 'code-invalid' });
    expect(at(issues, 'Patient.gender')[0]!.diagnostics).to.contain('male, female, other, unknown');
  });

  it('a malformed date names the FHIR type and its format', () => {
    const issues = validateResource(patient({ birthDate: '1975-13-01' }));
    expect(at(issues, 'Patient.birthDate')[0]!.diagnostics).to.contain('is not a valid date (YYYY, YYYY-MM or YYYY-MM-DD)');
  });

  it('a dateTime with a time but no time zone is refused (choice elements inline the pattern)', () => {
    const issues = validateResource({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, effectiveDateTime: '2025-09-02T09:00:00' });
    expect(at(issues, 'Observation.effectiveDateTime')[0]!.diagnostics).to.contain('not a valid dateTime');
  });

  it('an issue inside a contained resource is located inside it', () => {
    const issues = validateResource(patient({ contained: [{ resourceType: 'Observation', id: 'o', status: 'final', code: { text: 'x' }, colour: 'red' }] }));
    expect(at(issues, 'Patient.contained[0].colour')).to.have.length(1);
  });

  it('a Bundle entry is validated by its own resource type', () => {
    const bundle = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: patient() }, { resource: { resourceType: 'Observation', status: 'done', code: { text: 'x' } } }] };
    const issues = validateResource(bundle);
    expect(issues.map((i) => i.expression?.[0])).to.deep.equal(['Bundle.entry[1].resource.status']);
  });

  it('an unknown resource type, top-level or nested, is not supported', () => {
    expect(validateResource({ resourceType: 'Patent' })[0]).to.include({ code: 'not-supported' });
    const nested = validateResource({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Patent' } }] });
    expect(at(nested, 'Bundle.entry[0].resource')[0]!.diagnostics).to.contain('"Patent" is not a FHIR R4 resource type');
  });

  it('a resource without resourceType, or not an object, is refused', () => {
    expect(validateResource({ id: 'x' })[0]).to.include({ code: 'required' });
    expect(validateResource([patient()])[0]).to.include({ code: 'structure' });
    expect(validateResource(null)[0]).to.include({ code: 'structure' });
  });

  it('the validator leaves the resource untouched', () => {
    const p = patient({ identifier: [{ system: 'urn:oid:2.16.578.1.12.4.1.4.1', value: '12345678901' }], extension: [{ url: 'https://fhir.helsebro.no/StructureDefinition/address-protection', valueCode: 'x' }] });
    const before = JSON.stringify(p);
    validateResource(p);
    expect(JSON.stringify(p)).to.equal(before);
  });

  it('a pathological resource gets at most 100 issues plus a count of the rest', () => {
    const extras = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`x${i}`, 1]));
    const issues = validateResource(patient(extras));
    expect(issues).to.have.length(101);
    expect(issues[100]!.diagnostics).to.equal('50 more issue(s) not listed');
  });
});

describe('the packaged schema corrected back to plain R4', () => {
  it('Medplum\'s own resource types are not FHIR R4 and are refused', () => {
    expect(isR4ResourceType('Project')).to.equal(false);
    expect(isR4ResourceType('ProjectSetting')).to.equal(false);
    expect(validateResource({ resourceType: 'Bot', name: 'x' })[0]).to.include({ code: 'not-supported' });
  });

  it('every one of the 146 R4 resource types (and only those) is known', () => {
    expect(R4_RESOURCE_TYPES).to.have.length(146);
    for (const t of ['Patient', 'Claim', 'ExplanationOfBenefit', 'ImagingStudy', 'MedicinalProduct', 'Bundle', 'Parameters']) expect(isR4ResourceType(t), t).to.equal(true);
  });

  it('Medplum\'s extra elements (Meta.project, Reference.resource) are unknown elements', () => {
    const issues = validateResource(patient({ meta: { project: 'p' }, managingOrganization: { reference: 'Organization/1', resource: {} } }));
    expect(issues.map((i) => i.expression?.[0])).to.have.members(['Patient.meta.project', 'Patient.managingOrganization.resource']);
  });

  it('null keeps a primitive array aligned with its extensions (json.html#primitive)', () => {
    const name = { family: 'Lie', given: ['Jonas', null], _given: [null, { extension: [{ url: 'http://example.org/x', valueString: 'y' }] }] };
    expect(errorsOf(validateResource(patient({ name: [name] })))).to.deep.equal([]);
  });

  it('a no-break space inside a string is allowed (XML Schema \\s, not JavaScript \\s)', () => {
    expect(validateResource(patient({ name: [{ family: 'Nord\u00a0mann' }] }))).to.deep.equal([]);
  });

  it('an empty string is refused', () => {
    expect(at(validateResource(patient({ name: [{ family: '' }] })), 'Patient.name[0].family')[0]!.diagnostics).to.contain('must not be empty');
  });

  it('a code with a double space is refused', () => {
    const issues = validateResource({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'urn:x', code: 'a  b' }] } });
    expect(at(issues, 'Observation.code.coding[0].code')).to.have.length(1);
  });

  it('integers are whole numbers in range: 1.5, a positiveInt of 0 and 2^31 are refused', () => {
    expect(at(validateResource(patient({ multipleBirthInteger: 1.5 })), 'Patient.multipleBirthInteger')).to.have.length(1);
    const rep = (n: number) => ({ resourceType: 'Immunization', status: 'completed', vaccineCode: { text: 'x' }, patient: { reference: 'Patient/p1' }, occurrenceString: 'x', protocolApplied: [{ doseNumberPositiveInt: n }] });
    expect(errorsOf(validateResource(rep(1)))).to.deep.equal([]);
    expect(at(validateResource(rep(0)), 'Immunization.protocolApplied[0].doseNumberPositiveInt')[0]!.diagnostics).to.contain('out of range');
    expect(at(validateResource(rep(2 ** 31)), 'Immunization.protocolApplied[0].doseNumberPositiveInt')).to.have.length(1);
  });

  it('an extension needs its url (Extension.url 1..1)', () => {
    expect(at(validateResource(patient({ extension: [{ valueString: 'x' }] })), 'Patient.extension[0].url')[0]).to.include({ code: 'required' });
  });

  it('the corrected schema is still a valid draft-06 JSON schema', () => {
    const ajv = new Ajv({ strict: false });
    ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json') as object);
    expect(ajv.validateSchema(correctedR4Schema()), JSON.stringify(ajv.errors)).to.equal(true);
  });
});
