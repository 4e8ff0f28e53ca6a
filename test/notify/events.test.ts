/**
 * `eventsFor(change)` (issue 14): which changes notify whom, as a plain function of FHIR shapes and
 * of the side that wrote. Each event kind, and the near misses that must stay silent.
 */
import { expect } from 'chai';
import type { Communication, Consent, Observation, Resource, Task } from 'fhir/r4';
import type { AccessSide, WriteInteraction } from '../../src/access/access-context.js';
import { CS } from '../../src/access/policy.js';
import { eventsFor } from '../../src/notify/events.js';

const change = (interaction: WriteInteraction, resource: Resource, previous?: Resource, side: AccessSide = 'system') => ({ interaction, resource, previous, side });
const kari = { reference: 'Patient/kari' };
const msg = (over: Partial<Communication> = {}): Communication => ({ resourceType: 'Communication', id: 'm1', status: 'completed', subject: kari, recipient: [kari], sender: { reference: 'Practitioner/lege' }, ...over });
const task = (code: string, status: Task['status'], over: Partial<Task> = {}): Task => ({ resourceType: 'Task', id: 't1', status, intent: 'order', code: { coding: [{ system: CS.taskCode, code }] }, for: kari, ...over });
const obs = (tag: string): Observation => ({ resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'x' }, subject: kari, meta: { tag: [{ system: CS.releaseStatus, code: tag }] } });
const grant = (status: Consent['status']): Consent => ({
  resourceType: 'Consent', id: 'c1', status, patient: kari, scope: { text: 's' }, category: [{ text: 'c' }],
  policyRule: { coding: [{ system: CS.proxyLevel, code: 'full' }] }, provision: { actor: [{ role: { text: 'r' }, reference: { reference: 'RelatedPerson/ola' } }] },
});
const kinds = (c: ReturnType<typeof change>) => eventsFor(c).map((e) => `${e.event}→${e.recipient}`);

describe('eventsFor: which changes notify whom (issue 14)', () => {
  it('a message from the clinic side to the patient or a proxy', () => {
    expect(kinds(change('create', msg({ recipient: [kari, { reference: 'RelatedPerson/ola' }, { reference: 'Practitioner/x' }] })))).to.deep.equal(['new-message→Patient/kari', 'new-message→RelatedPerson/ola']);
    expect(kinds(change('create', msg({ sender: kari })))).to.deep.equal([]); // the patient's own message
    expect(kinds(change('create', msg({ sender: undefined }), undefined, 'patient'))).to.deep.equal([]);
    expect(kinds(change('create', msg({ status: 'preparation' })))).to.deep.equal([]);
    expect(kinds(change('update', msg(), msg()))).to.deep.equal([]);
    expect(kinds(change('create', msg({ recipient: [{ reference: 'Organization/x' }] })))).to.deep.equal([]);
  });

  it('a result whose held-for-review marker is removed', () => {
    expect(kinds(change('update', obs('released'), obs('held')))).to.deep.equal(['result-released→Patient/kari']);
    expect(kinds(change('update', { ...obs('x'), meta: {} }, obs('held')))).to.deep.equal(['result-released→Patient/kari']);
    expect(kinds(change('update', { ...obs('released'), resourceType: 'DiagnosticReport' } as Resource, { ...obs('held'), resourceType: 'DiagnosticReport' } as Resource))).to.deep.equal(['result-released→Patient/kari']);
    expect(kinds(change('create', obs('held')))).to.deep.equal([]);
    expect(kinds(change('update', obs('held'), obs('held')))).to.deep.equal([]);
    expect(kinds(change('update', obs('released'), obs('released')))).to.deep.equal([]);
    expect(kinds(change('delete', obs('held'), obs('held')))).to.deep.equal([]);
  });

  it('a questionnaire or an earlier-time offer created for the patient', () => {
    expect(kinds(change('create', task('complete-questionnaire', 'requested')))).to.deep.equal(['questionnaire→Patient/kari']);
    expect(kinds(change('create', task('earlier-time-offer', 'requested')))).to.deep.equal(['earlier-time-offer→Patient/kari']);
    expect(kinds(change('create', task('earlier-time-offer', 'cancelled')))).to.deep.equal([]);
    expect(kinds(change('update', task('earlier-time-offer', 'requested'), task('earlier-time-offer', 'requested')))).to.deep.equal([]);
  });

  it('an answer to a request, by the clinic side, to whoever asked', () => {
    for (const status of ['completed', 'rejected', 'accepted', 'cancelled'] as const) {
      expect(kinds(change('update', task('change-appointment', status), task('change-appointment', 'requested'), 'clinician'))).to.deep.equal(['request-answered→Patient/kari']);
    }
    const byProxy = { requester: { reference: 'RelatedPerson/ola' } };
    expect(kinds(change('update', task('cancel-appointment', 'completed', byProxy), task('cancel-appointment', 'requested', byProxy)))).to.deep.equal(['request-answered→RelatedPerson/ola']);
    // The patient withdrawing their own request, or answering an offer, is not an answer to them.
    expect(kinds(change('update', task('change-appointment', 'cancelled'), task('change-appointment', 'requested'), 'patient'))).to.deep.equal([]);
    expect(kinds(change('update', task('earlier-time-offer', 'accepted'), task('earlier-time-offer', 'requested')))).to.deep.equal([]);
    expect(kinds(change('update', task('change-appointment', 'in-progress'), task('change-appointment', 'requested')))).to.deep.equal([]);
  });

  it('a proxy grant that becomes active, to the grantee', () => {
    expect(kinds(change('create', grant('active')))).to.deep.equal(['proxy-grant-given→RelatedPerson/ola']);
    expect(kinds(change('update', grant('active'), grant('inactive')))).to.deep.equal(['proxy-grant-given→RelatedPerson/ola']);
    expect(kinds(change('update', grant('active'), grant('active')))).to.deep.equal([]);
    expect(kinds(change('create', grant('inactive')))).to.deep.equal([]);
    expect(kinds(change('create', { ...grant('active'), policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] } } as Consent))).to.deep.equal([]);
  });
});
