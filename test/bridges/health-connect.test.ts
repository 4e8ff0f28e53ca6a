import { expect } from 'chai';
import type { Observation } from 'fhir/r4';
import { convertHealthConnect, hcInstant } from '../../src/bridges/health-connect.js';
import type { ConvertedSample, ValidSample } from '../../src/bridges/sample.js';
import { CTX, codes, fixture } from './support.js';

type Records = { records: Array<Record<string, unknown>> };
const all = () => convertHealthConnect(fixture<Records>('health-connect-all-types.json'), CTX);
const ofRecord = (samples: ConvertedSample[], record: number) => samples.filter((s) => (s.status === 'valid' ? s.record : (s as { record?: number }).record) === record);
const validOf = (samples: ConvertedSample[], record: number): ValidSample[] => ofRecord(samples, record).filter((s): s is ValidSample => s.status === 'valid');
const obs = (samples: ConvertedSample[], record: number, n = 0): Observation => validOf(samples, record)[n]!.observation;
const reasonOf = (samples: ConvertedSample[], record: number): string => (ofRecord(samples, record).find((s) => s.status === 'rejected') as { reason: string }).reason;

describe('Health Connect bridge: records → Observations', () => {
  it('a HeartRate record becomes one Observation per sample, in the record’s local time', () => {
    const hr = validOf(all(), 0);
    expect(hr).to.have.length(3);
    expect(hr.map((s) => s.observation.valueQuantity?.value)).to.deep.equal([64, 66, 71]);
    expect(hr[0]!.observation.effectiveDateTime).to.equal('2024-05-01T08:30:00+02:00');
    expect(codes(hr[0]!.observation)).to.deep.equal(['8867-4']);
    expect(new Set(hr.map((s) => s.observation.identifier![0]!.value)).size).to.equal(3);
  });

  it('converts every unit object: lb → kg, m → cm, °F → Cel, km → m, kJ → kcal; glucose prefers mmol/L', () => {
    const s = all();
    expect(obs(s, 2).valueQuantity).to.deep.include({ value: 69.99, code: 'kg' });
    expect(obs(s, 3).valueQuantity).to.deep.include({ value: 178, code: 'cm' });
    expect(obs(s, 6).valueQuantity).to.deep.include({ value: 37, code: 'Cel' });
    expect(obs(s, 7).valueQuantity).to.deep.include({ value: 5.4, code: 'mmol/L' });
    expect(codes(obs(s, 7))).to.deep.equal(['15074-8']);
    expect(obs(s, 11).valueQuantity).to.deep.include({ value: 1850, code: 'm' });
    expect(obs(s, 12).valueQuantity).to.deep.include({ value: 100, code: 'kcal' });
    expect(obs(s, 12).effectivePeriod).to.deep.equal({ start: '2024-05-01T09:00:00+02:00', end: '2024-05-01T10:00:00+02:00' });
  });

  it('maps the new types to their LOINC codes: body fat, distance, active energy, resting heart rate, respiratory rate, VO2 max', () => {
    const s = all();
    expect(codes(obs(s, 10))).to.deep.equal(['41982-0']);
    expect(codes(obs(s, 11))).to.deep.equal(['55430-3']);
    expect(codes(obs(s, 12))).to.deep.equal(['41981-2']);
    expect(codes(obs(s, 8))).to.deep.equal(['40443-4']);
    expect(codes(obs(s, 9))).to.deep.equal(['9279-1']);
    expect(obs(s, 13).valueQuantity).to.deep.include({ value: 44.5, code: 'mL/(kg.min)' });
  });

  it('keeps blood-pressure position and location, temperature site, glucose specimen and meal as the platform’s words', () => {
    const s = all();
    const bp = obs(s, 4);
    expect(bp.component?.map((c) => c.valueQuantity?.value)).to.deep.equal([121, 79]);
    expect(bp.bodySite).to.deep.equal({ text: 'left upper arm' });
    expect(bp.extension).to.deep.include({ url: 'http://hl7.org/fhir/StructureDefinition/observation-bodyPosition', valueCodeableConcept: { text: 'sitting down' } });
    expect(obs(s, 6).bodySite).to.deep.equal({ text: 'mouth' });
    expect(obs(s, 7).note).to.deep.equal([{ text: 'specimen: capillary blood' }, { text: 'relation to meal: before meal (breakfast)' }]);
  });

  it('a SleepSession becomes one sleep-duration Observation per asleep stage; awake is rejected with the reason', () => {
    const s = all();
    const stages = validOf(s, 14);
    expect(stages.map((x) => x.observation.valueQuantity?.value)).to.deep.equal([100, 90, 210]);
    expect(stages.map((x) => x.observation.note?.[0]?.text)).to.deep.equal(['sleep stage: light', 'sleep stage: deep', 'sleep stage: rem']);
    expect(reasonOf(s, 14)).to.equal('sleep stage 1 is not counted as sleep duration (awake time is not sleep)');
  });

  it('reports types without a documented LOINC meaning, implausible and future values, and bad blood pressure', () => {
    const s = all();
    expect(reasonOf(s, 15)).to.match(/^BasalMetabolicRate: basal metabolic rate has no documented LOINC code/);
    expect(reasonOf(s, 16)).to.match(/RMSSD/);
    expect(reasonOf(s, 17)).to.equal('heart rate 320 /min is implausible (rule: > 0 and ≤ 300 /min)');
    expect(validOf(s, 17).map((x) => x.observation.valueQuantity?.value)).to.deep.equal([88]);
    expect(reasonOf(s, 19)).to.equal('diastolic 90 mm[Hg] is not below systolic 70 mm[Hg]');
    expect(reasonOf(s, 20)).to.match(/body weight 7000 kg is implausible/);
    expect(reasonOf(s, 21)).to.match(/is in the future/);
  });

  it('the same record twice in one push is a duplicate of the first; outcomes number 28 for 22 records', () => {
    const s = all();
    expect(s).to.have.length(28);
    expect(ofRecord(s, 18)[0]).to.deep.include({ status: 'duplicate', of: 4 });
  });

  it('device and app make the Device; the version and client-record id are kept for updates', () => {
    const weight = validOf(all(), 2)[0]!;
    expect(weight.device.resource.manufacturer).to.equal('Withings');
    expect(weight.device.resource.deviceName).to.deep.equal([{ name: 'com.withings.wiscale2', type: 'user-friendly-name' }, { name: 'Body+', type: 'other' }]);
    expect(weight.observation.identifier!.map((i) => i.system)).to.deep.equal([
      'https://fhir.helsebro.no/sid/health-connect-record',
      'https://fhir.helsebro.no/sid/health-connect-client-record',
      'https://fhir.helsebro.no/sid/health-connect-client-record-version',
    ]);
    expect(weight.observation.identifier![2]!.value).to.equal(`${weight.observation.identifier![1]!.value}@1`);
    expect(weight.version?.value).to.equal(1);
  });

  it('rejects records without metadata id, without a package, of unknown type, or with a mistyped unit', () => {
    const base = { recordType: 'Weight', time: '2024-05-01T05:05:00Z', weight: { inKilograms: 70 } };
    const s = convertHealthConnect(
      {
        records: [
          { ...base, metadata: { dataOrigin: { packageName: 'a' } } },
          { ...base, metadata: { id: 'x1' } },
          { ...base, recordType: 'Nutrition', metadata: { id: 'x2', dataOrigin: { packageName: 'a' } } },
          { ...base, weight: { inStone: 11 }, metadata: { id: 'x3', dataOrigin: { packageName: 'a' } } },
          { ...base, time: '2024-05-01T05:05:00', metadata: { id: 'x4', dataOrigin: { packageName: 'a' } } },
        ],
      },
      CTX,
    );
    expect(s.map((x) => (x.status === 'rejected' ? x.reason : x.status))).to.deep.equal([
      'metadata.id or metadata.clientRecordId is required (it makes a re-push idempotent)',
      'metadata.dataOrigin.packageName is required (a non-empty string)',
      'unknown Health Connect record type "Nutrition"',
      'Weight needs weight with one of weight.inKilograms, weight.inGrams, weight.inPounds, weight.inOunces, weight.inMilligrams, weight.inMicrograms, got an object',
      'time "2024-05-01T05:05:00" is not a date-time with a time zone (e.g. 2024-05-01T08:30:00+02:00)',
    ]);
  });

  it('zone offsets in every serialised form show the instant in local time', () => {
    expect(hcInstant('2024-05-01T06:30:00Z', '+02:00', 'time').fhir).to.equal('2024-05-01T08:30:00+02:00');
    expect(hcInstant('2024-05-01T06:30:00.5Z', { totalSeconds: -18000 }, 'time').fhir).to.equal('2024-05-01T01:30:00.5-05:00');
    expect(hcInstant('2024-05-01T06:30:00Z', 'Z', 'time').fhir).to.equal('2024-05-01T06:30:00Z');
    expect(hcInstant(1714545000000, 3600, 'time').fhir).to.equal('2024-05-01T07:30:00.000+01:00');
  });
});
