import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { readAppleExport, SKIP_BP_COMPONENT, SKIP_ELEMENT, SKIP_UNMAPPED, type ExportItem } from '../../src/bridges/apple-export.js';
import { writeExport } from '../../src/bridges/generate-export.js';
import { convertHealthKit } from '../../src/bridges/healthkit.js';
import { CTX, codes, valid } from './support.js';

const SMALL = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'apple-export-small.xml');

async function readAll(chunks: AsyncIterable<string>): Promise<ExportItem[]> {
  const items: ExportItem[] = [];
  for await (const item of readAppleExport(chunks)) items.push(item);
  return items;
}

/** Feeds text in tiny pieces, so elements and multi-byte characters straddle chunk borders. */
async function* inPieces(text: string, size: number): AsyncGenerator<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}

describe('Apple Health export.xml reader', () => {
  it('yields Records and Correlations as HealthKit samples and names everything it does not import', async () => {
    const items = await readAll(fs.createReadStream(SMALL, 'utf8'));
    const samples = items.flatMap((i) => (i.kind === 'sample' ? [i.sample] : []));
    expect(samples.map((s) => s.type)).to.deep.equal([
      'HKQuantityTypeIdentifierHeartRate',
      'HKQuantityTypeIdentifierBodyMass',
      'HKCorrelationTypeIdentifierBloodPressure',
      'HKCategoryTypeIdentifierSleepAnalysis',
      'HKQuantityTypeIdentifierBloodGlucose',
    ]);
    const skipped = items.flatMap((i) => (i.kind === 'skipped' ? [`${i.type}: ${i.why}`] : []));
    expect(skipped).to.deep.equal([
      `ExportDate: ${SKIP_ELEMENT}`,
      `Me: ${SKIP_ELEMENT}`,
      `HKQuantityTypeIdentifierFlightsClimbed: ${SKIP_UNMAPPED}`,
      `HKQuantityTypeIdentifierBloodPressureDiastolic: ${SKIP_BP_COMPONENT}`,
      `HKQuantityTypeIdentifierBloodPressureSystolic: ${SKIP_BP_COMPONENT}`,
      `Workout: ${SKIP_ELEMENT}`,
      `ActivitySummary: ${SKIP_ELEMENT}`,
    ]);
  });

  it('keeps attributes, metadata, the device string and decoded entities', async () => {
    const items = await readAll(fs.createReadStream(SMALL, 'utf8'));
    const [hr, , bp, sleep, glucose] = items.flatMap((i) => (i.kind === 'sample' ? [i.sample] : []));
    expect(hr).to.include({ type: 'HKQuantityTypeIdentifierHeartRate', value: 72, unit: 'count/min', startDate: '2024-05-01 08:30:00 +0200', sourceName: 'Kari’s Apple Watch', sourceVersion: '10.4' });
    expect(hr!.device).to.equal('<<HKDevice: 0x283a01d60>, name:Apple Watch, manufacturer:Apple Inc., model:Watch, hardware:Watch6,1, software:10.4>');
    expect(hr!.metadata).to.deep.equal({ HKMetadataKeyHeartRateMotionContext: '1' });
    expect(bp!.objects?.map((o) => [o.type, o.value])).to.deep.equal([
      ['HKQuantityTypeIdentifierBloodPressureDiastolic', 79],
      ['HKQuantityTypeIdentifierBloodPressureSystolic', 121],
    ]);
    expect(bp!.metadata).to.deep.equal({ HKWasUserEntered: '0' });
    expect(sleep!.value).to.equal('HKCategoryValueSleepAnalysisAsleepCore');
    expect(glucose!.unit).to.equal('mmol<180.15588000005408>/L');
  });

  it('gives every record a stable derived uuid: reading twice gives the same ids, all distinct', async () => {
    const ids = async () => (await readAll(fs.createReadStream(SMALL, 'utf8'))).flatMap((i) => (i.kind === 'sample' ? [i.sample.uuid] : []));
    const first = await ids();
    expect(await ids()).to.deep.equal(first);
    expect(new Set(first).size).to.equal(first.length);
  });

  it('reads the same samples whatever the chunk boundaries', async () => {
    const text = fs.readFileSync(SMALL, 'utf8');
    const whole = await readAll(inPieces(text, text.length));
    expect(await readAll(inPieces(text, 7))).to.deep.equal(whole);
  });

  it('every sample of the export converts to an Observation (blood pressure as a panel, lb as kg)', async () => {
    const samples = (await readAll(fs.createReadStream(SMALL, 'utf8'))).flatMap((i) => (i.kind === 'sample' ? [i.sample] : []));
    const out = convertHealthKit({ samples }, CTX);
    expect(out.map((s) => s.status)).to.deep.equal(['valid', 'valid', 'valid', 'valid', 'valid']);
    expect(valid(out, 0).observation.effectiveDateTime).to.equal('2024-05-01T08:30:00+02:00');
    expect(valid(out, 0).device.resource.manufacturer).to.equal('Apple Inc.');
    expect(valid(out, 1).observation.valueQuantity?.value).to.equal(69.99);
    expect(codes(valid(out, 2).observation)).to.deep.equal(['85354-9']);
    expect(codes(valid(out, 4).observation)).to.deep.equal(['15074-8']);
  });

  it('a file that is not well-formed XML is reported with the line, and what is well-formed around it is still read', async () => {
    const items = await readAll(inPieces('<HealthData>\n<Record type="x" value="1">\n</HealthData>', 10));
    expect(items.filter((i) => i.kind === 'malformed').map((i) => (i.kind === 'malformed' ? i.line : 0))).to.deep.equal([3]);
  });

  it('the generator writes N records that the reader finds, with the counts it reports', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hb-export-')), 'export.xml');
    const stats = await writeExport(file, { records: 500, seed: 7 });
    const items = await readAll(fs.createReadStream(file, 'utf8'));
    const samples = items.filter((i) => i.kind === 'sample');
    const unmapped = items.filter((i) => i.kind === 'skipped' && i.why === SKIP_UNMAPPED);
    expect(stats.records).to.equal(500);
    expect(samples).to.have.length(stats.mapped);
    expect(samples.length + unmapped.length).to.equal(500);
    const converted = convertHealthKit({ samples: samples.map((i) => (i.kind === 'sample' ? i.sample : null)) }, { ...CTX, now: new Date() });
    const reasons = converted.flatMap((s) => (s.status === 'rejected' ? [s.reason] : []));
    expect(reasons).to.have.length(stats.rejected);
    expect(reasons.every((r) => /InBed is not counted as sleep/.test(r))).to.equal(true);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });
});
