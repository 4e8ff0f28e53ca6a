/**
 * The decision functions called directly: slices classify resources as the seeds describe them,
 * every slice query compiles into SQL, and the clinician column (no HelseID login in this wave)
 * is enforced by the same decision code as the others.
 */
import { expect } from 'chai';
import type { DocumentReference, Observation } from 'fhir/r4';
import { checkPolicyWrite, policyFilters, sliceVars } from '../../src/access/decide.js';
import { ACTORS, CS, POLICY, POLICY_TYPES } from '../../src/access/policy.js';
import { sliceOf } from '../../src/access/slices.js';
import { compileAccessPredicate } from '../../src/fhir/search/access-sql.js';
import { FhirError } from '../../src/fhir/errors.js';

const vars = sliceVars({ actor: 'full', patientId: 'kari', actorRef: 'RelatedPerson/astrid', grantRef: 'Consent/astrid' }, { now: new Date('2026-12-01T12:00:00Z') });
const note: DocumentReference = { resourceType: 'DocumentReference', status: 'current', subject: { reference: 'Patient/kari' }, category: [{ coding: [{ system: CS.documentCategory, code: 'personal-note' }] }], content: [{ attachment: { contentType: 'text/plain' } }] };
const obs = (extra: Partial<Observation>): Observation => ({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/kari' }, ...extra });

describe('the access policy as code', () => {
  it('classifies resources into the slices the seeds speak of', () => {
    expect(sliceOf(note, vars)?.slice).to.equal('personal note');
    expect(sliceOf({ ...note, category: [{ coding: [{ system: CS.documentCategory, code: 'clinical-note' }] }] }, vars)?.slice).to.equal('clinical');
    expect(sliceOf(obs({ meta: { tag: [{ system: CS.releaseStatus, code: 'held' }] } }), vars)?.slice).to.equal('held for review');
    // Held wins over patient-generated: first matching slice decides.
    expect(sliceOf(obs({ meta: { tag: [{ system: CS.releaseStatus, code: 'held' }] }, performer: [{ reference: 'Patient/kari' }] }), vars)?.slice).to.equal('held for review');
    expect(sliceOf(obs({ performer: [{ reference: 'Patient/kari' }] }), vars)?.slice).to.equal('patient-generated');
    expect(sliceOf(obs({}), vars)?.slice).to.equal('released');
    expect(sliceOf({ resourceType: 'Appointment', status: 'booked', start: '2026-11-30T10:00:00Z', participant: [] }, vars)?.slice).to.equal('previous');
    expect(sliceOf({ resourceType: 'Appointment', status: 'booked', start: '2026-12-02T10:00:00Z', participant: [] }, vars)?.slice).to.equal('upcoming');
    expect(sliceOf({ resourceType: 'Appointment', status: 'proposed', participant: [] }, vars)?.slice, 'no time yet: not in the past').to.equal('upcoming');
    expect(sliceOf({ resourceType: 'RelatedPerson', id: 'astrid', patient: { reference: 'Patient/kari' } }, vars)?.slice).to.equal('the actor’s own');
    expect(sliceOf({ resourceType: 'CarePlan', status: 'active', intent: 'plan', subject: { reference: 'Patient/kari' } }, vars)).to.equal(null);
  });

  it('every actor’s filters compile into SQL for every type the policy names', () => {
    for (const actor of ACTORS) {
      const filters = policyFilters(actor, vars);
      for (const type of [...POLICY_TYPES, '*']) expect(() => compileAccessPredicate(type, filters, 'r', []), `${actor} ${type}`).not.to.throw();
    }
  });

  it('clinicians and systems never see or write personal notes (S16), and only they may handle held results', () => {
    for (const actor of ['clinician', 'system'] as const) {
      const hide = policyFilters(actor, vars).find((f) => f.kind === 'predicate' && f.resourceType === 'DocumentReference');
      expect(hide, actor).to.not.equal(undefined);
      expect(() => checkPolicyWrite(actor, vars, 'create', note, undefined)).to.throw(FhirError, /personal note/);
    }
    const held = obs({ meta: { tag: [{ system: CS.releaseStatus, code: 'held' }] } });
    expect(() => checkPolicyWrite('clinician', vars, 'update', { ...held, meta: { tag: [{ system: CS.releaseStatus, code: 'released' }] } }, held)).not.to.throw();
    for (const actor of ['self', 'full', 'parent'] as const) expect(() => checkPolicyWrite(actor, vars, 'update', held, held), actor).to.throw(FhirError);
  });

  it('a Full proxy may change a note but not delete it (A4); the patient may delete it', () => {
    expect(() => checkPolicyWrite('full', vars, 'update', note, note)).not.to.throw();
    expect(() => checkPolicyWrite('full', vars, 'delete', note, note)).to.throw(FhirError);
    expect(() => checkPolicyWrite('self', vars, 'delete', note, note)).not.to.throw();
  });

  it('nobody moves a resource out of a slice they may not write: a note cannot be turned into a clinical document', () => {
    const clinical = { ...note, category: [{ coding: [{ system: CS.documentCategory, code: 'clinical-note' }] }] };
    expect(() => checkPolicyWrite('full', vars, 'update', clinical, note)).to.throw(FhirError);
  });

  it('every row names the seed it rests on', () => {
    for (const row of POLICY) expect(row.seed, `${row.resourceType} ${row.slice}`).to.have.length.greaterThan(5);
  });
});
