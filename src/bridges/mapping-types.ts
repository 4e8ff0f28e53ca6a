/**
 * The shapes of the bridges' mapping table (mapping.ts): rows, conversions, UCUM units, ranges and the
 * constants the rows are written with. Kept apart so the table itself stays one readable list.
 */
import type { Coding } from 'fhir/r4';

export const LOINC = 'http://loinc.org';
export const UCUM = 'http://unitsofmeasure.org';
export const OBSERVATION_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';

export type BridgeCategory = 'vital-signs' | 'activity';
export const CATEGORY_DISPLAY: Record<BridgeCategory, string> = { 'vital-signs': 'Vital Signs', activity: 'Activity' };

/** target = (source + offset) × scale. Declarative so the README can print it. */
export interface Conversion {
  scale: number;
  offset?: number;
  /** Shown in the rejection reason when the converted value is out of range (a common unit mistake). */
  hint?: string;
}

export interface Ucum {
  code: string;
  /** Human-readable unit for `Quantity.unit`. */
  unit: string;
}

/** Plausible values in the target UCUM unit; outside → the sample is rejected naming this rule. */
export interface Range {
  min: number;
  /** When true the minimum itself is implausible (a heart rate of 0 /min is not a measurement). */
  minExclusive?: boolean;
  max: number;
}

export type Effective = 'instant' | 'period';

/**
 * A Health Connect record field (androidx.health.connect.client.records, serialised by property
 * name). `field` holds a unit object (`weight: { inKilograms: 70 }`) whose properties are `units`,
 * or a plain number when `units` is absent (`count`, `beatsPerMinute`). `series`: the record holds
 * `samples[]`, each with its own `time` and the field (HeartRateRecord).
 */
export interface HealthConnectField {
  recordType: string;
  field: string;
  units?: Record<string, Conversion>;
  series?: boolean;
  /** Of two rows for one record type (glucose), the one used when the unit object carries both units. */
  preferred?: boolean;
}

interface RowBase {
  key: string;
  /** LOINC codings; the first is the primary code. */
  code: Coding[];
  text: string;
  category: BridgeCategory;
  /** `instant`: effectiveDateTime (effectivePeriod when the sample spans time); `period`: always effectivePeriod. */
  effective: Effective;
}

export interface QuantityRow extends RowBase {
  kind: 'quantity';
  ucum: Ucum;
  /** Decimals kept after a unit conversion (values already in the target unit are kept as measured). */
  decimals: number;
  range: Range;
  healthKit?: { type: string; units: Record<string, Conversion> };
  googleFit?: { dataTypeName: string; field: number; value: 'fpVal' | 'intVal'; unit: string; conversion: Conversion };
  healthConnect?: HealthConnectField;
  /**
   * HealthKit `%` is a fraction of 1, but iOS 8/9 exports and some apps wrote percentages: decided by
   * value range. ≤ 1 is a fraction; from `percentageFrom` up it is a percentage; between the two the
   * value is neither a plausible fraction nor a plausible percentage and is rejected.
   */
  percentBy?: { percentageFrom: number };
}

export interface ComponentRow {
  key: string;
  code: Coding[];
  text: string;
  ucum: Ucum;
  decimals: number;
  range: Range;
  healthKit: { type: string; units: Record<string, Conversion> };
  googleFit: { field: number; unit: string; conversion: Conversion };
  healthConnect: { field: string; units: Record<string, Conversion> };
}

export interface PanelRow extends RowBase {
  kind: 'panel';
  components: [ComponentRow, ComponentRow];
  healthKit: { correlationType: string };
  googleFit: { dataTypeName: string; value: 'fpVal' };
  healthConnect: { recordType: string };
}

/** The value is the length of the period, counted only for the platform values that mean "asleep". */
export interface DurationRow extends RowBase {
  kind: 'duration';
  ucum: Ucum;
  range: Range;
  /** `rawValues[n]` is the name of HealthKit's raw integer n (HKCategoryValueSleepAnalysis). */
  healthKit: { type: string; counted: readonly string[]; notCounted: Record<string, string>; rawValues: readonly string[] };
  googleFit: { dataTypeName: string; field: number; counted: readonly number[]; notCounted: Record<number, string> };
  /** SleepSessionRecord: `stages[].stage` (STAGE_TYPE_* constants, by number or name). */
  healthConnect: { recordType: string; counted: Record<number, string>; notCounted: Record<number, string> };
}

export type MappingRow = QuantityRow | PanelRow | DurationRow;
