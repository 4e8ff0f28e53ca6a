import { expect } from 'chai';
import {
  formatScopes,
  intersectScopes,
  isSubsetOf,
  parseScope,
  parseScopes,
  restrictionsAsQuery,
  scopeAllows,
  scopeRestrictions,
} from '../../src/identity/scopes.js';

const LAB = 'category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory';
const VITALS = 'category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs';

describe('SMART scope grammar', () => {
  it('parses a v2 scope with its interactions in grammar order', () => {
    expect(parseScope('patient/Observation.rs')).to.deep.include({ context: 'patient', resourceType: 'Observation', interactions: ['r', 's'], version: 'v2' });
  });

  it('rejects out-of-order v2 letters such as .dus', () => {
    expect(parseScope('patient/Observation.dus')).to.equal(null);
    expect(parseScope('patient/Observation.rr')).to.equal(null);
  });

  it('maps v1 .read to rs, .write to cud and .* to cruds', () => {
    expect(parseScope('user/Patient.read')).to.deep.include({ interactions: ['r', 's'], version: 'v1' });
    expect(parseScope('user/Patient.write')).to.deep.include({ interactions: ['c', 'u', 'd'] });
    expect(parseScope('system/*.*')).to.deep.include({ resourceType: '*', interactions: ['c', 'r', 'u', 'd', 's'] });
  });

  it('keeps a granular ?category= restriction as name/value pairs', () => {
    const s = parseScope(`patient/Observation.rs?${LAB}`);
    expect(s).to.deep.include({ query: [['category', LAB.slice('category='.length)]] });
  });

  it('accepts the context, identity and refresh scopes and drops unknown words', () => {
    const parsed = parseScopes('openid fhirUser launch launch/patient offline_access online_access banana patient/observation.rs');
    expect(formatScopes(parsed)).to.equal('openid fhirUser launch launch/patient offline_access online_access');
  });

  it('writes a v1 scope back in v1 form and a cut v1 scope in v2 form', () => {
    const ceiling = parseScopes('patient/Observation.rs patient/Appointment.c');
    expect(formatScopes(intersectScopes(parseScopes('patient/Observation.read patient/Appointment.write'), ceiling))).to.equal(
      'patient/Observation.read patient/Appointment.c',
    );
  });
});

describe('scope intersection (granted = requested ∩ ceiling)', () => {
  it('turns a requested wildcard into the explicit types of the ceiling', () => {
    const granted = intersectScopes(parseScopes('patient/*.rs'), parseScopes('patient/Observation.rs patient/Condition.r'));
    expect(formatScopes(granted)).to.equal('patient/Observation.rs patient/Condition.r');
  });

  it('keeps a requested granular restriction', () => {
    const granted = intersectScopes(parseScopes(`patient/Observation.rs?${LAB}`), parseScopes('patient/*.cruds'));
    expect(formatScopes(granted)).to.equal(`patient/Observation.rs?${LAB}`);
  });

  it('adds the ceiling restriction to an unrestricted request', () => {
    const granted = intersectScopes(parseScopes('patient/Observation.cruds'), parseScopes(`patient/Observation.c?${VITALS}`));
    expect(formatScopes(granted)).to.equal(`patient/Observation.c?${VITALS}`);
  });

  it('never grants a different context', () => {
    expect(intersectScopes(parseScopes('system/*.rs user/Patient.r'), parseScopes('patient/*.cruds'))).to.deep.equal([]);
  });

  it('grants named scopes only when the ceiling names them', () => {
    expect(formatScopes(intersectScopes(parseScopes('openid fhirUser offline_access'), parseScopes('openid fhirUser')))).to.equal('openid fhirUser');
  });
});

describe('scope checks for the resource server', () => {
  const scopes = parseScopes(`patient/Patient.r patient/Observation.rs?${LAB} patient/Observation.s?${VITALS} system/Condition.cud`);

  it('allows a covered type and interaction, in its context only', () => {
    expect(scopeAllows(scopes, 'patient', 'Patient', 'r')).to.equal(true);
    expect(scopeAllows(scopes, 'patient', 'Patient', 's')).to.equal(false);
    expect(scopeAllows(scopes, 'system', 'Patient', 'r')).to.equal(false);
    expect(scopeAllows(scopes, 'patient', 'Condition', 'c')).to.equal(false);
  });

  it('reports the granular alternatives, compiled to one comma-OR query', () => {
    const restrictions = scopeRestrictions(scopes, 'patient', 'Observation', 's');
    expect(restrictions).to.have.length(2);
    expect(restrictionsAsQuery(restrictions!)).to.equal(
      'category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory,http://terminology.hl7.org/CodeSystem/observation-category|vital-signs',
    );
    expect(scopeRestrictions(scopes, 'patient', 'Patient', 'r')).to.deep.equal([]);
    expect(scopeRestrictions(scopes, 'patient', 'Encounter', 'r')).to.equal(null);
  });
});

describe('refresh narrowing', () => {
  const granted = parseScopes(`launch/patient patient/Observation.rs patient/Condition.rs?${LAB}`);

  it('accepts a strict subset', () => {
    expect(isSubsetOf(parseScopes('patient/Observation.r'), granted)).to.equal(true);
    expect(isSubsetOf(parseScopes(`patient/Condition.r?${LAB}`), granted)).to.equal(true);
  });

  it('refuses a widening: new type, new interaction, wildcard, dropped restriction, new named scope', () => {
    expect(isSubsetOf(parseScopes('patient/Encounter.r'), granted)).to.equal(false);
    expect(isSubsetOf(parseScopes('patient/Observation.c'), granted)).to.equal(false);
    expect(isSubsetOf(parseScopes('patient/*.r'), granted)).to.equal(false);
    expect(isSubsetOf(parseScopes('patient/Condition.r'), granted)).to.equal(false);
    expect(isSubsetOf(parseScopes('offline_access'), granted)).to.equal(false);
  });
});
