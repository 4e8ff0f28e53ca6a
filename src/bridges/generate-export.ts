/**
 * A synthetic Apple Health `export.xml` of N top-level records, shaped like the Health app's
 * export: the DOCTYPE with an internal subset, `<ExportDate>` and `<Me>`, quantity and category
 * Records with MetadataEntry children, blood-pressure Correlations whose component Records are also
 * repeated at the top level, unmapped types, Workouts and ActivitySummaries. Deterministic for a
 * given seed, written as a stream so any size costs constant memory. Used by tests and the bench.
 *
 *   tsx src/bridges/generate-export.ts <records> <file> [seed]
 */
import fs from 'node:fs';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export interface GenerateOptions {
  /** Top-level Record/Correlation elements (component repeats and Workouts not counted). */
  records: number;
  seed?: number;
  /** Time of the first sample; each next one is a few minutes later. Default 2020-01-01 in Oslo. */
  start?: Date;
}

export interface GenerateStats {
  records: number;
  /** Samples the importer will send (mapped types, correlations included). */
  mapped: number;
  /** Of those, the ones the server must reject (time in bed is not sleep). */
  rejected: number;
  correlations: number;
  bytes: number;
}

const DEVICE = '&lt;&lt;HKDevice: 0x283a01d60&gt;, name:Apple Watch, manufacturer:Apple Inc., model:Watch, hardware:Watch6,1, software:10.4&gt;';
const HEADER = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE HealthData [
<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary)*)>
<!ATTLIST HealthData locale CDATA #REQUIRED>
<!ELEMENT ExportDate EMPTY>
<!ATTLIST ExportDate value CDATA #REQUIRED>
]>
<HealthData locale="nb_NO">
 <ExportDate value="2024-05-31 20:00:00 +0200"/>
 <Me HKCharacteristicTypeIdentifierDateOfBirth="1980-02-29" HKCharacteristicTypeIdentifierBiologicalSex="HKBiologicalSexFemale"/>
`;

/** A small deterministic PRNG (mulberry32), so generated files are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `2020-01-01 08:30:00 +0100`: the export's own date format (local time of Norway in winter). */
function appleDate(ms: number): string {
  const local = new Date(ms + 3600_000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${local.getUTCFullYear()}-${p(local.getUTCMonth() + 1)}-${p(local.getUTCDate())} ${p(local.getUTCHours())}:${p(local.getUTCMinutes())}:${p(local.getUTCSeconds())} +0100`;
}

function record(type: string, attrs: { unit?: string; value: string; start: number; end: number; source: string; device?: boolean }, inner = '', indent = ' '): string {
  const unit = attrs.unit ? ` unit="${attrs.unit}"` : '';
  const device = attrs.device ? ` device="${DEVICE}"` : '';
  const head = `${indent}<Record type="${type}" sourceName="${attrs.source}" sourceVersion="10.4"${device}${unit} creationDate="${appleDate(attrs.end + 60_000)}" startDate="${appleDate(attrs.start)}" endDate="${appleDate(attrs.end)}" value="${attrs.value}"`;
  return inner ? `${head}>\n${inner}${indent}</Record>\n` : `${head}/>\n`;
}

/** The generated elements for top-level record number `i`. */
function element(i: number, t: number, rnd: () => number): { xml: string; mapped: boolean; correlation: boolean } {
  const watch = 'Kari’s Apple Watch';
  const r = (lo: number, hi: number, d = 0) => (lo + rnd() * (hi - lo)).toFixed(d);
  switch (i % 16) {
    case 0:
    case 1:
    case 2:
      return { xml: record('HKQuantityTypeIdentifierHeartRate', { unit: 'count/min', value: r(52, 140), start: t, end: t, source: watch, device: true }, '  <MetadataEntry key="HKMetadataKeyHeartRateMotionContext" value="1"/>\n'), mapped: true, correlation: false };
    case 3:
      return { xml: record('HKQuantityTypeIdentifierStepCount', { unit: 'count', value: r(10, 900), start: t, end: t + 600_000, source: 'Kari’s iPhone' }), mapped: true, correlation: false };
    case 4:
      return { xml: record('HKQuantityTypeIdentifierBodyMass', { unit: i % 32 === 4 ? 'lb' : 'kg', value: i % 32 === 4 ? r(140, 170, 1) : r(64, 77, 1), start: t, end: t, source: 'Withings' }), mapped: true, correlation: false };
    case 5:
      return { xml: record('HKQuantityTypeIdentifierOxygenSaturation', { unit: '%', value: r(0.93, 0.99, 2), start: t, end: t, source: watch, device: true }), mapped: true, correlation: false };
    case 6:
      return { xml: record('HKQuantityTypeIdentifierRespiratoryRate', { unit: 'count/min', value: r(12, 20), start: t, end: t, source: watch, device: true }), mapped: true, correlation: false };
    case 7:
      return { xml: record('HKQuantityTypeIdentifierBodyTemperature', { unit: 'degF', value: r(97, 99.5, 1), start: t, end: t, source: 'Health' }), mapped: true, correlation: false };
    case 8:
      return { xml: record('HKQuantityTypeIdentifierBloodGlucose', { unit: i % 32 === 8 ? 'mg/dL' : 'mmol&lt;180.15588000005408&gt;/L', value: i % 32 === 8 ? r(75, 140) : r(4.2, 7.8, 1), start: t, end: t, source: 'OneTouch Reveal' }), mapped: true, correlation: false };
    case 9: {
      const sys = r(105, 145);
      const dia = r(62, 92);
      const comps = [
        record('HKQuantityTypeIdentifierBloodPressureDiastolic', { unit: 'mmHg', value: dia, start: t, end: t, source: 'Omron Connect' }, '', '  '),
        record('HKQuantityTypeIdentifierBloodPressureSystolic', { unit: 'mmHg', value: sys, start: t, end: t, source: 'Omron Connect' }, '', '  '),
      ];
      const repeats = comps.map((c) => c.slice(1)).join('');
      const corr = ` <Correlation type="HKCorrelationTypeIdentifierBloodPressure" sourceName="Omron Connect" sourceVersion="7.1" creationDate="${appleDate(t + 60_000)}" startDate="${appleDate(t)}" endDate="${appleDate(t)}">\n  <MetadataEntry key="HKWasUserEntered" value="0"/>\n${comps.join('')} </Correlation>\n`;
      return { xml: repeats + corr, mapped: true, correlation: true };
    }
    case 10:
      return { xml: record('HKCategoryTypeIdentifierSleepAnalysis', { value: i % 32 === 10 ? 'HKCategoryValueSleepAnalysisAsleepCore' : 'HKCategoryValueSleepAnalysisAsleepDeep', start: t, end: t + 1_800_000, source: watch, device: true }), mapped: true, correlation: false };
    case 11:
      return { xml: record('HKQuantityTypeIdentifierRestingHeartRate', { unit: 'count/min', value: r(48, 66), start: t, end: t + 3_600_000, source: watch, device: true }), mapped: true, correlation: false };
    case 12:
      return { xml: record('HKQuantityTypeIdentifierHeight', { unit: 'cm', value: '168', start: t, end: t, source: 'Health' }) + record('HKQuantityTypeIdentifierBodyMassIndex', { unit: 'count', value: r(22, 26, 1), start: t, end: t, source: 'Withings' }), mapped: true, correlation: false };
    case 13:
      return { xml: record('HKQuantityTypeIdentifierFlightsClimbed', { unit: 'count', value: r(1, 4), start: t, end: t + 300_000, source: watch, device: true }), mapped: false, correlation: false };
    case 14:
      return { xml: record('HKCategoryTypeIdentifierSleepAnalysis', { value: 'HKCategoryValueSleepAnalysisInBed', start: t, end: t + 1_800_000, source: watch, device: true }), mapped: true, correlation: false };
    default:
      return { xml: record('HKQuantityTypeIdentifierDistanceWalkingRunning', { unit: 'km', value: r(0.01, 0.8, 3), start: t, end: t + 600_000, source: 'Kari’s iPhone' }), mapped: true, correlation: false };
  }
}

/** Streams the file; resolves when it is fully written. Case 12 writes two records, counted as two. */
export async function writeExport(file: string, opts: GenerateOptions): Promise<GenerateStats> {
  const rnd = seededRandom(opts.seed ?? 1);
  const out = fs.createWriteStream(file, 'utf8');
  const stats: GenerateStats = { records: 0, mapped: 0, rejected: 0, correlations: 0, bytes: 0 };
  const write = async (text: string) => {
    stats.bytes += Buffer.byteLength(text);
    if (!out.write(text)) await once(out, 'drain');
  };
  await write(HEADER);
  let t = (opts.start ?? new Date('2020-01-01T07:00:00Z')).getTime();
  for (let i = 0; stats.records < opts.records; i++) {
    const e = element(i, t, rnd);
    const count = i % 16 === 12 ? 2 : 1;
    if (stats.records + count > opts.records) {
      // The last slot has room for one record only: use a single heart rate instead of the pair.
      const hr = element(0, t, rnd);
      await write(hr.xml);
      stats.records++;
      stats.mapped++;
      break;
    }
    await write(e.xml);
    stats.records += count;
    if (e.mapped) stats.mapped += count;
    if (e.correlation) stats.correlations++;
    if (i % 16 === 14) stats.rejected++;
    if (i % 50 === 49) await write(` <Workout workoutActivityType="HKWorkoutActivityTypeWalking" duration="30" durationUnit="min" sourceName="Kari’s Apple Watch" startDate="${appleDate(t)}" endDate="${appleDate(t + 1_800_000)}"/>\n`);
    t += 3 * 60_000 + Math.floor(rnd() * 120_000);
  }
  await write(' <ActivitySummary dateComponents="2024-05-31" activeEnergyBurned="420" activeEnergyBurnedGoal="500"/>\n</HealthData>\n');
  out.end();
  await once(out, 'finish');
  return stats;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [records, file, seed] = process.argv.slice(2);
  if (!records || !file) {
    console.error('usage: tsx src/bridges/generate-export.ts <records> <file> [seed]');
    process.exit(2);
  }
  writeExport(file, { records: Number(records), seed: seed ? Number(seed) : 1 }).then(
    (s) => process.stdout.write(JSON.stringify(s) + '\n'),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
