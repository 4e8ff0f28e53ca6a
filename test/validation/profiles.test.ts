import { expect } from 'chai';
import { validateOperation, validateResource } from '../../src/fhir/validation/validate.js';
import { conformance } from '../../src/fhir/validation/conformance.js';
import { hasValidCheckDigits, syntheticFnr } from '../../src/fhir/validation/fnr.js';
import { at, DNR, errorsOf, FNR, HB } from './support.js';

const KARI = syntheticFnr('1975-04-12', 1);
const OLA = syntheticFnr('1973-09-03', 2);
const ROLE = 'http://terminology.hl7.org/CodeSystem/v3-RoleCode';
const PARENTAL = 'http://hl7.no/fhir/CodeSystem/no-basis-parental-responsibility';
const codes = (issues: { diagnostics: string }[]) => issues.map((i) => i.diagnostics).join('\n');

function consent(extra: Record<string, unknown> = {}, provision: Record<string, unknown> = {}) {
  return {
    resourceType: 'Consent',
    meta: { profile: [`${HB}StructureDefinition/HelsebroProxyConsent`] },
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: 'Patient/kari' },
    policyRule: { coding: [{ system: `${HB}CodeSystem/proxy-level`, code: 'read' }] },
    provision: { type: 'permit', actor: [{ role: { coding: [{ system: ROLE, code: 'POWATT' }] }, reference: { reference: 'RelatedPerson/ola' } }], ...provision },
    ...extra,
  };
}

function proxy(extra: Record<string, unknown> = {}) {
  return {
    resourceType: 'RelatedPerson',
    meta: { profile: [`${HB}StructureDefinition/HelsebroProxyRelatedPerson`] },
    identifier: [{ system: FNR, value: OLA }],
    patient: { reference: 'Patient/kari' },
    relationship: [{ coding: [{ system: ROLE, code: 'POWATT' }] }],
    ...extra,
  };
}

function parent(extra: Record<string, unknown> = {}) {
  return {
    resourceType: 'RelatedPerson',
    meta: { profile: [`${HB}StructureDefinition/HelsebroParentRelatedPerson`] },
    identifier: [{ system: FNR, value: OLA }],
    patient: { reference: 'Patient/emma' },
    relationship: [{ coding: [{ system: PARENTAL, code: 'felles' }] }, { coding: [{ system: ROLE, code: 'FTH' }] }],
    address: [{ line: ['Storgata 12'], postalCode: '0155', city: 'Oslo' }],
    ...extra,
  };
}

function note(extra: Record<string, unknown> = {}) {
  return {
    resourceType: 'DocumentReference',
    meta: { profile: [`${HB}StructureDefinition/HelsebroPersonalNote`] },
    status: 'current',
    category: [{ coding: [{ system: `${HB}CodeSystem/document-category`, code: 'personal-note' }] }],
    subject: { reference: 'Patient/kari' },
    author: [{ reference: 'Patient/kari' }],
    content: [{ attachment: { contentType: 'text/plain', data: 'aGVp' } }],
    ...extra,
  };
}

describe('the conformance resources of profiles/', () => {
  it('every file loads and is itself a valid R4 resource', () => {
    const { files } = conformance();
    expect(files.size).to.be.greaterThan(10);
    for (const [name, resource] of files) expect(validateResource(resource), name).to.deep.equal([]);
  });

  it('the agreed canonical URLs are all defined', () => {
    const c = conformance();
    for (const cs of ['proxy-level', 'release-status', 'document-category', 'proxy-restriction', 'account-state', 'address-protection']) {
      expect(c.terminology.codeSystem(`${HB}CodeSystem/${cs}`), cs).to.not.equal(undefined);
    }
    expect([...c.terminology.codeSystem(`${HB}CodeSystem/proxy-level`)!]).to.deep.equal(['standard', 'read', 'communicate', 'full']);
    expect(c.terminology.codeSystem(`${HB}CodeSystem/proxy-restriction`)!.has('no-parent')).to.equal(true);
    expect([...c.extensions.keys()]).to.include.members([`${HB}StructureDefinition/address-protection`, `${HB}StructureDefinition/account-state`]);
    expect([...c.profiles.keys()].map((u) => u.slice(u.lastIndexOf('/') + 1))).to.have.members([
      'HelsebroPatient', 'HelsebroProxyConsent', 'HelsebroProxyRelatedPerson', 'HelsebroParentRelatedPerson', 'HelsebroPersonalNote',
    ]);
  });
});

describe('the Norwegian Patient profile (applies to every Patient)', () => {
  const patient = (value: string, system = FNR) => ({ resourceType: 'Patient', identifier: [{ system: 'urn:x', value: 'a' }, { system, value }] });

  it('a synthetic fødselsnummer with valid check digits passes', () => {
    expect(validateResource(patient(KARI))).to.deep.equal([]);
  });

  it('a fødselsnummer with a wrong check digit is refused at identifier[1].value (hb-nid-1)', () => {
    const wrong = `${KARI.slice(0, 10)}${(Number(KARI[10]) + 1) % 10}`;
    const issues = validateResource(patient(wrong));
    expect(issues).to.have.length(1);
    expect(issues[0]).to.deep.include({ code: 'value', expression: ['Patient.identifier[1].value'] });
    expect(issues[0]!.diagnostics).to.contain('mod-11').and.to.contain('hb-nid-1');
  });

  it('the no-basis example value 13057444850 fails mod-11 (access-spec §2 item 5)', () => {
    expect(errorsOf(validateResource(patient('13057444850')))).to.have.length(1);
  });

  it('a D-nummer (day + 40) is accepted under the D-nummer system and refused under the fødselsnummer system', () => {
    const dnr = syntheticFnr('1975-04-12', 3, true);
    expect(validateResource(patient(dnr, DNR))).to.deep.equal([]);
    const issues = validateResource(patient(dnr, FNR));
    expect(issues[0]).to.deep.include({ expression: ['Patient.identifier[1].system'] });
    expect(issues[0]!.diagnostics).to.contain('hb-nid-2');
  });

  it('digits that are not a date are refused even with valid check digits (hb-nid-2)', () => {
    // The 32nd of a month is neither a date nor a D-nummer; find digits that pass mod-11 anyway.
    const value = Array.from({ length: 100_000 }, (_, i) => `328175${String(i).padStart(5, '0')}`).find(hasValidCheckDigits)!;
    const issues = validateResource(patient(value));
    expect(issues).to.have.length(1);
    expect(issues[0]!.diagnostics).to.contain('its first six digits are not a date (hb-nid-2)');
  });

  it('a fødselsnummer identifier without a value is refused', () => {
    const issues = validateResource({ resourceType: 'Patient', identifier: [{ system: FNR }] });
    expect(issues[0]).to.deep.include({ code: 'required', expression: ['Patient.identifier[0].value'] });
  });

  it('national identifiers are checked in every resource, not only Patients', () => {
    const issues = validateResource({ resourceType: 'Practitioner', identifier: [{ system: FNR, value: '12345678901' }] });
    expect(at(issues, 'Practitioner.identifier[0].value')).to.have.length(1);
    const ref = validateResource({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, performer: [{ identifier: { system: FNR, value: '12345678901' } }] });
    expect(at(ref, 'Observation.performer[0].identifier.value')).to.have.length(1);
  });

  it('address protection takes one of the four registry codes', () => {
    const ext = (valueCode: string) => ({ resourceType: 'Patient', extension: [{ url: `${HB}StructureDefinition/address-protection`, valueCode }] });
    for (const code of ['ugradert', 'fortrolig', 'strengtFortrolig', 'strengtFortroligUtland']) expect(validateResource(ext(code)), code).to.deep.equal([]);
    const issues = validateResource(ext('hemmelig'));
    expect(issues[0]).to.deep.include({ code: 'code-invalid', expression: ['Patient.extension[0].valueCode'] });
  });

  it('address protection occurs at most once and must carry a code', () => {
    const url = `${HB}StructureDefinition/address-protection`;
    const twice = validateResource({ resourceType: 'Patient', extension: [{ url, valueCode: 'fortrolig' }, { url, valueCode: 'ugradert' }] });
    expect(codes(twice)).to.contain('may occur at most 1 time(s), found 2');
    const asString = validateResource({ resourceType: 'Patient', extension: [{ url, valueString: 'fortrolig' }] });
    expect(codes(asString)).to.contain('type String not allowed here, only Code');
  });

  it('the account state extension takes active or deactivated', () => {
    const ext = (valueCode: string) => ({ resourceType: 'Patient', extension: [{ url: `${HB}StructureDefinition/account-state`, valueCode }] });
    expect(validateResource(ext('deactivated'))).to.deep.equal([]);
    expect(errorsOf(validateResource(ext('closed')))).to.have.length(1);
  });

  it('our extensions are refused outside their context, and unknown ones in our namespace are refused', () => {
    const onObservation = validateResource({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, extension: [{ url: `${HB}StructureDefinition/account-state`, valueCode: 'active' }] });
    expect(codes(onObservation)).to.contain('may be used on Patient, not on Observation');
    const typo = validateResource({ resourceType: 'Patient', extension: [{ url: `${HB}StructureDefinition/adress-protection`, valueCode: 'fortrolig' }] });
    expect(typo[0]).to.deep.include({ code: 'structure', expression: ['Patient.extension[0]'] });
  });

  it('other extensions are left alone', () => {
    expect(validateResource({ resourceType: 'Patient', extension: [{ url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex', valueCode: 'F' }] })).to.deep.equal([]);
  });
});

describe('our code systems wherever they are used', () => {
  it('a held result tag is accepted and a misspelt one is refused', () => {
    const obs = (code: string) => ({ resourceType: 'Observation', meta: { tag: [{ system: `${HB}CodeSystem/release-status`, code }] }, status: 'final', code: { text: 'x' } });
    expect(validateResource(obs('held'))).to.deep.equal([]);
    expect(validateResource(obs('released'))).to.deep.equal([]);
    expect(validateResource(obs('hold'))[0]).to.deep.include({ code: 'code-invalid', expression: ['Observation.meta.tag[0].code'] });
  });

  it('a code system in our namespace that profiles/ does not define is refused', () => {
    const obs = { resourceType: 'Observation', meta: { security: [{ system: `${HB}CodeSystem/proxy-restrictions`, code: 'no-parent' }] }, status: 'final', code: { text: 'x' } };
    expect(validateResource(obs)[0]).to.deep.include({ expression: ['Observation.meta.security[0].system'] });
  });
});

describe('the proxy grant profiles (issue 5 data shapes)', () => {
  it('a grant with a level, a grantee and a permit provision passes', () => {
    expect(validateResource(consent())).to.deep.equal([]);
    expect(validateResource(consent({}, { period: { start: '2025-01-01', end: '2026-01-01' } }))).to.deep.equal([]);
    expect(validateResource(proxy())).to.deep.equal([]);
  });

  it('a grant without a level is refused', () => {
    const c = consent();
    delete (c as Partial<typeof c>).policyRule;
    const issues = validateResource(c);
    expect(at(issues, 'Consent.policyRule')[0]).to.include({ code: 'required' });
    expect(codes(issues)).to.contain('hb-consent-2');
  });

  it('a level outside standard|read|communicate|full is refused', () => {
    const issues = validateResource(consent({ policyRule: { coding: [{ system: `${HB}CodeSystem/proxy-level`, code: 'admin' }] } }));
    expect(codes(issues)).to.contain('"admin" is not a code of');
  });

  it('two levels in one grant are refused (hb-consent-2)', () => {
    const policyRule = { coding: [{ system: `${HB}CodeSystem/proxy-level`, code: 'read' }, { system: `${HB}CodeSystem/proxy-level`, code: 'full' }] };
    expect(codes(validateResource(consent({ policyRule })))).to.contain('policyRule carries exactly one proxy level (hb-consent-2)');
  });

  it('a deny provision, a second actor or an actor that is not a RelatedPerson is refused', () => {
    expect(at(validateResource(consent({}, { type: 'deny' })), 'Consent.provision.type')[0]!.diagnostics).to.contain('must be exactly "permit"');
    const actor = { role: { coding: [{ system: ROLE, code: 'POWATT' }] }, reference: { reference: 'RelatedPerson/x' } };
    expect(codes(validateResource(consent({}, { actor: [actor, actor] })))).to.contain('at most 1 allowed, found 2');
    const toPatient = validateResource(consent({}, { actor: [{ ...actor, reference: { reference: 'Patient/ola' } }] }));
    expect(at(toPatient, 'Consent.provision.actor[0].reference')[0]!.diagnostics).to.contain('must refer to RelatedPerson, not Patient');
  });

  it('a grantee still being created in the same transaction (urn:uuid) is accepted', () => {
    const actor = { role: { coding: [{ system: ROLE, code: 'POWATT' }] }, reference: { reference: 'urn:uuid:0b6b0f2e-4c55-4f3a-9d8e-0d3c2a1b9f01' } };
    expect(validateResource(consent({}, { actor: [actor] }))).to.deep.equal([]);
  });

  it('a scope other than patient-privacy and a category without LOINC 59284-0 are refused', () => {
    const scope = validateResource(consent({ scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'research' }] } }));
    expect(at(scope, 'Consent.scope')[0]).to.include({ code: 'value' });
    expect(codes(validateResource(consent({ category: [{ text: 'fullmakt' }] })))).to.contain('hb-consent-1');
  });

  it('a grantee RelatedPerson needs a national identifier and the POWATT relationship', () => {
    const noFnr = validateResource(proxy({ identifier: [{ system: 'urn:x', value: '1' }] }));
    expect(codes(noFnr)).to.contain('hb-proxy-1');
    const noPowatt = validateResource(proxy({ relationship: [{ coding: [{ system: ROLE, code: 'FRND' }] }] }));
    expect(codes(noPowatt)).to.contain('hb-proxy-2');
  });

  it('the grantee\'s fødselsnummer must be valid', () => {
    expect(at(validateResource(proxy({ identifier: [{ system: FNR, value: '11111111111' }] })), 'RelatedPerson.identifier[0].value')).to.have.length(1);
  });
});

describe('the parent profile (register data)', () => {
  it('a parent with foreldreansvar, a national identifier and a home address passes', () => {
    expect(validateResource(parent())).to.deep.equal([]);
  });

  it('each of felles, mor, far, medmor and andre is accepted; foster parents (ukjent, other codes) are not', () => {
    for (const code of ['felles', 'mor', 'far', 'medmor', 'andre']) expect(validateResource(parent({ relationship: [{ coding: [{ system: PARENTAL, code }] }] })), code).to.deep.equal([]);
    expect(codes(validateResource(parent({ relationship: [{ coding: [{ system: PARENTAL, code: 'ukjent' }] }] })))).to.contain('hb-parent-2');
    expect(codes(validateResource(parent({ relationship: [{ coding: [{ system: ROLE, code: 'FTH' }] }] })))).to.contain('hb-parent-2');
  });

  it('a parent without a home address is refused (the same-address rule needs it)', () => {
    const p = parent();
    delete (p as Partial<typeof p>).address;
    expect(at(validateResource(p), 'RelatedPerson.address')[0]).to.include({ code: 'required' });
  });
});

describe('the personal note profile', () => {
  it('a note by the patient or by a RelatedPerson passes', () => {
    expect(validateResource(note())).to.deep.equal([]);
    expect(validateResource(note({ author: [{ reference: 'RelatedPerson/marte' }] }))).to.deep.equal([]);
  });

  it('a note written by a Practitioner, or without the personal-note category, is refused', () => {
    expect(at(validateResource(note({ author: [{ reference: 'Practitioner/anne' }] })), 'DocumentReference.author[0]')[0]!.diagnostics).to.contain('must refer to Patient or RelatedPerson');
    expect(codes(validateResource(note({ category: [{ coding: [{ system: `${HB}CodeSystem/document-category`, code: 'clinical-note' }] }] })))).to.contain('hb-note-1');
  });
});

describe('choosing the profiles to check', () => {
  it('a profile is applied when meta.profile names it, also inside a Bundle', () => {
    const bundle = { resourceType: 'Bundle', type: 'transaction', entry: [{ fullUrl: 'urn:uuid:0b6b0f2e-4c55-4f3a-9d8e-0d3c2a1b9f02', resource: consent({}, { type: 'deny' }), request: { method: 'POST', url: 'Consent' } }] };
    expect(at(validateResource(bundle), 'Bundle.entry[0].resource.provision.type')).to.have.length(1);
  });

  it('the default Patient profile applies to contained Patients too', () => {
    const obs = { resourceType: 'Observation', status: 'final', code: { text: 'x' }, contained: [{ resourceType: 'Patient', id: 'p', identifier: [{ system: FNR, value: '11111111111' }] }], subject: { reference: '#p' } };
    expect(at(validateResource(obs), 'Observation.contained[0].identifier[0].value')).to.have.length(1);
  });

  it('a profile can be asked for explicitly ($validate?profile=)', () => {
    const plain = { ...consent(), meta: undefined };
    expect(validateResource(plain)).to.deep.equal([]);
    expect(codes(validateResource({ ...plain, policyRule: undefined }, { profiles: [`${HB}StructureDefinition/HelsebroProxyConsent`] }))).to.contain('hb-consent-2');
  });

  it('claiming an unknown profile in our namespace, or one for another type, is an error', () => {
    expect(validateResource({ resourceType: 'Patient', meta: { profile: [`${HB}StructureDefinition/HelsebroPasient`] } })[0]).to.include({ code: 'not-found' });
    expect(validateResource({ resourceType: 'Patient', meta: { profile: [`${HB}StructureDefinition/HelsebroProxyConsent`] } })[0]!.diagnostics).to.contain('is for Consent, not Patient');
  });

  it('other claimed profiles (US Core on Synthea data) are not checked, and $validate says so', () => {
    const p = { resourceType: 'Patient', meta: { profile: ['http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient'] } };
    expect(validateResource(p)).to.deep.equal([]);
    const outcome = validateOperation(p);
    expect(outcome.issue.map((i) => i.diagnostics)).to.deep.equal([
      'meta.profile http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient is not known to this server and was not checked',
      'Validation successful: no errors found',
    ]);
  });

  it('$validate with an unknown profile parameter is an error, and errors come back as an OperationOutcome', () => {
    expect(validateOperation({ resourceType: 'Patient' }, 'http://example.org/StructureDefinition/x').issue[0]).to.include({ severity: 'error', code: 'not-found' });
    const outcome = validateOperation({ resourceType: 'Patient', gender: 'x' });
    expect(outcome.resourceType).to.equal('OperationOutcome');
    expect(outcome.issue[0]).to.deep.include({ severity: 'error', expression: ['Patient.gender'] });
  });
});
