import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { loadConformance } from '../../src/fhir/validation/conformance.js';
import { ProfileLoadError } from '../../src/fhir/validation/terminology.js';
import { PROFILES_DIR } from '../../src/paths.js';

const CORE = 'http://hl7.org/fhir/StructureDefinition/';

function profile(elements: unknown[], extra: Record<string, unknown> = {}) {
  return {
    resourceType: 'StructureDefinition', id: 'T', url: 'https://fhir.helsebro.no/StructureDefinition/T', name: 'T', status: 'draft', kind: 'resource', abstract: false,
    type: 'Patient', baseDefinition: `${CORE}Patient`, derivation: 'constraint', differential: { element: elements }, ...extra,
  };
}

/** loadConformance on a folder holding exactly these resources. */
function load(...resources: unknown[]) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'profiles-'));
  try {
    resources.forEach((r, i) => fs.writeFileSync(path.join(dir, `${i}.json`), JSON.stringify(r)));
    return loadConformance(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('loading profiles: what the engine cannot enforce stops the start', () => {
  it('the shipped profiles/ folder loads', () => {
    expect(loadConformance(PROFILES_DIR).profiles.size).to.equal(5);
  });

  it('an element constraint the engine does not implement (maxLength) is refused by name', () => {
    expect(() => load(profile([{ id: 'Patient.name.family', path: 'Patient.name.family', maxLength: 30 }]))).to.throw(ProfileLoadError, 'Patient.name.family uses maxLength');
  });

  it('slicing anything but extensions by url is refused', () => {
    const el = { id: 'Patient.identifier', path: 'Patient.identifier', slicing: { discriminator: [{ type: 'value', path: 'system' }], rules: 'open' } };
    expect(() => load(profile([el]))).to.throw(ProfileLoadError, 'only extensions sliced by url');
  });

  it('a required binding to a ValueSet that is not in profiles/ is refused', () => {
    const el = { id: 'Patient.maritalStatus', path: 'Patient.maritalStatus', binding: { strength: 'required', valueSet: 'http://example.org/ValueSet/x' } };
    expect(() => load(profile([el]))).to.throw(ProfileLoadError, 'not a ValueSet in profiles/');
  });

  it('an invariant that is not valid FHIRPath is refused', () => {
    const el = { id: 'Patient', path: 'Patient', constraint: [{ key: 't-1', severity: 'error', human: 'x', expression: 'name.where(' }] };
    expect(() => load(profile([el]))).to.throw(ProfileLoadError, 'constraint t-1 is not valid FHIRPath');
  });

  it('a ValueSet with a filter cannot be expanded locally and is refused', () => {
    const vs = { resourceType: 'ValueSet', url: 'https://fhir.helsebro.no/ValueSet/f', status: 'draft', compose: { include: [{ system: 'http://loinc.org', filter: [{ property: 'x', op: '=', value: 'y' }] }] } };
    expect(() => load(vs)).to.throw(ProfileLoadError, 'filter is not supported');
  });

  it('a profile on another profile (not directly on the core type) is refused', () => {
    expect(() => load(profile([], { baseDefinition: 'https://fhir.helsebro.no/StructureDefinition/Other' }))).to.throw(ProfileLoadError, 'must be based directly on');
  });

  it('a file that is not JSON is refused with its name', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'profiles-'));
    fs.writeFileSync(path.join(dir, 'broken.json'), '{');
    try {
      expect(() => loadConformance(dir)).to.throw(ProfileLoadError, 'profiles/broken.json is not valid JSON');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a profile marked default applies to its type from the loaded folder', () => {
    const c = load(profile([{ id: 'Patient.birthDate', path: 'Patient.birthDate', min: 1 }], { extension: [{ url: 'https://fhir.helsebro.no/StructureDefinition/default-profile', valueBoolean: true }] }));
    expect(c.defaults.get('Patient')!.map((p) => p.name)).to.deep.equal(['T']);
  });
});
