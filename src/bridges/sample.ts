/**
 * The platform-neutral shape both converters produce: a measured sample that passed every rule,
 * or the reason it did not. `resources.ts` turns measured samples into FHIR resources.
 */
import type { Device, Identifier, Observation } from 'fhir/r4';
import type { ComponentRow, MappingRow } from './mapping.js';
import type { Instant } from './rules.js';

export type Platform = 'healthkit' | 'google-fit' | 'health-connect';

/** The app (and physical device, when known) a sample came from; one Device per patient and source. */
export interface SourceDescription {
  platform: Platform;
  /** Parts that identify the source; hashed with the patient id into the Device identifier. */
  identity: readonly string[];
  /** The app as the user knows it: HealthKit `sourceName`, Google Fit / Health Connect application package. */
  appName: string;
  deviceName?: string;
  manufacturer?: string;
  model?: string;
  hardwareVersion?: string;
  /** Google Fit: the data stream without its data type (the same source across types). */
  dataSource?: string;
}

export interface MeasuredSample {
  index: number;
  /** The platform's sample id, echoed in the outcome (HealthKit UUID, Google Fit point key). */
  id: string;
  /** The first identifier is the one conditional create matches on. */
  identifiers: [Identifier, ...Identifier[]];
  row: MappingRow;
  start: Instant;
  end: Instant;
  /** Quantity and duration rows: the value in the row's UCUM unit. */
  value?: number;
  /** Panel rows: one value per component row, in the component's UCUM unit. */
  components?: Array<{ row: ComponentRow; value: number }>;
  source: SourceDescription;
  /** Where and how it was measured, as the platform said it (no code invented): Observation.bodySite, bodyPosition, note. */
  context?: { bodySite?: string; bodyPosition?: string; notes?: string[] };
  /** A decision the converter took that the sender should know about (e.g. how a `%` value was read). */
  note?: string;
  /** Health Connect clientRecordId + clientRecordVersion: a higher version replaces the stored Observation. */
  version?: { identifier: Identifier; value: number };
  /** Health Connect: the record's position in `records` and the sample's position inside it (series, sleep stages). */
  record?: number;
  part?: number;
}

/** Who the samples are for and when they arrived; the patient always comes from the token. */
export interface BridgeContext {
  patientId: string;
  now: Date;
  /** `fhirUser` of the token when someone other than the patient pushes (a proxy), for Provenance. */
  enterer?: string;
}

export interface DeviceEntry {
  fullUrl: string;
  identifier: Identifier;
  resource: Device;
  appName: string;
  platform: Platform;
}

export interface ValidSample {
  index: number;
  id: string;
  status: 'valid';
  observation: Observation;
  observationFullUrl: string;
  device: DeviceEntry;
  note?: string;
  version?: MeasuredSample['version'];
  record?: number;
  part?: number;
}

export interface RejectedSample {
  index: number;
  id?: string;
  status: 'rejected';
  reason: string;
  record?: number;
  part?: number;
}

/** The same sample sent twice in one push: stored once, reported like the first. */
export interface DuplicateSample {
  index: number;
  id: string;
  status: 'duplicate';
  of: number;
  record?: number;
  part?: number;
}

export type ConvertedSample = ValidSample | RejectedSample | DuplicateSample;

/**
 * Samples that share an identifier within one push: an identical repeat becomes a duplicate of the
 * first (stored once); a repeat with different content is rejected, since a platform id names one
 * immutable sample and we cannot tell which version is right.
 */
export function markDuplicates(samples: ConvertedSample[]): ConvertedSample[] {
  const first = new Map<string, ValidSample>();
  const replaced = new Map<number, ConvertedSample>();
  const marked = samples.map((s): ConvertedSample => {
    if (s.status !== 'valid') return s;
    const key = conditionalKey(s.observation);
    const earlier = first.get(key);
    if (!earlier) {
      first.set(key, s);
      return s;
    }
    const where = position(s);
    if (JSON.stringify(earlier.observation) === JSON.stringify(s.observation)) return { index: s.index, id: s.id, status: 'duplicate', of: earlier.index, ...where };
    // A newer version of a Health Connect record in the same push replaces the older one.
    if (s.version && earlier.version && s.version.value !== earlier.version.value) {
      const [newer, older] = s.version.value > earlier.version.value ? [s, earlier] : [earlier, s];
      first.set(key, newer);
      replaced.set(older.index, { index: older.index, id: older.id, status: 'duplicate', of: newer.index, ...position(older) });
      return newer === s ? s : replaced.get(older.index)!;
    }
    return { index: s.index, id: s.id, status: 'rejected', reason: `sample id ${s.id} was also sent as sample ${earlier.index} with different content`, ...where };
  });
  return replaced.size === 0 ? marked : marked.map((s) => replaced.get(s.index) ?? s);
}

function position(s: ValidSample): { record?: number; part?: number } {
  return { ...(s.record !== undefined ? { record: s.record } : {}), ...(s.part !== undefined ? { part: s.part } : {}) };
}

function conditionalKey(observation: Observation): string {
  const id = observation.identifier?.[0];
  return `${id?.system}|${id?.value}`;
}
