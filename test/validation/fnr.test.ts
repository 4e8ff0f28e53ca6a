/**
 * The fødselsnummer wrapper over @navikt/fnrvalidator (issue 16 §6): which kinds of number it
 * tells apart, and which are accepted under which identifier system. The sample numbers are the
 * library's own published, generated examples; none belongs to a person.
 */
import { expect } from 'chai';
import { hasValidCheckDigits, parseIdNumber, syntheticFnr } from '../../src/fhir/validation/fnr.js';
import { validateResource } from '../../src/fhir/validation/validate.js';
import { DNR, FNR, errorsOf } from './support.js';

const HNR = '13527248013'; // month + 40
const TNR = '10915596784'; // month + 80 (Tenor)
const DNR_HNR = '68467038838'; // day + 40 and month + 40

const patientWith = (system: string, value: string) => ({ resourceType: 'Patient', identifier: [{ system, value }] });

describe('fødselsnummer wrapper over @navikt/fnrvalidator', () => {
  it('classifies H-numbers, Tenor synthetic numbers and D-numbers as the library does, with the birth date', () => {
    expect(parseIdNumber(HNR)).to.deep.equal({ kind: 'fnr', synthetic: true, type: 'hnr', birthDate: '1972-12-13' });
    expect(parseIdNumber(TNR)).to.deep.equal({ kind: 'fnr', synthetic: true, type: 'tnr', birthDate: '1955-11-10' });
    expect(parseIdNumber(DNR_HNR)).to.deep.equal({ kind: 'dnr', synthetic: true, type: 'dnr-and-hnr', birthDate: '1970-06-28' });
    expect(parseIdNumber(syntheticFnr('1990-05-17', 1, true))).to.include({ kind: 'dnr', type: 'dnr-and-tnr', birthDate: '1990-05-17' });
  });

  it('our synthetic generator makes Tenor numbers (month + 80) the library accepts, leap days included', () => {
    for (const date of ['2000-02-29', '1904-02-29', '1999-12-31', '2024-01-01']) {
      const n = syntheticFnr(date, 2);
      expect(parseIdNumber(n), n).to.include({ type: 'tnr', birthDate: date });
    }
  });

  it('refuses a wrong check digit, an impossible date and anything but 11 digits', () => {
    const bad = `${TNR.slice(0, 10)}${(Number(TNR[10]) + 1) % 10}`;
    expect(hasValidCheckDigits(bad)).to.equal(false);
    expect(parseIdNumber(bad)).to.equal(null);
    expect(parseIdNumber('31027200000')).to.equal(null);
    for (const v of ['', '1352724801', '135272480130', '1352724801a']) expect(parseIdNumber(v), v).to.equal(null);
  });

  it('accepts H-numbers and synthetic numbers under the fødselsnummer system, D-numbers only under the D-nummer system', () => {
    expect(errorsOf(validateResource(patientWith(FNR, HNR)))).to.deep.equal([]);
    expect(errorsOf(validateResource(patientWith(FNR, TNR)))).to.deep.equal([]);
    expect(errorsOf(validateResource(patientWith(DNR, DNR_HNR)))).to.deep.equal([]);
    expect(errorsOf(validateResource(patientWith(FNR, DNR_HNR)))[0]!.diagnostics).to.contain('is a D-nummer but the system says fødselsnummer');
    expect(errorsOf(validateResource(patientWith(DNR, HNR)))[0]!.diagnostics).to.contain('is a fødselsnummer but the system says D-nummer');
  });
});
