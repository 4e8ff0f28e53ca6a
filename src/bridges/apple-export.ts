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
import { NOT_MAPPED, rowsForHealthKitType } from './mapping.js';

export type ExportItem =
  | { kind: 'sample'; sample: HealthKitSample }
  /** Something in the file that is not imported, with why; the importer counts these. */
  | { kind: 'skipped'; type: string; why: string }
  /** A malformed element (e.g. iOS 8's attribute names with spaces): not imported, reported with its line. */
  | { kind: 'malformed'; line: number; error: string; type?: string };

/** Past this many malformed elements the file is taken to be something other than an export, and reading stops. */
export const MAX_MALFORMED = 10_000;

type Attrs = Record<string, string>;
interface OpenRecord {
  attrs: Attrs;
  metadata: Record<string, string>;
  /** The first parse error inside this element: the whole element is reported, not imported. */
  broken?: { line: number; error: string };
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
  let malformed = 0;
  // Errors raised while sax reads a tag arrive before that tag's open event: they belong to it.
  let pending: { line: number; error: string } | null = null;

  const report = (broken: { line: number; error: string }, type?: string) => {
    malformed++;
    ready.push({ kind: 'malformed', line: broken.line, error: broken.error, ...(type ? { type } : {}) });
  };
  const flushPending = () => {
    if (pending) report(pending);
    pending = null;
  };
  /**
   * A malformed export (iOS 8 wrote attribute names with spaces) is read on: sax recovers at the
   * next tag, the element that was broken is reported with its line and not imported, and everything
   * well-formed around it is imported (issue 15 §3).
   */
  parser.onerror = (err) => {
    pending ??= { line: parser.line + 1, error: err.message.split('\n')[0]! };
    parser.error = null as unknown as Error;
    parser.resume();
  };
  parser.ontext = () => flushPending();
  parser.onopentag = (tag) => {
    depth++;
    const broken = pending ?? undefined;
    pending = null;
    const attrs = tag.attributes as Attrs;
    if (tag.name === 'Record' && (depth === 2 || correlation)) {
      record = { attrs, metadata: {}, broken: broken ?? correlation?.broken };
    } else if (tag.name === 'Correlation' && depth === 2) {
      correlation = { attrs, metadata: {}, records: [], broken };
    } else if (tag.name === 'MetadataEntry' && attrs.key !== undefined) {
      const target = record ?? correlation;
      if (target) {
        target.metadata[attrs.key] = attrs.value ?? '';
        target.broken ??= broken;
      } else if (broken) report(broken, tag.name);
    } else {
      const target = record ?? correlation;
      if (broken && target) target.broken ??= broken;
      else if (broken) report(broken, tag.name);
      if (depth === 2 && tag.name !== 'Record' && tag.name !== 'Correlation') ready.push({ kind: 'skipped', type: tag.name, why: SKIP_ELEMENT });
    }
  };
  parser.onclosetag = (name) => {
    depth--;
    flushPending();
    if (name === 'Record' && record) {
      const done: OpenRecord = record;
      record = null;
      if (done.broken) {
        if (correlation) correlation.broken ??= done.broken;
        else report(done.broken, done.attrs.type);
        return;
      }
      // Components in older exports have no dates or source of their own: they inherit the correlation's.
      const sample = recordSample(correlation ? { ...done, attrs: { ...inherited(correlation.attrs), ...done.attrs } } : done);
      if (correlation) correlation.records.push(sample);
      else ready.push(classify(sample));
    } else if (name === 'Correlation' && correlation) {
      const done: OpenRecord & { records: HealthKitSample[] } = correlation;
      correlation = null;
      if (done.broken) return report(done.broken, done.attrs.type);
      ready.push(classify({ ...recordSample(done), objects: done.records }));
    }
  };

  for await (const chunk of chunks) {
    parser.write(chunk);
    if (malformed > MAX_MALFORMED) throw new Error(`export.xml has more than ${MAX_MALFORMED} malformed elements (the last at line ${parser.line + 1}); is it an Apple Health export?`);
    while (ready.length > 0) yield ready.shift()!;
  }
  parser.close();
  flushPending();
  while (ready.length > 0) yield ready.shift()!;
}

function inherited(attrs: Attrs): Attrs {
  const out: Attrs = {};
  for (const k of ['sourceName', 'source', 'sourceVersion', 'device', 'creationDate', 'startDate', 'endDate']) if (attrs[k] !== undefined) out[k] = attrs[k]!;
  return out;
}

function classify(sample: HealthKitSample): ExportItem {
  if (rowsForHealthKitType(sample.type).length > 0) return { kind: 'sample', sample };
  const component = sample.type === 'HKQuantityTypeIdentifierBloodPressureSystolic' || sample.type === 'HKQuantityTypeIdentifierBloodPressureDiastolic';
  return { kind: 'skipped', type: sample.type, why: component ? SKIP_BP_COMPONENT : (NOT_MAPPED[sample.type] ?? SKIP_UNMAPPED) };
}

/** The attributes a Record has in exports of every version; any other attribute is metadata (iOS 8/9 wrote it so). */
const RECORD_ATTRIBUTES = new Set(['type', 'sourceName', 'source', 'sourceVersion', 'device', 'unit', 'value', 'creationDate', 'startDate', 'endDate', 'recordCount']);

function recordSample({ attrs, metadata: entries }: OpenRecord): HealthKitSample {
  const type = attrs.type ?? '';
  // iOS 8/9: `source=` instead of `sourceName=`, metadata keys as attributes of the Record.
  const sourceName = attrs.sourceName ?? attrs.source ?? '';
  const metadata: Record<string, string> = { ...entries };
  for (const [k, v] of Object.entries(attrs)) if (!RECORD_ATTRIBUTES.has(k)) metadata[k] = v;
  const numeric = type.startsWith('HKQuantityTypeIdentifier') && attrs.value !== undefined && attrs.value.trim() !== '' && Number.isFinite(Number(attrs.value));
  const sample: HealthKitSample = {
    uuid: hashUuid(
      'apple-health-export',
      type,
      sourceName,
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
    sourceName,
  };
  if (attrs.value !== undefined) sample.value = numeric ? Number(attrs.value) : attrs.value;
  if (attrs.unit !== undefined) sample.unit = attrs.unit;
  if (attrs.sourceVersion !== undefined) sample.sourceVersion = attrs.sourceVersion;
  if (attrs.device !== undefined) sample.device = attrs.device;
  if (Object.keys(metadata).length > 0) sample.metadata = metadata;
  return sample;
}
