/**
 * The gaps issue 16 §5 found against HL7's validator, each as its own rule: empty arrays and
 * objects, base64, Attachment size and hash, Bundle rules, the FHIRPath invariants of the core
 * StructureDefinitions, and the 1 MB string limit.
 */
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { validateResource } from '../../src/fhir/validation/validate.js';
import { isBase64 } from '../../src/fhir/validation/code-rules.js';
import { at, errorsOf } from './support.js';

const codes = (issues: ReturnType<typeof validateResource>) => errorsOf(issues).map((i) => i.diagnostics);
const obs = (extra: Record<string, unknown> = {}) => ({ resourceType: 'Observation', status: 'final', code: { text: 'Puls' }, ...extra });
const data = Buffer.from('Hei, Kari!').toString('base64');
const sha1 = createHash('sha1').update('Hei, Kari!').digest('base64');

describe('validation fidelity (issue 16 §5)', () => {
  describe('empty arrays and empty objects (ele-1)', () => {
    it('an empty array is refused where it is, with the rule named', () => {
      const issues = validateResource({ resourceType: 'Patient', name: [] });
      expect(at(issues, 'Patient.name')[0]!.diagnostics).to.equal('Patient.name: arrays must not be empty: leave the element out instead (ele-1)');
    });
    it('an empty object, nested or as a primitive twin, is refused', () => {
      expect(at(validateResource({ resourceType: 'Patient', name: [{}] }), 'Patient.name[0]')[0]!.diagnostics).to.contain('must have a value or children (ele-1)');
      expect(at(validateResource({ resourceType: 'Patient', birthDate: '1970-01-01', _birthDate: {} }), 'Patient._birthDate')).to.have.length(1);
      expect(at(validateResource(obs({ code: {} })), 'Observation.code')).to.have.length(1);
    });
    it('an empty array inside a datatype is refused too, and the non-empty forms pass', () => {
      expect(at(validateResource({ resourceType: 'Patient', name: [{ given: [] }] }), 'Patient.name[0].given')).to.have.length(1);
      expect(validateResource({ resourceType: 'Patient', name: [{ given: ['Kari'] }] })).to.deep.equal([]);
    });
  });

  describe('base64Binary', () => {
    it('accepts valid base64 (whitespace between groups included) and refuses the rest', () => {
      for (const ok of ['', 'SGVp', 'SGVpIQ==', 'SGVp\nIQ==', data]) expect(isBase64(ok), ok).to.equal(true);
      for (const bad of ['SGVpIQ=', 'SGV', 'SG$p', 'SGVp=IQ==', '====']) expect(isBase64(bad), bad).to.equal(false);
    });
    it('refuses invalid base64 in Attachment.data, Binary.data and valueBase64Binary', () => {
      expect(at(validateResource({ resourceType: 'Binary', contentType: 'text/plain', data: 'not base64!' }), 'Binary.data')[0]!.diagnostics).to.contain('is not valid base64');
      const doc = { resourceType: 'DocumentReference', status: 'current', content: [{ attachment: { contentType: 'text/plain', data: 'abc' } }] };
      expect(at(validateResource(doc), 'DocumentReference.content[0].attachment.data')).to.have.length(1);
      const ext = { resourceType: 'Patient', extension: [{ url: 'http://example.org/x', valueBase64Binary: '%%%%' }] };
      expect(at(validateResource(ext), 'Patient.extension[0].valueBase64Binary')).to.have.length(1);
    });
  });

  describe('Attachment size and hash', () => {
    const doc = (attachment: Record<string, unknown>) => ({ resourceType: 'DocumentReference', status: 'current', content: [{ attachment: { contentType: 'text/plain', data, ...attachment } }] });
    it('a size and hash matching the data pass', () => {
      expect(validateResource(doc({ size: 10, hash: sha1 }))).to.deep.equal([]);
    });
    it('a size that is not the number of decoded bytes is refused', () => {
      const issues = validateResource(doc({ size: 11 }));
      expect(at(issues, 'DocumentReference.content[0].attachment.size')[0]!.diagnostics).to.contain('size is 11 but data holds 10 bytes');
    });
    it('a hash that is not the base64 SHA-1 of the data is refused', () => {
      const wrong = createHash('sha1').update('something else').digest('base64');
      const issues = validateResource(doc({ hash: wrong }));
      expect(at(issues, 'DocumentReference.content[0].attachment.hash')[0]!.diagnostics).to.contain('is not the base64 SHA-1 of data');
    });
    it('in a choice element too (Communication.payload.contentAttachment)', () => {
      const message = { resourceType: 'Communication', status: 'completed', payload: [{ contentAttachment: { data, size: 3 } }] };
      expect(at(validateResource(message), 'Communication.payload[0].contentAttachment.size')).to.have.length(1);
    });
  });

  describe('Bundle rules', () => {
    const patient = (id: string) => ({ resourceType: 'Patient', id });
    const bundle = (extra: Record<string, unknown>) => ({ resourceType: 'Bundle', type: 'collection', ...extra });
    it('fullUrl must be absolute, a urn:uuid or a urn:oid', () => {
      const ok = bundle({ entry: [
        { fullUrl: 'https://fhir.example.no/Patient/a', resource: patient('a') },
        { fullUrl: 'urn:uuid:4e8ed886-fd5f-40bb-8feb-f339b04d853a', resource: patient('b') },
        { fullUrl: 'urn:oid:2.16.578.1', resource: patient('c') },
      ] });
      expect(validateResource(ok)).to.deep.equal([]);
      const issues = validateResource(bundle({ entry: [{ fullUrl: 'Patient/a', resource: patient('a') }, { fullUrl: 'urn:uuid:123', resource: patient('b') }] }));
      expect(at(issues, 'Bundle.entry[0].fullUrl')[0]!.diagnostics).to.contain('must be an absolute URL');
      expect(at(issues, 'Bundle.entry[1].fullUrl')[0]!.diagnostics).to.contain('not a valid urn:uuid');
    });
    it('two entries with one fullUrl are refused (bdl-7), unless they are versions in a history', () => {
      const url = 'https://fhir.example.no/Patient/a';
      const issues = validateResource(bundle({ entry: [{ fullUrl: url, resource: patient('a') }, { fullUrl: url, resource: patient('b') }] }));
      expect(at(issues, 'Bundle.entry[1].fullUrl')[0]!.diagnostics).to.contain('(bdl-7)');
      const versions = [1, 2].map((v) => ({ fullUrl: url, resource: { ...patient('a'), meta: { versionId: String(v) } }, request: { method: 'PUT', url: 'Patient/a' }, response: { status: '200' } }));
      expect(codes(validateResource({ resourceType: 'Bundle', type: 'history', entry: versions }))).to.deep.equal([]);
    });
    it('the same resource type and id twice is refused', () => {
      const issues = validateResource(bundle({ entry: [{ resource: patient('a') }, { resource: patient('a') }] }));
      expect(at(issues, 'Bundle.entry[1].resource.id')[0]!.diagnostics).to.contain('Patient/a is also the resource of entry[0]');
    });
    it('a link relation may appear once', () => {
      const link = [{ relation: 'self', url: 'https://x/1' }, { relation: 'next', url: 'https://x/2' }, { relation: 'self', url: 'https://x/3' }];
      const issues = validateResource({ resourceType: 'Bundle', type: 'searchset', link });
      expect(at(issues, 'Bundle.link[2].relation')[0]!.diagnostics).to.contain('link relation "self" is also used by link[0]');
    });
    it('the bdl-* invariants of the core definition hold (document needs a date, total only on search/history)', () => {
      expect(codes(validateResource({ resourceType: 'Bundle', type: 'collection', total: 3 })).join()).to.contain('(bdl-1)');
      expect(codes(validateResource({ resourceType: 'Bundle', type: 'document', identifier: { system: 'urn:x', value: '1' } })).join()).to.contain('(bdl-10)');
      expect(codes(validateResource({ resourceType: 'Bundle', type: 'transaction', entry: [{ resource: patient('a') }] })).join()).to.contain('(bdl-3)');
    });
    it('rules reach a Bundle nested in another resource\'s contained or in an entry', () => {
      const inner = bundle({ link: [{ relation: 'self', url: 'https://x' }, { relation: 'self', url: 'https://y' }] });
      expect(at(validateResource(bundle({ entry: [{ fullUrl: 'urn:uuid:4e8ed886-fd5f-40bb-8feb-f339b04d853a', resource: inner }] })), 'Bundle.entry[0].resource.link[1].relation')).to.have.length(1);
    });
  });

  describe('FHIRPath invariants of the core StructureDefinitions', () => {
    const questionnaire = (item: Record<string, unknown>) => ({ resourceType: 'Questionnaire', status: 'active', item: [item] });
    const when = (q: string) => ({ question: q, operator: 'exists', answerBoolean: true });
    it('que-12: more enableWhen than R4 allows without enableBehavior, at any depth of items', () => {
      // R4's expression is `enableWhen.count() > 2 implies enableBehavior.exists()`, evaluated as written.
      const item = { linkId: '1', type: 'string', enableWhen: [when('a'), when('b'), when('c')] };
      expect(codes(validateResource(questionnaire({ ...item, enableWhen: [when('a'), when('b')] })))).to.deep.equal([]);
      expect(at(validateResource(questionnaire(item)), 'Questionnaire.item[0]')[0]!.diagnostics).to.contain('(que-12)');
      expect(codes(validateResource(questionnaire({ ...item, enableBehavior: 'all' })))).to.deep.equal([]);
      const nested = questionnaire({ linkId: 'g', type: 'group', item: [item] });
      expect(at(validateResource(nested), 'Questionnaire.item[0].item[0]')[0]!.diagnostics).to.contain('(que-12)');
    });
    it('que-7: an exists question needs a boolean answer (R4\'s `is Boolean` read as R5 does)', () => {
      const item = (answer: Record<string, unknown>) => ({ linkId: '1', type: 'string', enableWhen: [{ question: 'a', operator: 'exists', ...answer }] });
      expect(validateResource(questionnaire(item({ answerBoolean: true })))).to.deep.equal([]);
      expect(at(validateResource(questionnaire(item({ answerString: 'ja' }))), 'Questionnaire.item[0].enableWhen[0]')[0]!.diagnostics).to.contain('(que-7)');
    });
    it('que-1 and que-2: a group needs items, linkIds are distinct', () => {
      expect(codes(validateResource(questionnaire({ linkId: 'g', type: 'group' }))).join()).to.contain('(que-1)');
      const dup = { resourceType: 'Questionnaire', status: 'active', item: [{ linkId: 'a', type: 'string' }, { linkId: 'a', type: 'string' }] };
      expect(codes(validateResource(dup)).join()).to.contain('(que-2)');
    });
    it('ras-2: a prediction probability as a decimal is at most 100', () => {
      const risk = (p: number) => ({ resourceType: 'RiskAssessment', status: 'final', subject: { reference: 'Patient/a' }, prediction: [{ probabilityDecimal: p }] });
      expect(at(validateResource(risk(120)), 'RiskAssessment.prediction[0]')[0]!.diagnostics).to.contain('(ras-2)');
      expect(validateResource(risk(40))).to.deep.equal([]);
    });
    it('datatype invariants apply wherever the datatype occurs: per-1, qty-3, ext-1, ref-1', () => {
      expect(at(validateResource(obs({ effectivePeriod: { start: '2024-02-01', end: '2024-01-01' } })), 'Observation.effectivePeriod')[0]!.diagnostics).to.contain('(per-1)');
      expect(at(validateResource(obs({ valueQuantity: { value: 1, code: 'mg' } })), 'Observation.valueQuantity')[0]!.diagnostics).to.contain('(qty-3)');
      const both = { url: 'http://example.org/x', valueString: 'a', extension: [{ url: 'http://example.org/y', valueString: 'b' }] };
      expect(at(validateResource({ resourceType: 'Patient', extension: [both] }), 'Patient.extension[0]')[0]!.diagnostics).to.contain('(ext-1)');
      expect(at(validateResource(obs({ subject: { reference: '#nowhere' } })), 'Observation.subject')[0]!.diagnostics).to.contain('(ref-1)');
    });
    it('resource invariants: obs-7 (value with component of the same code), dom-3 (unreferenced contained)', () => {
      const code = { coding: [{ system: 'http://loinc.org', code: '8867-4' }] };
      expect(codes(validateResource(obs({ code, valueQuantity: { value: 1 }, component: [{ code, valueQuantity: { value: 2 } }] }))).join()).to.contain('(obs-7)');
      const contained = obs({ contained: [{ resourceType: 'Patient', id: 'p' }] });
      expect(at(validateResource(contained), 'Observation.contained[0]')[0]!.diagnostics).to.contain('(dom-3)');
      expect(validateResource({ ...contained, subject: { reference: '#p' } })).to.deep.equal([]);
    });
    it('obs-6, obs-7 and qty-3 still bite where their first clause does not hold (evaluated behind guards)', () => {
      const absent = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason', code: 'unknown' }] };
      expect(codes(validateResource(obs({ valueQuantity: { value: 1 }, dataAbsentReason: absent }))).join()).to.contain('(obs-6)');
      expect(validateResource(obs({ dataAbsentReason: absent }))).to.deep.equal([]);
      const code = { coding: [{ system: 'http://loinc.org', code: '8867-4' }] };
      // A value only as its `_` twin (an extension) is still a value for obs-7.
      const extended = obs({ code, _valueString: { extension: [{ url: 'http://example.org/x', valueString: 'y' }] }, component: [{ code, valueString: 'b' }] });
      expect(codes(validateResource(extended)).join()).to.contain('(obs-7)');
      expect(validateResource(obs({ code, component: [{ code, valueQuantity: { value: 2 } }] }))).to.deep.equal([]);
      // qty-3 inside a component, and with the code only as its `_` twin.
      const inComponent = obs({ component: [{ code, valueQuantity: { value: 1, code: 'mg' } }] });
      expect(at(validateResource(inComponent), 'Observation.component[0].valueQuantity')[0]!.diagnostics).to.contain('(qty-3)');
      expect(validateResource(obs({ valueQuantity: { value: 1, code: 'mg', system: 'http://unitsofmeasure.org' } }))).to.deep.equal([]);
    });
    it('a Reference with only a display is valid (an empty result is not a failure)', () => {
      expect(validateResource(obs({ subject: { display: 'Kari' } }))).to.deep.equal([]);
    });
  });

  describe('string length', () => {
    it('a string or markdown over 1 MB (1,048,576 characters) is refused; exactly 1 MB passes', () => {
      const max = 'a'.repeat(1024 * 1024);
      expect(validateResource(obs({ valueString: max }))).to.deep.equal([]);
      const issues = validateResource(obs({ valueString: `${max}a` }));
      expect(at(issues, 'Observation.valueString')[0]).to.include({ code: 'too-long' });
      expect(at(issues, 'Observation.valueString')[0]!.diagnostics).to.contain('1,048,576 characters');
      expect(at(validateResource({ resourceType: 'Patient', text: undefined, name: [{ text: `${max}b` }] }), 'Patient.name[0].text')).to.have.length(1);
    });
  });
});
