/**
 * A CodeableConcept whose text repeats a coding's display gets no text row of its own (extract.ts,
 * issue 11 §4: one row less per parameter on every device reading). Every search on the code must
 * answer as before: `:text` finds it through the coding's row, and `:missing`, `:not` and the
 * composites do not read text rows.
 */
import { expect } from 'chai';
import type { Observation } from 'fhir/r4';
import { q, sorted, useSearchServer } from './support.js';

const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';

describe('search: a code whose text repeats its display', () => {
  const s = useSearchServer();
  let repeated: string; // text = the LOINC display (folded alike)
  let textOnly: string; // only a text
  let differs: string; // text differs from the display
  let none: string; // no code text, no value

  before(async () => {
    const value = { value: 72, unit: 'beats/minute', system: UCUM, code: '/min' };
    repeated = (await s.create<Observation>({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: LOINC, code: '8867-4', display: 'Heart rate' }], text: 'HEART RATE' }, valueQuantity: value })).id;
    textOnly = (await s.create<Observation>({ resourceType: 'Observation', status: 'final', code: { text: 'Puls i hvile' }, valueQuantity: value })).id;
    differs = (await s.create<Observation>({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: LOINC, code: '8867-4', display: 'Heart rate' }], text: 'Puls målt på klokka' } })).id;
    none = (await s.create<Observation>({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: LOINC, code: '29463-7' }] } })).id;
  });

  it(':text finds the display and the text, on code and combo-code', async () => {
    expect(await s.ids('Observation?code:text=heart')).to.deep.equal(sorted(repeated, differs));
    expect(await s.ids('Observation?combo-code:text=heart%20rate')).to.deep.equal(sorted(repeated, differs));
    expect(await s.ids('Observation?code:text=puls')).to.deep.equal(sorted(textOnly, differs));
    expect(await s.ids('Observation?combo-code:text=puls%20i')).to.deep.equal([textOnly]);
  });

  it('codes, :not and :missing answer as the codings say', async () => {
    expect(await s.ids(`Observation?code=${q(`${LOINC}|8867-4`)}`)).to.deep.equal(sorted(repeated, differs));
    expect(await s.ids(`Observation?code:not=${q(`${LOINC}|8867-4`)}`)).to.deep.equal(sorted(textOnly, none));
    expect(await s.ids('Observation?code:missing=false')).to.deep.equal(sorted(repeated, textOnly, differs, none));
    expect(await s.ids('Observation?code:missing=true')).to.deep.equal([]);
  });

  it('the composites find the reading by code and value, and count it present', async () => {
    expect(await s.ids(`Observation?code-value-quantity=${q(`${LOINC}|8867-4$72`)}`)).to.deep.equal([repeated]);
    expect(await s.ids(`Observation?combo-code-value-quantity=${q(`${LOINC}|8867-4$gt70|${UCUM}|/min`)}`)).to.deep.equal([repeated]);
    expect(await s.ids('Observation?code-value-quantity:missing=false')).to.deep.equal(sorted(repeated, textOnly));
    expect(await s.ids('Observation?combo-code-value-quantity:missing=true')).to.deep.equal(sorted(differs, none));
  });
});
