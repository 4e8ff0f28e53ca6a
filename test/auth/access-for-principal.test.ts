import { expect } from 'chai';
import type { Observation, Patient } from 'fhir/r4';
import { accessForPrincipal, requireScope } from '../../src/access/scope-access.js';
import type { Principal } from '../../src/identity/principal.js';
import { parseScopes } from '../../src/identity/scopes.js';
import { FhirError } from '../../src/fhir/errors.js';

const VITALS = 'http://terminology.hl7.org/CodeSystem/observation-category|vital-signs';

function principal(scope: string, kind: Principal['kind'] = 'patient'): Principal {
  return { kind, clientId: 'app', scopes: parseScopes(scope), ...(kind === 'patient' ? { patientId: 'p1', fhirUser: 'Patient/p1' } : {}), grantId: 'g', tokenId: 't' };
}

function obs(patient: string, category?: string): Observation {
  const [system, code] = (category ?? '').split('|');
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { text: 'Puls' },
    subject: { reference: `Patient/${patient}` },
    ...(category ? { category: [{ coding: [{ system, code }] }] } : {}),
  };
}

function status(fn: () => void): number | 'allowed' {
  try {
    fn();
    return 'allowed';
  } catch (err) {
    if (err instanceof FhirError) return err.status;
    throw err;
  }
}

describe('access for a principal (self and system paths)', () => {
  it('confines a patient token to its patient’s compartment and to the types its read scopes name', () => {
    const access = accessForPrincipal(principal('patient/Observation.rs patient/Patient.r patient/Condition.c'));
    expect(access.patientId).to.equal('p1');
    expect(access.filters).to.deep.include({ kind: 'compartment', patientIds: ['p1'] });
    expect(access.filters).to.deep.include({ kind: 'types', allowed: ['Observation', 'Patient'] });
  });

  it('compiles a granular read scope into a query filter on its type', () => {
    const access = accessForPrincipal(principal(`patient/Observation.rs?category=${VITALS}`));
    expect(access.filters).to.deep.include({ kind: 'query', resourceType: 'Observation', query: `category=${VITALS}` });
  });

  it('puts no type filter on a wildcard system token', () => {
    expect(accessForPrincipal(principal('system/*.*', 'system')).filters).to.deep.equal([]);
  });

  it('refuses a write no scope covers with 403 insufficient_scope', () => {
    const access = accessForPrincipal(principal('patient/Observation.rs'));
    let error: FhirError | undefined;
    try {
      access.checkWrite('create', obs('p1'), undefined);
    } catch (err) {
      error = err as FhirError;
    }
    expect(error?.status).to.equal(403);
    expect(error?.headers['WWW-Authenticate']).to.include('insufficient_scope');
  });

  it('refuses a write into another patient’s compartment with 403', () => {
    const access = accessForPrincipal(principal('patient/Observation.crus'));
    expect(status(() => access.checkWrite('create', obs('p1'), undefined))).to.equal('allowed');
    expect(status(() => access.checkWrite('create', obs('p2'), undefined))).to.equal(403);
    expect(status(() => access.checkWrite('update', obs('p1'), obs('p2')))).to.equal(403);
  });

  it('lets the patient update their own Patient resource only', () => {
    const access = accessForPrincipal(principal('patient/Patient.ru'));
    const me: Patient = { resourceType: 'Patient', id: 'p1' };
    expect(status(() => access.checkWrite('update', me, me))).to.equal('allowed');
    expect(status(() => access.checkWrite('update', { ...me, id: 'p2' }, { ...me, id: 'p2' }))).to.equal(403);
  });

  it('lets a device bridge create only vital-sign Observations (granular write scope)', () => {
    const access = accessForPrincipal(principal(`patient/Observation.c?category=${VITALS}`));
    expect(status(() => access.checkWrite('create', obs('p1', VITALS), undefined))).to.equal('allowed');
    expect(status(() => access.checkWrite('create', obs('p1', 'http://terminology.hl7.org/CodeSystem/observation-category|laboratory'), undefined))).to.equal(403);
    expect(status(() => access.checkWrite('create', obs('p1'), undefined))).to.equal(403);
  });

  it('requireScope distinguishes read from search', () => {
    const p = principal('patient/Patient.r');
    expect(status(() => requireScope(p, 'Patient', 'r'))).to.equal('allowed');
    expect(status(() => requireScope(p, 'Patient', 's'))).to.equal(403);
  });
});
