/**
 * Streaming reader of Apple Health's `export.xml` (Health app → Export All Health Data). It yields
 * one HealthKit sample per `<Record>` and per `<Correlation>` (with its nested Records as
 * `objects`), in file order, using sax chunk by chunk: memory stays bounded by one chunk plus the
 * samples of that chunk, whatever the file size. The consumer pulls; while it is busy (pushing a
 * batch) no further chunk is read, which is the backpressure.
 *
 * Records carry no UUID in the export, so each gets one derived from all its attributes: the same
 * record in a later export gets the same id, which makes re-imports idempotent.
 */
import sax from 'sax';
import type { HealthKitSample } from './healthkit.js';
import { hashUuid } from './identity.js';
import { rowsForHealthKitType } from './mapping.js';

export type ExportItem =
  | { kind: 'sample'; sample: HealthKitSample }
  /** Something in the file that is not imported, with why; the importer counts these. */
  | { kind: 'skipped'; type: string; why: string };

type Attrs = Record<string, string>;
interface OpenRecord {
  attrs: Attrs;
  metadata: Record<string, string>;
}

export const SKIP_UNMAPPED = 'type not mapped to a FHIR Observation';
export const SKIP_BP_COMPONENT = 'blood-pressure component outside its correlation (the export repeats it beside the correlation)';
export const SKIP_ELEMENT = 'element not imported';

/**
 * @param chunks the file as text chunks (e.g. `fs.createReadStream(path, 'utf8')`).
 */
export async function* readAppleExport(chunks: AsyncIterable<string>): AsyncGenerator<ExportItem> {
  const parser = sax.parser(true, { trim: false, normalize: false });
  const ready: ExportItem[] = [];
  let depth = 0;
  let correlation: (OpenRecord & { records: HealthKitSample[] }) | null = null;
  let record: OpenRecord | null = null;
  let failure: Error | null = null;

  parser.onerror = (err) => {
    failure = new Error(`export.xml is not well-formed at line ${parser.line + 1}: ${err.message.split('\n')[0]}`);
  };
  parser.onopentag = (tag) => {
    depth++;
    const attrs = tag.attributes as Attrs;
    if (tag.name === 'Record' && (depth === 2 || correlation)) {
      record = { attrs, metadata: {} };
    } else if (tag.name === 'Correlation' && depth === 2) {
      correlation = { attrs, metadata: {}, records: [] };
    } else if (tag.name === 'MetadataEntry' && attrs.key !== undefined) {
      const target = record ?? correlation;
      if (target) target.metadata[attrs.key] = attrs.value ?? '';
    } else if (depth === 2 && tag.name !== 'Record' && tag.name !== 'Correlation') {
      ready.push({ kind: 'skipped', type: tag.name, why: SKIP_ELEMENT });
    }
  };
  parser.onclosetag = (name) => {
    depth--;
    if (name === 'Record' && record) {
      const sample = recordSample(record);
      record = null;
      if (correlation) correlation.records.push(sample);
      else ready.push(classify(sample));
    } else if (name === 'Correlation' && correlation) {
      const sample = { ...recordSample(correlation), objects: correlation.records };
      correlation = null;
      ready.push(classify(sample));
    }
  };

  for await (const chunk of chunks) {
    parser.write(chunk);
    if (failure) throw failure;
    while (ready.length > 0) yield ready.shift()!;
  }
  parser.close();
  if (failure) throw failure;
  while (ready.length > 0) yield ready.shift()!;
}

function classify(sample: HealthKitSample): ExportItem {
  if (rowsForHealthKitType(sample.type).length > 0) return { kind: 'sample', sample };
  const component = sample.type === 'HKQuantityTypeIdentifierBloodPressureSystolic' || sample.type === 'HKQuantityTypeIdentifierBloodPressureDiastolic';
  return { kind: 'skipped', type: sample.type, why: component ? SKIP_BP_COMPONENT : SKIP_UNMAPPED };
}

function recordSample({ attrs, metadata }: OpenRecord): HealthKitSample {
  const type = attrs.type ?? '';
  const numeric = type.startsWith('HKQuantityTypeIdentifier') && attrs.value !== undefined && attrs.value.trim() !== '' && Number.isFinite(Number(attrs.value));
  const sample: HealthKitSample = {
    uuid: hashUuid(
      'apple-health-export',
      type,
      attrs.sourceName ?? '',
      attrs.sourceVersion ?? '',
      attrs.device ?? '',
      attrs.unit ?? '',
      attrs.value ?? '',
      attrs.creationDate ?? '',
      attrs.startDate ?? '',
      attrs.endDate ?? '',
    ),
    type,
    startDate: attrs.startDate ?? '',
    endDate: attrs.endDate ?? '',
    sourceName: attrs.sourceName ?? '',
  };
  if (attrs.value !== undefined) sample.value = numeric ? Number(attrs.value) : attrs.value;
  if (attrs.unit !== undefined) sample.unit = attrs.unit;
  if (attrs.sourceVersion !== undefined) sample.sourceVersion = attrs.sourceVersion;
  if (attrs.device !== undefined) sample.device = attrs.device;
  if (Object.keys(metadata).length > 0) sample.metadata = metadata;
  return sample;
}
