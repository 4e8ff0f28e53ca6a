/** validate-response.ts, table-driven over the demo's helsenorge-style Questionnaire (fixtures/generator/questionnaire.ts). */
import { expect } from 'chai';
import type { QuestionnaireResponse, QuestionnaireResponseItem } from 'fhir/r4';
import { helsenorgeStyleQuestionnaire } from '../../fixtures/generator/questionnaire.js';
import { validateInitials, validateResponse } from '../../src/portal/questionnaires/validate-response.js';

const q = helsenorgeStyleQuestionnaire('for-timen-fastlege-nb', 'nb-NO');
const JA_NEI = 'urn:oid:2.16.578.1.12.4.1.1101';
const SLEEP = 'https://fhir.helsebro.no/CodeSystem/sleep-complaint';

const smokes = (code = '2'): QuestionnaireResponseItem => ({ linkId: '1.3', answer: [{ valueCoding: { system: JA_NEI, code } }] });
const meds = (changed: boolean, extra: QuestionnaireResponseItem[] = []): QuestionnaireResponseItem => ({
  linkId: '1', item: [{ linkId: '1.1', answer: [{ valueBoolean: changed }] }, ...extra, smokes()],
});
const sleep = (hours: number, more: QuestionnaireResponseItem[] = []): QuestionnaireResponseItem => ({ linkId: '2', item: [{ linkId: '2.1', answer: [{ valueInteger: hours }] }, ...more] });
const qr = (items: QuestionnaireResponseItem[], status: QuestionnaireResponse['status'] = 'completed'): QuestionnaireResponse => ({
  resourceType: 'QuestionnaireResponse', status, questionnaire: q.url, item: items,
});

const CASES: Array<{ name: string; response: QuestionnaireResponse; expect: Array<[string, RegExp]> }> = [
  { name: 'a minimal complete answer', response: qr([meds(false), sleep(8)]), expect: [] },
  { name: 'enabled follow-up answered', response: qr([meds(true, [{ linkId: '1.2', answer: [{ valueString: 'Ny dose Metformin' }] }]), sleep(8)]), expect: [] },
  { name: 'required item missing (completed)', response: qr([sleep(8)]), expect: [['1', /required/]] },
  { name: 'required items may be missing while in progress', response: qr([sleep(8)], 'in-progress'), expect: [] },
  { name: 'required follow-up missing once enabled', response: qr([meds(true), sleep(8)]), expect: [['1 › 1.2', /required/]] },
  { name: 'answer to an item disabled by enableWhen', response: qr([meds(false, [{ linkId: '1.2', answer: [{ valueString: 'x' }] }]), sleep(8)]), expect: [['1 › 1.2', /disabled/]] },
  { name: 'wrong answer type', response: qr([{ linkId: '1', item: [{ linkId: '1.1', answer: [{ valueString: 'ja' }] }, smokes()] }, sleep(8)]), expect: [['1 › 1.1', /valueBoolean/]] },
  { name: 'code outside the contained ValueSet', response: qr([{ linkId: '1', item: [{ linkId: '1.1', answer: [{ valueBoolean: false }] }, smokes('9')] }, sleep(8)]), expect: [['1 › 1.3', /answerValueSet/]] },
  { name: 'option outside answerOption', response: qr([meds(false), sleep(4, [{ linkId: '2.2', answer: [{ valueCoding: { system: SLEEP, code: 'snorking' } }] }])]), expect: [['2 › 2.2', /answerOption/]] },
  { name: 'repeating choice takes several answers', response: qr([meds(false), sleep(4, [{ linkId: '2.2', answer: [{ valueCoding: { system: SLEEP, code: 'tidlig' } }, { valueCoding: { system: SLEEP, code: 'innsovning' } }] }])]), expect: [] },
  { name: 'non-repeating item with two answers', response: qr([meds(false), { linkId: '2', item: [{ linkId: '2.1', answer: [{ valueInteger: 7 }, { valueInteger: 8 }] }] }]), expect: [['2 › 2.1', /one answer/]] },
  { name: 'text over maxLength', response: qr([meds(false), sleep(8), { linkId: '3', answer: [{ valueString: 'x'.repeat(251) }] }]), expect: [['3', /maxLength is 250/]] },
  { name: 'unknown linkId', response: qr([meds(false), sleep(8), { linkId: '99', answer: [{ valueString: 'x' }] }]), expect: [['99', /not an item/]] },
  { name: 'item at the wrong level', response: qr([meds(false), sleep(8), { linkId: '2.1', answer: [{ valueInteger: 8 }] }]), expect: [['2.1', /not at this level/]] },
  {
    name: 'nested repeating group enabled by "any" of its conditions, its required child missing',
    response: qr([meds(false), sleep(4, [{ linkId: '2.2', answer: [{ valueCoding: { system: SLEEP, code: 'tidlig' } }] }, { linkId: '2.3', item: [{ linkId: '2.3.2', answer: [{ valueDecimal: 4.5 }] }] }])]),
    expect: [['2 › 2.3 › 2.3.1', /required/]],
  },
  { name: 'display item answered', response: qr([meds(false), sleep(8), { linkId: '4', answer: [{ valueString: 'x' }] }]), expect: [['4', /display/]] },
];

describe('validateResponse: a QuestionnaireResponse against its Questionnaire', () => {
  for (const c of CASES) {
    it(`${c.name} → ${c.expect.length === 0 ? 'valid' : c.expect.map(([l]) => l).join(', ')}`, () => {
      const issues = validateResponse(q, c.response);
      expect(issues.map((i) => i.diagnostics)).to.have.length(c.expect.length, JSON.stringify(issues));
      c.expect.forEach(([linkPath, message], i) => {
        expect(issues[i]!.diagnostics).to.match(new RegExp(`^Item ${linkPath.replace(/\./g, '\\.')}: `));
        expect(issues[i]!.diagnostics).to.match(message);
        expect(issues[i]!.expression![0]).to.include(`linkId='${linkPath.split(' › ').pop()}'`);
      });
    });
  }

  it('initial values must be answers the item accepts', () => {
    expect(validateInitials(q)).to.deep.equal([]);
    const bad = helsenorgeStyleQuestionnaire('x', 'en-GB');
    bad.item![1]!.item![0]!.initial = [{ valueString: 'seven' }];
    expect(validateInitials(bad)[0]!.diagnostics).to.match(/^Item 2 › 2\.1: .*valueInteger/);
  });
});
