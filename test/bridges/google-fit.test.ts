import { expect } from 'chai';
import { convertGoogleFit } from '../../src/bridges/google-fit.js';
import { googleFitPointKey, SID } from '../../src/bridges/identity.js';
import { OBSERVATION_CATEGORY, UCUM } from '../../src/bridges/mapping.js';
import { CTX, codes, fixture, reason, valid } from './support.js';

const DATA_SOURCE = 'raw:com.google.heart_rate.bpm:com.polar.polarflow:Polar:H10:5a1c2b:';

describe('Google Fit → Observation', () => {
  const all = convertGoogleFit(fixture('google-fit-all-types.json'), CTX);

  it('accepts every point of every mapped data type', () => {
    expect(all.map((s) => s.status)).to.deep.equal(all.map(() => 'valid'));
  });

  it('a heart-rate point becomes a final vital-signs Observation keyed by its point key', () => {
    const s = valid(all, 0);
    const key = googleFitPointKey(DATA_SOURCE, 'com.google.heart_rate.bpm', '1714545000000000000', '1714545000000000000');
    expect(s.id).to.equal(key);
    expect(s.observation.identifier).to.deep.equal([{ system: SID.googleFitPoint, value: key }]);
    expect(s.observation.status).to.equal('final');
    expect(s.observation.category).to.deep.equal([{ coding: [{ system: OBSERVATION_CATEGORY, code: 'vital-signs', display: 'Vital Signs' }] }]);
    expect(codes(s.observation)).to.deep.equal(['8867-4']);
    expect(s.observation.subject).to.deep.equal({ reference: 'Patient/kari' });
    expect(s.observation.effectiveDateTime).to.equal('2024-05-01T06:30:00.000Z');
    expect(s.observation.valueQuantity).to.deep.equal({ value: 64, unit: 'beats/minute', system: UCUM, code: '/min' });
  });

  it('the point key changes with any of data source, type, start and end', () => {
    const k = (a: string, b: string, c: string, d: string) => googleFitPointKey(a, b, c, d);
    const base = k('s', 't', '1', '2');
    expect(new Set([base, k('s2', 't', '1', '2'), k('s', 't2', '1', '2'), k('s', 't', '0', '2'), k('s', 't', '1', '3')]).size).to.equal(5);
  });

  it('the Device is the app of the data source, without the data type, and belongs to the patient', () => {
    const d = valid(all, 0).device.resource;
    expect(d.deviceName).to.deep.equal([{ name: 'com.polar.polarflow', type: 'user-friendly-name' }]);
    expect(d.identifier?.[1]).to.deep.equal({ system: SID.googleFitDataSource, value: 'raw:com.polar.polarflow:Polar:H10:5a1c2b:' });
    expect(d.patient).to.deep.equal({ reference: 'Patient/kari' });
    expect(valid(all, 1).device.identifier.value).to.equal(valid(all, 0).device.identifier.value);
  });

  it('a point with an originDataSourceId is attributed to the origin', () => {
    expect(valid(all, 6).device.appName).to.equal('Google');
    expect(valid(all, 6).device.identifier.value).to.not.equal(valid(all, 0).device.identifier.value);
  });

  it('weight stays in kg; height in m is converted to cm', () => {
    expect(codes(valid(all, 1).observation)).to.deep.equal(['29463-7']);
    expect(valid(all, 1).observation.valueQuantity).to.deep.equal({ value: 71.25, unit: 'kg', system: UCUM, code: 'kg' });
    expect(codes(valid(all, 2).observation)).to.deep.equal(['8302-2']);
    expect(valid(all, 2).observation.valueQuantity).to.deep.equal({ value: 179.5, unit: 'cm', system: UCUM, code: 'cm' });
  });

  it('oxygen saturation is already a percentage and gets both pulse-oximetry codes', () => {
    expect(codes(valid(all, 3).observation)).to.deep.equal(['2708-6', '59408-5']);
    expect(valid(all, 3).observation.valueQuantity?.value).to.equal(96.5);
  });

  it('body temperature is Cel, blood glucose mmol/L under 15074-8', () => {
    expect(valid(all, 4).observation.valueQuantity).to.deep.equal({ value: 36.8, unit: 'C', system: UCUM, code: 'Cel' });
    expect(codes(valid(all, 5).observation)).to.deep.equal(['15074-8']);
    expect(valid(all, 5).observation.valueQuantity).to.deep.equal({ value: 5.6, unit: 'mmol/L', system: UCUM, code: 'mmol/L' });
  });

  it('a step delta is an activity Observation 55423-8 over its period', () => {
    const o = valid(all, 6).observation;
    expect(codes(o)).to.deep.equal(['55423-8']);
    expect(o.category?.[0]?.coding?.[0]?.code).to.equal('activity');
    expect(o.effectivePeriod).to.deep.equal({ start: '2024-05-01T08:00:00.000Z', end: '2024-05-01T09:00:00.000Z' });
    expect(o.valueQuantity).to.deep.equal({ value: 2431, unit: 'steps', system: UCUM, code: '{steps}' });
  });

  it('a blood-pressure point is an 85354-9 panel from value[0] systolic and value[1] diastolic', () => {
    const o = valid(all, 7).observation;
    expect(codes(o)).to.deep.equal(['85354-9']);
    expect(o.component?.map((c) => [c.code.coding?.[0]?.code, c.valueQuantity?.value, c.valueQuantity?.code])).to.deep.equal([
      ['8480-6', 118, 'mm[Hg]'],
      ['8462-4', 76, 'mm[Hg]'],
    ]);
  });

  it('a deep-sleep segment is 93832-4 with its minutes', () => {
    const o = valid(all, 8).observation;
    expect(codes(o)).to.deep.equal(['93832-4']);
    expect(o.valueQuantity).to.deep.equal({ value: 90, unit: 'min', system: UCUM, code: 'min' });
  });

  it('keeps nanosecond precision in the effective time', () => {
    expect(valid(all, 9).observation.effectiveDateTime).to.equal('2024-05-01T06:31:00.123456789Z');
    expect(valid(all, 9).observation.valueQuantity?.value).to.equal(66.4);
  });

  describe('rejections name the rule', () => {
    const bad = convertGoogleFit(fixture('google-fit-bad.json'), CTX);
    it('nothing of the bad fixture is accepted and nothing is left out', () => {
      expect(bad.map((s) => s.status)).to.deep.equal(Array(9).fill('rejected'));
    });
    it('a data type without a documented LOINC meaning is rejected with its name and why', () =>
      expect(reason(bad, 0)).to.equal('com.google.calories.expended: Google Fit calories are total energy (basal included), which has no documented LOINC code; not imported'));
    it('a heart rate of 301 is implausible', () => expect(reason(bad, 1)).to.match(/heart rate 301 \/min is implausible/));
    it('an oxygen saturation above 100 % is implausible', () => expect(reason(bad, 2)).to.match(/oxygen saturation 100.5 % is implausible/));
    it('a negative weight is rejected', () => expect(reason(bad, 3)).to.match(/body weight -70 is negative/));
    it('a point from the future is rejected', () => expect(reason(bad, 4)).to.match(/in the future/));
    it('a point without its value is rejected', () => expect(reason(bad, 5)).to.equal('value[0].fpVal must be a number, got nothing'));
    it('a malformed time is rejected and the point has no key', () => {
      expect(reason(bad, 6)).to.match(/startTimeNanos must be an integer number of nanoseconds/);
      expect(bad[6]!.id).to.equal(undefined);
    });
    it('an awake segment is not sleep', () => expect(reason(bad, 7)).to.match(/sleep stage 1 is not counted/));
    it('a height sent in cm instead of m is implausible, with the unit hint', () => expect(reason(bad, 8)).to.match(/body height 17950 cm is implausible.*metres/));
  });

  it('the same point twice in one push is stored once', () => {
    const f = fixture<{ dataSourceId: string; point: unknown[] }>('google-fit-all-types.json');
    const out = convertGoogleFit({ dataSourceId: f.dataSourceId, point: [f.point[0], f.point[0]] }, CTX);
    expect(out[1]).to.deep.equal({ index: 1, id: valid(out, 0).id, status: 'duplicate', of: 0 });
  });

  it('a body without dataSourceId or point is a 400', () => {
    expect(() => convertGoogleFit({ point: [] }, CTX)).to.throw(/"dataSourceId" is required/);
    expect(() => convertGoogleFit({ dataSourceId: 'x' }, CTX)).to.throw(/"point" must be an array/);
  });
});
