/**
 * The request decisions as pure functions (issue 13), table-driven: renewability, a new request's
 * content and owner, the patient side's and the clinic's changes, and medication comments.
 */
import { expect } from 'chai';
import type { AllergyIntolerance, MedicationRequest, Task } from 'fhir/r4';
import { decideMedicationComment } from '../../../src/portal/requests/medication-comment.js';
import { decideRenewable } from '../../../src/portal/requests/decide-renewal.js';
import { decideNewRequest, RECORDS_DAYS, type NewRequestFacts } from '../../../src/portal/requests/decide-request.js';
import { decideClinicAnswer, decidePatientUpdate } from '../../../src/portal/requests/decide-update.js';
import type { FhirError } from '../../../src/fhir/errors.js';

const NOW = new Date('2026-12-03T12:00:00Z');
const CS = 'https://fhir.helsebro.no/CodeSystem/task-code';
const KARI = 'Patient/kari-nordmann';
const mr = (o: Partial<MedicationRequest>): MedicationRequest => ({ resourceType: 'MedicationRequest', id: 'm1', status: 'active', intent: 'order', subject: { reference: KARI }, medicationCodeableConcept: { text: 'Metformin' }, ...o });
const task = (code: string, o: Partial<Task> = {}): Task => ({ resourceType: 'Task', status: 'requested', intent: 'order', code: { coding: [{ system: CS, code }] }, for: { reference: KARI }, ...o });
const facts = (t: Task, o: Partial<NewRequestFacts> = {}): NewRequestFacts => ({
  task: t, code: t.code!.coding![0]!.code as NewRequestFacts['code'], patientSide: true, patientRef: KARI, now: NOW,
  focus: undefined, focusPatient: null, focusOwner: null, defaultOwner: 'Organization/helsebro-legesenter', givenOwnerValid: false, openDuplicate: null, ...o,
});
const refusal = (f: NewRequestFacts): FhirError => {
  const d = decideNewRequest(f);
  if (d.ok) throw new Error('expected a refusal');
  return d.error;
};
const where = (e: FhirError | null) => e?.issues[0]?.expression?.[0];

describe('request decisions (issue 13)', () => {
  describe('decideRenewable', () => {
    const cases: Array<[string, Partial<MedicationRequest>, boolean]> = [
      ['active', {}, true],
      ['completed 3 months ago', { status: 'completed', dispenseRequest: { validityPeriod: { end: '2026-09-01' } } }, true],
      ['completed 13 months ago', { status: 'completed', dispenseRequest: { validityPeriod: { end: '2025-11-01' } } }, false],
      ['completed, no validity: a year after authoredOn (2026-01-10 → 2027)', { status: 'completed', authoredOn: '2026-01-10' }, true],
      ['completed, written 2023 (ended 2024)', { status: 'completed', authoredOn: '2023-05-01' }, false],
      ['completed, no dates', { status: 'completed' }, false],
      ['stopped by the prescriber', { status: 'stopped' }, false],
      ['on hold', { status: 'on-hold' }, false],
      ['cancelled', { status: 'cancelled' }, false],
      ['entered in error', { status: 'entered-in-error' }, false],
      ['draft', { status: 'draft' }, false],
      ['a plan, not an order', { intent: 'plan' }, false],
    ];
    for (const [name, o, renewable] of cases) {
      it(`${name} → ${renewable ? 'renewable' : 'not renewable'}`, () => {
        const d = decideRenewable(mr(o), NOW);
        expect(d.renewable).to.equal(renewable);
        if (!d.renewable) expect(d.why).to.contain('MedicationRequest/m1');
      });
    }
  });

  describe('decideNewRequest', () => {
    const renewal = task('renew-prescription', { focus: { reference: 'MedicationRequest/m1' } });
    const renewalFacts = (o: Partial<NewRequestFacts> = {}) => facts(renewal, { focus: mr({}), focusPatient: KARI, focusOwner: 'Organization/helsebro-legesenter', ...o });

    it('a renewal of an own active prescription → owner from the prescription, authoredOn now', () => {
      const d = decideNewRequest(renewalFacts());
      expect(d.ok).to.equal(true);
      if (d.ok) expect(d.fill).to.deep.include({ owner: { reference: 'Organization/helsebro-legesenter' }, authoredOn: '2026-12-03T12:00:00Z' });
    });
    it('someone else\'s or an unknown prescription → 403 naming Task.focus, the same words for both', () => {
      const other = refusal(renewalFacts({ focusPatient: 'Patient/ola-nordmann', focusOwner: null }));
      const unknown = refusal(renewalFacts({ focus: undefined, focusPatient: null, focusOwner: null }));
      expect([other.status, unknown.status]).to.deep.equal([403, 403]);
      expect(where(other)).to.equal('Task.focus');
      expect(other.message).to.equal(unknown.message);
    });
    it('a prescription entered in error → 422 naming Task.focus', () => {
      const e = refusal(renewalFacts({ focus: mr({ status: 'entered-in-error' }) }));
      expect([e.status, where(e)]).to.deep.equal([422, 'Task.focus']);
    });
    it('a second open renewal of the same prescription → 422 naming the open one', () => {
      const e = refusal(renewalFacts({ openDuplicate: 'Task/r1' }));
      expect(e.status).to.equal(422);
      expect(e.message).to.contain('Task/r1');
    });
    it('a focus that is not a MedicationRequest → 422', () => {
      const e = refusal(facts({ ...renewal, focus: { reference: 'Observation/x' } }));
      expect([e.status, where(e)]).to.deep.equal([422, 'Task.focus']);
    });
    it('an owner other than the prescriber\'s clinic → 422 naming Task.owner', () => {
      const e = refusal(renewalFacts({ task: { ...renewal, owner: { reference: 'Organization/helsebro-fysioterapi' } }, givenOwnerValid: true }));
      expect([e.status, where(e)]).to.deep.equal([422, 'Task.owner']);
    });
    it('status other than requested, another intent, or for another patient → 422', () => {
      expect(where(refusal(facts({ ...renewal, status: 'completed' })))).to.equal('Task.status');
      expect(where(refusal(facts({ ...renewal, intent: 'proposal' })))).to.equal('Task.intent');
      expect(where(refusal(facts({ ...renewal, for: { reference: 'Patient/ola-nordmann' } })))).to.equal('Task.for');
    });
    for (const field of ['output', 'businessStatus', 'statusReason', 'restriction', 'executionPeriod']) {
      it(`the patient side sending ${field} → 403 naming Task.${field}`, () => {
        const e = refusal(renewalFacts({ task: { ...renewal, [field]: field === 'output' ? [{ type: { text: 'x' }, valueString: 'x' }] : { text: 'x' } } as Task }));
        expect([e.status, where(e)]).to.deep.equal([403, `Task.${field}`]);
      });
    }
    it('an allergy addition needs exactly one "allergy" input; unknown inputs and empty values → 422 naming the input', () => {
      const base = task('add-allergy');
      expect(where(refusal(facts(base)))).to.equal('Task.input');
      expect(where(refusal(facts({ ...base, input: [{ type: { text: 'allergy' }, valueString: 'Nøtter' }, { type: { text: 'colour' }, valueString: 'blå' }] })))).to.equal('Task.input[1]');
      expect(where(refusal(facts({ ...base, input: [{ type: { text: 'allergy' }, valueString: '  ' }] })))).to.equal('Task.input[0]');
      expect(where(refusal(facts({ ...base, input: [{ type: { text: 'allergy' }, valueString: 'x'.repeat(5000) }] })))).to.equal('Task.input[0]');
      const ok = decideNewRequest(facts({ ...base, input: [{ type: { text: 'allergy' }, valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '91935009', display: 'Allergy to peanuts' }] } }, { type: { text: 'when' }, valueDateTime: '2026-10' }] }));
      expect(ok.ok).to.equal(true);
      if (ok.ok) expect(ok.fill.owner).to.deep.equal({ reference: 'Organization/helsebro-legesenter' });
    });
    it('a municipal application without an owner → 422 naming Task.owner (the municipality is not the GP)', () => {
      const app = task('apply-municipal-service', { input: [{ type: { text: 'description' }, valueString: 'Trenger hjelp' }] });
      expect(where(refusal(facts(app, { defaultOwner: 'Organization/helsebro-legesenter' })))).to.equal('Task.owner');
      expect(where(refusal(facts({ ...app, owner: { reference: 'Organization/nope' } }, { givenOwnerValid: false })))).to.equal('Task.owner');
    });
    it('an unknown owner → 422; a known one is kept', () => {
      const app = task('apply-municipal-service', { input: [{ type: { text: 'description' }, valueString: 'Trenger hjelp' }], owner: { reference: 'Organization/baerum' } });
      const d = decideNewRequest(facts(app, { givenOwnerValid: true }));
      expect(d.ok).to.equal(true);
      if (d.ok) expect(d.fill.owner).to.equal(undefined);
    });
    it(`a records request gets a processing deadline ${RECORDS_DAYS} days ahead, set by the server`, () => {
      const d = decideNewRequest(facts(task('request-records', { input: [{ type: { text: 'description' }, valueString: 'Journal 2024' }] })));
      expect(d.ok).to.equal(true);
      if (d.ok) expect(d.fill.restriction).to.deep.equal({ period: { start: '2026-12-03T12:00:00Z', end: '2027-02-01T12:00:00Z' } });
    });
    it('an appeal of a personal note → 422; of no decision → 422; of another patient\'s decision → 403', () => {
      const appeal = task('appeal-decision', { focus: { reference: 'DocumentReference/d1' }, input: [{ type: { text: 'description' }, valueString: 'Jeg klager' }] });
      const note = { resourceType: 'DocumentReference', id: 'd1', status: 'current', subject: { reference: KARI }, category: [{ coding: [{ code: 'personal-note' }] }], content: [] } as const;
      expect(refusal(facts(appeal, { focus: note as never, focusPatient: KARI })).status).to.equal(422);
      expect(where(refusal(facts({ ...appeal, focus: undefined })))).to.equal('Task.focus');
      expect(refusal(facts(appeal, { focus: { ...note, category: [] } as never, focusPatient: 'Patient/ola-nordmann' })).status).to.equal(403);
    });
    it('the clinic or a backend filing a request: only fills in what is missing', () => {
      const d = decideNewRequest(facts(task('add-allergy', { status: 'accepted' }), { patientSide: false }));
      expect(d.ok).to.equal(true);
      if (d.ok) expect(d.fill.owner).to.deep.equal({ reference: 'Organization/helsebro-legesenter' });
    });
  });

  describe('decidePatientUpdate', () => {
    const sent = task('renew-prescription', { focus: { reference: 'MedicationRequest/m1' }, owner: { reference: 'Organization/helsebro-legesenter' } });
    it('withdrawing an open request → allowed, with a reason', () => {
      expect(decidePatientUpdate(sent, { ...sent, status: 'cancelled', statusReason: { text: 'Fikk resept på legevakten' } })).to.equal(null);
      expect(decidePatientUpdate({ ...sent, status: 'received' }, { ...sent, status: 'cancelled' })).to.equal(null);
    });
    it('an unchanged version (a PUT of what was read) → allowed', () => {
      expect(decidePatientUpdate(sent, { ...sent, requester: { reference: KARI } })).to.equal(null);
    });
    for (const status of ['completed', 'accepted', 'rejected', 'in-progress'] as const) {
      it(`setting ${status} → 422 naming Task.status`, () => {
        const e = decidePatientUpdate(sent, { ...sent, status });
        expect([e?.status, where(e)]).to.deep.equal([422, 'Task.status']);
      });
    }
    it('withdrawing what the clinic has accepted → 422', () => {
      expect(decidePatientUpdate({ ...sent, status: 'accepted' }, { ...sent, status: 'cancelled' })?.status).to.equal(422);
    });
    it('adding an output, or changing the owner or the clinic\'s reason → 403 naming the field; editing the request → 422', () => {
      const out = decidePatientUpdate(sent, { ...sent, status: 'completed', output: [{ type: { text: 'x' }, valueReference: { reference: 'MedicationRequest/m2' } }] });
      expect([out?.status, where(out)]).to.deep.equal([403, 'Task.output']);
      expect(where(decidePatientUpdate(sent, { ...sent, owner: { reference: 'Organization/x' } }))).to.equal('Task.owner');
      expect(where(decidePatientUpdate({ ...sent, status: 'rejected', statusReason: { text: 'Nei' } }, { ...sent, status: 'rejected', statusReason: { text: 'Ja' } }))).to.equal('Task.statusReason');
      const edit = decidePatientUpdate(sent, { ...sent, focus: { reference: 'MedicationRequest/m9' } });
      expect([edit?.status, where(edit)]).to.deep.equal([422, 'Task.focus']);
    });
  });

  describe('decideClinicAnswer', () => {
    const sent = task('renew-prescription', { focus: { reference: 'MedicationRequest/m1' }, owner: { reference: 'Organization/helsebro-legesenter' } });
    const renewed = mr({ id: 'm2' });
    const out = (ref: string) => [{ type: { text: 'prescription' }, valueReference: { reference: ref } }];
    it('completing a renewal with the new prescription → allowed; without one, or with the old one → 422 naming Task.output', () => {
      expect(decideClinicAnswer(sent, { ...sent, status: 'completed', output: out('MedicationRequest/m2') }, { code: 'renew-prescription', outputs: [{ reference: 'MedicationRequest/m2', resource: renewed }] })).to.equal(null);
      expect(where(decideClinicAnswer(sent, { ...sent, status: 'completed' }, { code: 'renew-prescription', outputs: [] }))).to.equal('Task.output');
      expect(where(decideClinicAnswer(sent, { ...sent, status: 'completed', output: out('MedicationRequest/m1') }, { code: 'renew-prescription', outputs: [{ reference: 'MedicationRequest/m1', resource: mr({}) }] }))).to.equal('Task.output');
    });
    it('an output in another patient\'s record, or unknown → 422', () => {
      const e = decideClinicAnswer(sent, { ...sent, status: 'completed', output: out('MedicationRequest/m3') }, { code: 'renew-prescription', outputs: [{ reference: 'MedicationRequest/m3', resource: mr({ id: 'm3', subject: { reference: 'Patient/ola-nordmann' } }) }] });
      expect([e?.status, where(e)]).to.deep.equal([422, 'Task.output[0]']);
      expect(decideClinicAnswer(sent, { ...sent, status: 'completed', output: out('MedicationRequest/zz') }, { code: 'renew-prescription', outputs: [{ reference: 'MedicationRequest/zz', resource: undefined }] })?.status).to.equal(422);
    });
    it('rejecting without a reason → 422 naming Task.statusReason; with one → allowed', () => {
      expect(where(decideClinicAnswer(sent, { ...sent, status: 'rejected' }, { code: 'renew-prescription', outputs: [] }))).to.equal('Task.statusReason');
      expect(decideClinicAnswer(sent, { ...sent, status: 'rejected', statusReason: { text: 'Må til kontroll først' } }, { code: 'renew-prescription', outputs: [] })).to.equal(null);
    });
    it('completing an allergy addition needs a confirmed AllergyIntolerance', () => {
      const a = task('add-allergy', { input: [{ type: { text: 'allergy' }, valueString: 'Nøtter' }] });
      const allergy = (code: string): AllergyIntolerance => ({ resourceType: 'AllergyIntolerance', id: 'a1', patient: { reference: KARI }, verificationStatus: { coding: [{ code }] } });
      const done = { ...a, status: 'completed' as const, output: out('AllergyIntolerance/a1') };
      expect(where(decideClinicAnswer(a, done, { code: 'add-allergy', outputs: [{ reference: 'AllergyIntolerance/a1', resource: allergy('unconfirmed') }] }))).to.equal('Task.output');
      expect(decideClinicAnswer(a, done, { code: 'add-allergy', outputs: [{ reference: 'AllergyIntolerance/a1', resource: allergy('confirmed') }] })).to.equal(null);
    });
    it('rewriting the patient\'s request, or reopening an ended one → 422', () => {
      expect(where(decideClinicAnswer(sent, { ...sent, focus: { reference: 'MedicationRequest/m9' } }, { code: 'renew-prescription', outputs: [] }))).to.equal('Task.focus');
      expect(where(decideClinicAnswer({ ...sent, status: 'cancelled' }, { ...sent, status: 'in-progress' }, { code: 'renew-prescription', outputs: [] }))).to.equal('Task.status');
    });
  });

  describe('decideMedicationComment', () => {
    const statement = { resourceType: 'MedicationStatement', status: 'not-taken', subject: { reference: KARI }, medicationCodeableConcept: { text: 'Metformin' } } as const;
    it('about an own prescription → allowed; another patient\'s or unknown → 403; not a prescription → 422', () => {
      expect(decideMedicationComment({ statement, patientRef: KARI, derived: [{ reference: 'MedicationRequest/m1', resource: mr({}) }] })).to.equal(null);
      expect(decideMedicationComment({ statement, patientRef: KARI, derived: [{ reference: 'MedicationRequest/m3', resource: mr({ subject: { reference: 'Patient/ola-nordmann' } }) }] })?.status).to.equal(403);
      expect(decideMedicationComment({ statement, patientRef: KARI, derived: [{ reference: 'MedicationRequest/zz', resource: undefined }] })?.status).to.equal(403);
      const e = decideMedicationComment({ statement, patientRef: KARI, derived: [{ reference: 'Observation/o1', resource: undefined }] });
      expect([e?.status, where(e)]).to.deep.equal([422, 'MedicationStatement.derivedFrom[0]']);
    });
  });
});
