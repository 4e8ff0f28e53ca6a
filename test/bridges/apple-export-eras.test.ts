import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { readAppleExport, SKIP_UNMAPPED, type ExportItem } from '../../src/bridges/apple-export.js';
import { convertHealthKit } from '../../src/bridges/healthkit.js';
import { CTX, codes, valid } from './support.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

async function readAll(text: string): Promise<ExportItem[]> {
  const items: ExportItem[] = [];
  async function* pieces() {
    for (let i = 0; i < text.length; i += 97) yield text.slice(i, i + 97);
  }
  for await (const item of readAppleExport(pieces())) items.push(item);
  return items;
}

describe('Apple Health exports of every era (issue 15 §3)', () => {
  const export2015 = fs.readFileSync(path.join(FIXTURES, 'apple-export-2015.xml'), 'utf8');

  it('a 2015 (iOS 8/9, export version 3) export is read: compact dates, source=, metadata as attributes', async () => {
    const items = await readAll(export2015);
    const samples = items.flatMap((i) => (i.kind === 'sample' ? [i.sample] : []));
    expect(samples.map((s) => s.type.replace(/^HK\w+TypeIdentifier/, ''))).to.deep.equal([
      'StepCount', 'HeartRate', 'BodyMass', 'BodyFatPercentage', 'OxygenSaturation', 'BloodGlucose', 'BloodPressure', 'DistanceWalkingRunning', 'ActiveEnergyBurned', 'SleepAnalysis',
    ]);
    expect(samples[0]).to.deep.include({ sourceName: 'Karis iPhone', startDate: '20151107080000+0100' });
    expect(samples[1]!.metadata).to.deep.equal({ HKMetadataKeyHeartRateMotionContext: '0' });
    expect(samples[2]!.metadata).to.deep.equal({ HKWasUserEntered: '1' });
  });

  it('the malformed line (iOS 8 wrote attribute names with spaces) is reported with its line; the rest is imported', async () => {
    const items = await readAll(export2015);
    const malformed = items.filter((i) => i.kind === 'malformed');
    expect(malformed).to.have.length(1);
    expect(malformed[0]).to.deep.include({ kind: 'malformed', line: 16, type: 'HKQuantityTypeIdentifierHeartRate' });
    const skipped = items.flatMap((i) => (i.kind === 'skipped' ? [`${i.type}: ${i.why}`] : []));
    expect(skipped).to.include(`HKQuantityTypeIdentifierFlightsClimbed: ${SKIP_UNMAPPED}`);
    expect(skipped.find((s) => s.startsWith('HKQuantityTypeIdentifierBasalEnergyBurned'))).to.match(/no documented LOINC code/);
  });

  it('every well-formed sample of 2015 becomes an Observation with the right unit conversions', async () => {
    const samples = (await readAll(export2015)).flatMap((i) => (i.kind === 'sample' ? [i.sample] : []));
    const out = convertHealthKit({ samples }, CTX);
    expect(out.map((s) => s.status)).to.deep.equal(Array(10).fill('valid'));
    const value = (n: number) => valid(out, n).observation.valueQuantity;
    expect(valid(out, 0).observation.effectivePeriod).to.deep.equal({ start: '2015-11-07T08:00:00+01:00', end: '2015-11-07T08:10:00+01:00' });
    expect(value(1)).to.deep.include({ value: 72, code: '/min' }); // 1.2 count/s
    expect(value(3)).to.deep.include({ value: 23.5, code: '%' }); // a percentage, not a fraction
    expect(valid(out, 3).note).to.match(/read as a percentage/);
    expect(value(4)).to.deep.include({ value: 97, code: '%' }); // a fraction
    expect(valid(out, 4).note).to.equal(undefined);
    expect(value(5)).to.deep.include({ value: 5.6, code: 'mmol/L' });
    expect(codes(valid(out, 5).observation)).to.deep.equal(['15074-8']);
    expect(valid(out, 6).observation.component?.map((c) => c.valueQuantity?.value)).to.deep.equal([124, 81]);
    expect(valid(out, 6).observation.effectiveDateTime).to.equal('2015-11-07T07:10:00+01:00');
    expect(value(7)).to.deep.include({ value: 410, code: 'm' });
    expect(value(8)).to.deep.include({ value: 31.5, code: 'kcal' });
    expect(value(9)).to.deep.include({ value: 420, code: 'min' });
  });

  it('components in the same correlation shape from different correlations get different ids', async () => {
    const twice = export2015.replace(
      '</HealthData>',
      ' <Correlation type="HKCorrelationTypeIdentifierBloodPressure" source="Withings" startDate="20151108071000+0100" endDate="20151108071000+0100">\n  <Record type="HKQuantityTypeIdentifierBloodPressureSystolic" unit="mmHg" value="124"/>\n  <Record type="HKQuantityTypeIdentifierBloodPressureDiastolic" unit="mmHg" value="81"/>\n </Correlation>\n</HealthData>',
    );
    const bp = (await readAll(twice)).flatMap((i) => (i.kind === 'sample' && i.sample.objects ? [i.sample] : []));
    expect(bp).to.have.length(2);
    expect(bp[0]!.objects![0]!.uuid).to.not.equal(bp[1]!.objects![0]!.uuid);
    expect(bp[1]!.objects![0]).to.deep.include({ sourceName: 'Withings', startDate: '20151108071000+0100' });
  });

  it('a HealthKit correlation whose components omit uuid, dates and sourceName inherits them', () => {
    const out = convertHealthKit(
      {
        samples: [
          {
            uuid: '7b1c7e52-5a0e-4d3b-9c51-2f0a6c1e0001', type: 'HKCorrelationTypeIdentifierBloodPressure', startDate: '2024-05-01T07:10:00+02:00', endDate: '2024-05-01T07:10:00+02:00', sourceName: 'Omron',
            objects: [
              { type: 'HKQuantityTypeIdentifierBloodPressureSystolic', value: 131, unit: 'mmHg' },
              { type: 'HKQuantityTypeIdentifierBloodPressureDiastolic', value: 85, unit: 'mmHg' },
            ],
          },
        ],
      },
      CTX,
    );
    const o = valid(out, 0).observation;
    expect(o.identifier).to.deep.equal([{ system: 'https://fhir.helsebro.no/sid/healthkit-uuid', value: '7b1c7e52-5a0e-4d3b-9c51-2f0a6c1e0001' }]);
    expect(o.component?.map((c) => c.valueQuantity?.value)).to.deep.equal([131, 85]);
    expect(o.effectiveDateTime).to.equal('2024-05-01T07:10:00+02:00');
  });

  it('stops reading a file that is not an export at all after too many malformed elements', async () => {
    const junk = `<HealthData>\n${'<Record a b c d="1"/>\n'.repeat(10_050)}</HealthData>`;
    let error: Error | undefined;
    try {
      await readAll(junk);
    } catch (err) {
      error = err as Error;
    }
    expect(error?.message).to.match(/more than 10000 malformed elements/);
  });
});
