import { expect } from 'chai';
import { convertHealthKit, parseHealthKitDeviceString } from '../../src/bridges/healthkit.js';
import { LOINC, OBSERVATION_CATEGORY, UCUM } from '../../src/bridges/mapping.js';
import { SID } from '../../src/bridges/identity.js';
import { CTX, codes, fixture, reason, valid } from './support.js';

describe('HealthKit → Observation', () => {
  const all = convertHealthKit(fixture('healthkit-all-types.json'), CTX);

  it('accepts every sample of every mapped type', () => {
    expect(all.map((s) => s.status)).to.deep.equal(all.map(() => 'valid'));
  });

  it('a heart rate becomes a final vital-signs Observation with every field set from the sample', () => {
    const s = valid(all, 0);
    const o = s.observation;
    expect(s.id).to.equal('0b1c7e52-5a0e-4d3b-9c51-2f0a6c1e0001');
    expect(o.resourceType).to.equal('Observation');
    expect(o.status).to.equal('final');
    expect(o.identifier).to.deep.equal([{ system: SID.healthKitUuid, value: '0b1c7e52-5a0e-4d3b-9c51-2f0a6c1e0001' }]);
    expect(o.category).to.deep.equal([{ coding: [{ system: OBSERVATION_CATEGORY, code: 'vital-signs', display: 'Vital Signs' }] }]);
    expect(o.code).to.deep.equal({ coding: [{ system: LOINC, code: '8867-4', display: 'Heart rate' }], text: 'Heart rate' });
    expect(o.subject).to.deep.equal({ reference: 'Patient/kari' });
    expect(o.performer).to.deep.equal([{ reference: 'Patient/kari' }]);
    expect(o.effectiveDateTime).to.equal('2024-05-01T08:30:00+02:00');
    expect(o.effectivePeriod).to.equal(undefined);
    expect(o.valueQuantity).to.deep.equal({ value: 72, unit: 'beats/minute', system: UCUM, code: '/min' });
    expect(o.device).to.deep.equal({ reference: s.device.fullUrl, display: 'Kari’s Apple Watch' });
  });

  it('the Device names the app and the watch, belongs to the patient and has a derived identifier', () => {
    const d = valid(all, 0).device;
    expect(d.fullUrl).to.match(/^urn:uuid:[0-9a-f-]{36}$/);
    expect(d.resource.identifier?.[0]?.system).to.equal(SID.bridgeDevice);
    expect(d.resource.identifier?.[0]?.value).to.match(/^[0-9a-f]{64}$/);
    expect(d.resource.deviceName).to.deep.equal([
      { name: 'Kari’s Apple Watch', type: 'user-friendly-name' },
      { name: 'Apple Watch', type: 'other' },
    ]);
    expect(d.resource.manufacturer).to.equal('Apple Inc.');
    expect(d.resource.modelNumber).to.equal('Watch');
    expect(d.resource.version).to.deep.equal([{ type: { text: 'hardware' }, value: 'Watch6,1' }]);
    expect(d.resource.patient).to.deep.equal({ reference: 'Patient/kari' });
  });

  it('the same watch is one Device whether described as an object or as the export string, and across software versions', () => {
    const ids = [0, 1, 6].map((i) => valid(all, i).device.identifier.value);
    expect(new Set(ids).size).to.equal(1);
  });

  it('a different app or another patient gets a different Device', () => {
    expect(valid(all, 2).device.identifier.value).to.not.equal(valid(all, 0).device.identifier.value);
    const other = convertHealthKit(fixture('healthkit-all-types.json'), { ...CTX, patientId: 'ola' });
    expect(valid(other, 0).device.identifier.value).to.not.equal(valid(all, 0).device.identifier.value);
  });

  it('a resting heart rate over a day is 40443-4 over an effectivePeriod', () => {
    const o = valid(all, 1).observation;
    expect(codes(o)).to.deep.equal(['40443-4']);
    expect(o.effectivePeriod).to.deep.equal({ start: '2024-05-01T00:00:00+02:00', end: '2024-05-01T23:59:59+02:00' });
    expect(o.effectiveDateTime).to.equal(undefined);
  });

  it('a body weight in lb is converted to kg (154.3 lb → 69.99 kg)', () => {
    const o = valid(all, 2).observation;
    expect(codes(o)).to.deep.equal(['29463-7']);
    expect(o.valueQuantity).to.deep.equal({ value: 69.99, unit: 'kg', system: UCUM, code: 'kg' });
  });

  it('a body weight already in kg is kept as measured', () => {
    expect(valid(all, 14).observation.valueQuantity?.value).to.equal(70.456);
    expect(valid(all, 14).observation.effectiveDateTime).to.equal('2024-05-03T07:00:00Z');
  });

  it('a height in ft or in is converted to cm', () => {
    expect(valid(all, 3).observation.valueQuantity).to.deep.equal({ value: 175.3, unit: 'cm', system: UCUM, code: 'cm' });
    expect(valid(all, 4).observation.valueQuantity?.value).to.equal(177.8);
    expect(codes(valid(all, 4).observation)).to.deep.equal(['8302-2']);
  });

  it('a BMI is 39156-5 in kg/m2', () => {
    const o = valid(all, 5).observation;
    expect(codes(o)).to.deep.equal(['39156-5']);
    expect(o.valueQuantity).to.deep.equal({ value: 22.4, unit: 'kg/m2', system: UCUM, code: 'kg/m2' });
  });

  it('an oxygen saturation fraction 0.97 becomes 97 % coded 2708-6 and 59408-5', () => {
    const o = valid(all, 6).observation;
    expect(codes(o)).to.deep.equal(['2708-6', '59408-5']);
    expect(o.valueQuantity).to.deep.equal({ value: 97, unit: '%', system: UCUM, code: '%' });
  });

  it('a body temperature in °F is converted to Cel (98.6 °F → 37 Cel)', () => {
    const o = valid(all, 7).observation;
    expect(codes(o)).to.deep.equal(['8310-5']);
    expect(o.valueQuantity).to.deep.equal({ value: 37, unit: 'C', system: UCUM, code: 'Cel' });
  });

  it('a respiratory rate is 9279-1 in /min', () => {
    const o = valid(all, 8).observation;
    expect(codes(o)).to.deep.equal(['9279-1']);
    expect(o.valueQuantity).to.deep.equal({ value: 16, unit: 'breaths/minute', system: UCUM, code: '/min' });
  });

  it('blood glucose keeps the unit it was measured in: mg/dL → 2339-0, mmol/L → 15074-8', () => {
    expect(codes(valid(all, 9).observation)).to.deep.equal(['2339-0']);
    expect(valid(all, 9).observation.valueQuantity).to.deep.equal({ value: 95, unit: 'mg/dL', system: UCUM, code: 'mg/dL' });
    expect(codes(valid(all, 10).observation)).to.deep.equal(['15074-8']);
    expect(valid(all, 10).observation.valueQuantity).to.deep.equal({ value: 5.4, unit: 'mmol/L', system: UCUM, code: 'mmol/L' });
  });

  it('a step count is an activity Observation 55423-8 over an effectivePeriod', () => {
    const o = valid(all, 11).observation;
    expect(codes(o)).to.deep.equal(['55423-8']);
    expect(o.category?.[0]?.coding?.[0]?.code).to.equal('activity');
    expect(o.effectivePeriod).to.deep.equal({ start: '2024-05-01T10:00:00+02:00', end: '2024-05-01T10:15:00+02:00' });
    expect(o.valueQuantity).to.deep.equal({ value: 1234, unit: 'steps', system: UCUM, code: '{steps}' });
  });

  it('a blood pressure correlation becomes an 85354-9 panel with systolic and diastolic components in mm[Hg]', () => {
    const o = valid(all, 12).observation;
    expect(codes(o)).to.deep.equal(['85354-9']);
    expect(o.valueQuantity).to.equal(undefined);
    expect(o.component).to.deep.equal([
      { code: { coding: [{ system: LOINC, code: '8480-6', display: 'Systolic blood pressure' }], text: 'Systolic blood pressure' }, valueQuantity: { value: 121, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' } },
      { code: { coding: [{ system: LOINC, code: '8462-4', display: 'Diastolic blood pressure' }], text: 'Diastolic blood pressure' }, valueQuantity: { value: 79, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' } },
    ]);
    expect(o.identifier?.map((i) => i.value)).to.deep.equal([
      '0b1c7e52-5a0e-4d3b-9c51-2f0a6c1e0013',
      '0b1c7e52-5a0e-4d3b-9c51-2f0a6c1e1013',
      '0b1c7e52-5a0e-4d3b-9c51-2f0a6c1e2013',
    ]);
    expect(o.effectiveDateTime).to.equal('2024-05-01T08:05:00+02:00');
  });

  it('sleep (asleep core) is 93832-4 with the minutes of the period; a raw value 5 (REM) counts too', () => {
    const o = valid(all, 13).observation;
    expect(codes(o)).to.deep.equal(['93832-4']);
    expect(o.category?.[0]?.coding?.[0]?.code).to.equal('activity');
    expect(o.valueQuantity).to.deep.equal({ value: 450, unit: 'min', system: UCUM, code: 'min' });
    expect(o.effectivePeriod).to.deep.equal({ start: '2024-04-30T23:00:00+02:00', end: '2024-05-01T06:30:00+02:00' });
    expect(valid(all, 15).observation.valueQuantity?.value).to.equal(45.5);
  });

  it('converting the same payload twice gives identical resources (deterministic identities)', () => {
    expect(convertHealthKit(fixture('healthkit-all-types.json'), CTX)).to.deep.equal(all);
  });

  describe('rejections name the rule', () => {
    const bad = convertHealthKit(fixture('healthkit-bad.json'), CTX);

    it('no sample of the bad fixture is accepted, and none is left out', () => {
      expect(bad).to.have.length(16);
      expect(bad.every((s) => s.status === 'rejected')).to.equal(true);
      expect(bad.map((s) => s.index)).to.deep.equal([...Array(16).keys()]);
    });
    it('an unknown type is rejected with its name', () => expect(reason(bad, 0)).to.equal('unknown HealthKit type "HKQuantityTypeIdentifierDietaryCaffeine"'));
    it('a negative weight is rejected as negative', () => expect(reason(bad, 1)).to.match(/body weight -3 is negative/));
    it('a heart rate above 300 /min is implausible', () => expect(reason(bad, 2)).to.match(/heart rate 320 \/min is implausible \(rule: > 0 and ≤ 300 \/min\)/));
    it('an oxygen saturation of 1.02 is neither a fraction of 1 nor a plausible percentage', () => {
      expect(reason(bad, 3)).to.equal('oxygen saturation 1.02 % is neither a fraction of 1 (≤ 1, as HealthKit writes it) nor a plausible percentage (≥ 50 %)');
    });
    it('a sample from the future is rejected', () => expect(reason(bad, 4)).to.match(/is in the future/));
    it('a unit that cannot be converted is rejected, listing the accepted units', () => expect(reason(bad, 5)).to.equal('unit "st" is not convertible for HKQuantityTypeIdentifierBodyMass (accepted: kg, g, lb)'));
    it('a sample without uuid is rejected and has no id', () => {
      expect(reason(bad, 6)).to.match(/uuid must be a UUID/);
      expect(bad[6]!.id).to.equal(undefined);
    });
    it('a start after the end is rejected', () => expect(reason(bad, 7)).to.match(/start .* is after end/));
    it('a lone systolic value is accepted only inside its correlation', () => expect(reason(bad, 8)).to.match(/only inside an HKCorrelationTypeIdentifierBloodPressure correlation/));
    it('a correlation without its diastolic sample is rejected', () => expect(reason(bad, 9)).to.match(/exactly one HKQuantityTypeIdentifierBloodPressureDiastolic/));
    it('time in bed is not sleep', () => expect(reason(bad, 10)).to.match(/InBed is not counted as sleep duration/));
    it('a time without a time zone is rejected', () => expect(reason(bad, 11)).to.match(/startDate .* is not a date-time with a time zone/));
    it('a body temperature of 52 Cel is implausible', () => expect(reason(bad, 12)).to.match(/body temperature 52 Cel is implausible/));
    it('a diastolic pressure above the systolic is rejected', () => expect(reason(bad, 13)).to.match(/diastolic 90 mm\[Hg\] is not below systolic 70/));
    it('a value sent as a string is rejected', () => expect(reason(bad, 14)).to.equal('value must be a number, got "72"'));
    it('a sample that is not an object is rejected', () => expect(reason(bad, 15)).to.match(/sample must be an object/));
  });

  describe('a mixed push', () => {
    const f = fixture<{ samples: Array<Record<string, unknown>> }>('healthkit-all-types.json');
    const b = fixture<{ samples: Array<Record<string, unknown>> }>('healthkit-bad.json');
    const changed = { ...f.samples[0], value: 73 };
    const mixed = convertHealthKit({ samples: [f.samples[0], b.samples[2], f.samples[2], f.samples[0], changed, { ...f.samples[0], uuid: String(f.samples[0]!.uuid).toLowerCase() }] }, CTX);

    it('keeps valid samples beside rejected ones', () => {
      expect(mixed.map((s) => s.status)).to.deep.equal(['valid', 'rejected', 'valid', 'duplicate', 'rejected', 'duplicate']);
    });
    it('an identical repeat is a duplicate of the first; the uuid is matched case-insensitively', () => {
      expect(mixed[3]).to.deep.equal({ index: 3, id: '0b1c7e52-5a0e-4d3b-9c51-2f0a6c1e0001', status: 'duplicate', of: 0 });
      expect(mixed[5]).to.include({ status: 'duplicate', of: 0 });
    });
    it('a repeat of a uuid with different content is rejected', () => expect(reason(mixed, 4)).to.match(/also sent as sample 0 with different content/));
  });

  it('a body that is not { samples: [...] } is a 400 naming "samples"', () => {
    expect(() => convertHealthKit({ sample: [] }, CTX)).to.throw(/"samples" must be an array/);
    expect(() => convertHealthKit([], CTX)).to.throw(/must be a JSON object/);
  });

  it('parses the HKDevice string of export.xml, keeping commas inside values', () => {
    expect(parseHealthKitDeviceString('<<HKDevice: 0x283a01d60>, name:Apple Watch, manufacturer:Apple Inc., model:Watch, hardware:Watch6,1, software:9.1>')).to.deep.equal({
      name: 'Apple Watch',
      manufacturer: 'Apple Inc.',
      model: 'Watch',
      hardwareVersion: 'Watch6,1',
      softwareVersion: '9.1',
    });
  });
});
