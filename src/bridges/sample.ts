/**
 * The platform-neutral shape both converters produce: a measured sample that passed every rule,
 * or the reason it did not. `resources.ts` turns measured samples into FHIR resources.
 */
import type { Device, Identifier, Observation } from 'fhir/r4';
import type { ComponentRow, MappingRow } from './mapping.js';
import type { Instant } from './rules.js';

export type Platform = 'healthkit' | 'google-fit';

/** The app (and physical device, when known) a sample came from; one Device per patient and source. */
export interface SourceDescription {
  platform: Platform;
  /** Parts that identify the source; hashed with the patient id into the Device identifier. */
  identity: readonly string[];
  /** The app as the user knows it: HealthKit `sourceName`, Google Fit application package. */
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
}

export interface RejectedSample {
  index: number;
  id?: string;
  status: 'rejected';
  reason: string;
}

/** The same sample sent twice in one push: stored once, reported like the first. */
export interface DuplicateSample {
  index: number;
  id: string;
  status: 'duplicate';
  of: number;
}

export type ConvertedSample = ValidSample | RejectedSample | DuplicateSample;

/**
 * Samples that share an identifier within one push: an identical repeat becomes a duplicate of the
 * first (stored once); a repeat with different content is rejected, since a platform id names one
 * immutable sample and we cannot tell which version is right.
 */
export function markDuplicates(samples: ConvertedSample[]): ConvertedSample[] {
  const first = new Map<string, ValidSample>();
  return samples.map((s) => {
    if (s.status !== 'valid') return s;
    const key = conditionalKey(s.observation);
    const earlier = first.get(key);
    if (!earlier) {
      first.set(key, s);
      return s;
    }
    if (JSON.stringify(earlier.observation) === JSON.stringify(s.observation)) return { index: s.index, id: s.id, status: 'duplicate', of: earlier.index };
    return { index: s.index, id: s.id, status: 'rejected', reason: `sample id ${s.id} was also sent as sample ${earlier.index} with different content` };
  });
}

function conditionalKey(observation: Observation): string {
  const id = observation.identifier?.[0];
  return `${id?.system}|${id?.value}`;
}
