/**
 * HealthKit → FHIR Observation, pure. Payload (issue 6 §2):
 *   { "samples": [ { "uuid", "type", "value", "unit", "startDate", "endDate", "sourceName",
 *                    "sourceVersion"?, "device"?, "metadata"?, "objects"? } ] }
 * A blood-pressure correlation carries its systolic and diastolic quantity samples in `objects`.
 * Every sample is judged on its own: one bad sample never hides the good ones beside it.
 */
import { FhirError, badRequest } from '../fhir/errors.js';
import { HEALTHKIT_BP_COMPONENT_TYPES, normalizeHealthKitUnit, rowsForHealthKitType, type ComponentRow, type Conversion, type MappingRow, type QuantityRow } from './mapping.js';
import { SID, isUuid } from './identity.js';
import { toValidSample } from './resources.js';
import { checkPeriod, checkRange, convert, describe, inRange, parseInstant, reject, Rejection, requireNumber, requireString } from './rules.js';
import { markDuplicates, type BridgeContext, type ConvertedSample, type MeasuredSample, type SourceDescription } from './sample.js';

export interface HealthKitDevice {
  name?: string;
  manufacturer?: string;
  model?: string;
  hardwareVersion?: string;
  softwareVersion?: string;
  localIdentifier?: string;
  udiDeviceIdentifier?: string;
}

export interface HealthKitSample {
  uuid: string;
  type: string;
  value?: number | string;
  unit?: string;
  startDate: string;
  endDate: string;
  sourceName: string;
  sourceVersion?: string;
  /** An HKDevice as an object, or as the string Apple Health's export.xml writes. */
  device?: HealthKitDevice | string;
  metadata?: Record<string, string | number | boolean>;
  objects?: HealthKitSample[];
}

export interface HealthKitPayload {
  samples: HealthKitSample[];
}

/** Larger pushes must be split (the importer sends 500 at a time); one transaction stays bounded. */
export const MAX_SAMPLES_PER_PUSH = 10_000;

/** The request-level checks; anything wrong inside one sample is that sample's rejection instead. */
export function healthKitSamples(body: unknown): unknown[] {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('The body must be a JSON object { "samples": [...] }', 'samples');
  const samples = (body as { samples?: unknown }).samples;
  if (!Array.isArray(samples)) throw badRequest('"samples" must be an array of HealthKit samples', 'samples');
  if (samples.length > MAX_SAMPLES_PER_PUSH) throw new FhirError(413, { code: 'too-costly', diagnostics: `At most ${MAX_SAMPLES_PER_PUSH} samples per push; got ${samples.length}`, expression: ['samples'] });
  return samples;
}

export function convertHealthKit(body: unknown, ctx: BridgeContext): ConvertedSample[] {
  return markDuplicates(
    healthKitSamples(body).map((raw, index): ConvertedSample => {
      try {
        return toValidSample(measureHealthKitSample(raw, index, ctx.now), ctx);
      } catch (err) {
        if (!(err instanceof Rejection)) throw err;
        const id = isUuid((raw as { uuid?: unknown } | null)?.uuid) ? (raw as { uuid: string }).uuid.toLowerCase() : undefined;
        return { index, id, status: 'rejected', reason: err.message };
      }
    }),
  );
}

/** Validates and converts one sample; throws a Rejection naming the rule it broke. */
export function measureHealthKitSample(raw: unknown, index: number, now: Date): MeasuredSample {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) reject(`sample must be an object, got ${describe(raw)}`);
  const s = raw as Record<string, unknown>;
  if (!isUuid(s.uuid)) reject(`uuid must be a UUID, got ${describe(s.uuid)}`);
  const uuid = s.uuid.toLowerCase();
  const type = requireString(s.type, 'type');
  const rows = rowsForHealthKitType(type);
  if (rows.length === 0) {
    if (HEALTHKIT_BP_COMPONENT_TYPES.includes(type)) reject(`${type} is accepted only inside an HKCorrelationTypeIdentifierBloodPressure correlation (objects)`);
    reject(`unknown HealthKit type "${type}"`);
  }
  const start = parseInstant(s.startDate, 'startDate');
  const end = parseInstant(s.endDate, 'endDate');
  checkPeriod(start, end, now);
  const source = healthKitSource(s);
  const base = { index, id: uuid, identifiers: [{ system: SID.healthKitUuid, value: uuid }] as MeasuredSample['identifiers'], start, end, source };
  const row = rows[0]!;

  if (row.kind === 'panel') {
    if (!Array.isArray(s.objects)) reject(`${type} needs its systolic and diastolic samples in "objects"`);
    // Real bridges send components without uuid, dates or sourceName: they inherit the correlation's.
    const components = row.components.map((c) => measureComponent(c, s.objects as unknown[], type, uuid));
    const [systolic, diastolic] = components;
    if (diastolic!.value >= systolic!.value) reject(`diastolic ${diastolic!.value} mm[Hg] is not below systolic ${systolic!.value} mm[Hg]`);
    const extra = components.flatMap((c) => (c.uuid ? [{ system: SID.healthKitUuid, value: c.uuid }] : []));
    return { ...base, identifiers: [base.identifiers[0], ...extra], row, components: components.map(({ row: r, value }) => ({ row: r, value })) };
  }

  if (row.kind === 'duration') {
    // Raw values arrive as numbers from apps and as digit strings from older exports (`value="1"`).
    const raw = typeof s.value === 'string' && /^\d+$/.test(s.value) ? Number(s.value) : s.value;
    const name = typeof raw === 'number' && Number.isInteger(raw) ? row.healthKit.rawValues[raw] : raw;
    if (typeof name !== 'string') reject(`${type} value must be an HKCategoryValueSleepAnalysis name or raw value, got ${describe(s.value)}`);
    if (row.healthKit.notCounted[name]) reject(`${name} is not counted as sleep duration (${row.healthKit.notCounted[name]})`);
    if (!row.healthKit.counted.includes(name)) reject(`unknown ${type} value ${describe(s.value)}`);
    const minutes = Math.round(((end.ms - start.ms) / 60000) * 10) / 10;
    checkRange(row.text.toLowerCase(), minutes, row.range, row.ucum);
    return { ...base, row, value: minutes };
  }

  const value = requireNumber(s.value, 'value');
  const unit = normalizeHealthKitUnit(requireString(s.unit, 'unit'));
  const match = quantityMatch(rows, unit);
  if (!match) reject(`unit "${s.unit}" is not convertible for ${type} (accepted: ${acceptedUnits(rows as readonly QuantityRow[]).join(', ')})`);
  // `%` rows: HealthKit writes fractions (0.97), but iOS 8/9 exports and some apps wrote percentages
  // (97). A value above 1 cannot be a fraction of a plausible measurement, so it is read as a percentage.
  const percentBy = unit === '%' ? match.row.percentBy : undefined;
  if (percentBy && value > 1) {
    const label = match.row.text.toLowerCase();
    if (value < percentBy.percentageFrom) {
      reject(`${label} ${value} % is neither a fraction of 1 (≤ 1, as HealthKit writes it) nor a plausible percentage (≥ ${percentBy.percentageFrom} %)`);
    }
    const converted = convertChecked(label, value, { scale: 1 }, match.row);
    return { ...base, row: match.row, value: converted, note: `${label} ${value} read as a percentage (HealthKit % values ≤ 1 are fractions of 1; from ${percentBy.percentageFrom} up, percentages)` };
  }
  const converted = convertChecked(() => match.row.text.toLowerCase(), value, match.conversion, match.row);
  return { ...base, row: match.row, value: converted };
}

function measureComponent(row: ComponentRow, objects: unknown[], correlationType: string, correlationUuid: string): { row: ComponentRow; value: number; uuid?: string } {
  const found = objects.filter((o) => (o as { type?: unknown } | null)?.type === row.healthKit.type);
  if (found.length !== 1) reject(`${correlationType} needs exactly one ${row.healthKit.type} in "objects", found ${found.length}`);
  const o = found[0] as Record<string, unknown>;
  if (o.uuid !== undefined && o.uuid !== null && !isUuid(o.uuid)) reject(`objects ${row.healthKit.type} uuid must be a UUID, got ${describe(o.uuid)}`);
  const uuid = isUuid(o.uuid) && o.uuid.toLowerCase() !== correlationUuid ? o.uuid.toLowerCase() : undefined;
  const value = requireNumber(o.value, `${row.key} value`);
  const unit = requireString(o.unit, `${row.key} unit`);
  const conversion = row.healthKit.units[unit];
  if (!conversion) reject(`unit "${unit}" is not convertible for ${row.healthKit.type} (accepted: ${Object.keys(row.healthKit.units).join(', ')})`);
  return { row, value: convertChecked(row.text.toLowerCase(), value, conversion, row), ...(uuid ? { uuid } : {}) };
}

/** `label`: how the rejection names the measure (made only for a rejection: most samples pass). */
function convertChecked(label: string | (() => string), value: number, conversion: Conversion, row: Pick<QuantityRow, 'decimals' | 'range' | 'ucum'>): number {
  if (value < 0) reject(`${labelText(label)} ${value} is negative`);
  const converted = convert(value, conversion, row.decimals);
  if (converted < 0 || !inRange(converted, row.range)) checkRange(labelText(label), converted, row.range, row.ucum, conversion.hint);
  return converted;
}

function labelText(label: string | (() => string)): string {
  return typeof label === 'string' ? label : label();
}

/** The first quantity row of the type that converts `unit` (own keys only: a unit is never an Object method). */
function quantityMatch(rows: readonly MappingRow[], unit: string): { row: QuantityRow; conversion: Conversion } | undefined {
  for (const r of rows) {
    const units = r.kind === 'quantity' ? r.healthKit?.units : undefined;
    if (units && Object.hasOwn(units, unit) && units[unit]) return { row: r as QuantityRow, conversion: units[unit] };
  }
  return undefined;
}

function acceptedUnits(rows: readonly QuantityRow[]): string[] {
  return rows.flatMap((r) => Object.keys(r.healthKit?.units ?? {}));
}

function healthKitSource(s: Record<string, unknown>): SourceDescription {
  // iOS 8/9 exports name the app `source`, later ones `sourceName`.
  const appName = requireString(s.sourceName ?? s.source, 'sourceName').trim();
  if (s.device !== undefined && s.device !== null && typeof s.device !== 'string' && !isPlainObject(s.device)) reject(`device must be an object or the export's HKDevice string, got ${describe(s.device)}`);
  const device = typeof s.device === 'string' ? parseHealthKitDeviceString(s.device) : isPlainObject(s.device) ? pickDevice(s.device) : {};
  return {
    platform: 'healthkit',
    // Versions are left out of the identity: an app or watchOS update is the same source.
    identity: [appName, device.name ?? '', device.manufacturer ?? '', device.model ?? '', device.hardwareVersion ?? '', device.localIdentifier ?? ''],
    appName,
    deviceName: device.name,
    manufacturer: device.manufacturer,
    model: device.model,
    hardwareVersion: device.hardwareVersion,
  };
}

function pickDevice(d: Record<string, unknown>): HealthKitDevice {
  const out: HealthKitDevice = {};
  for (const key of ['name', 'manufacturer', 'model', 'hardwareVersion', 'softwareVersion', 'localIdentifier', 'udiDeviceIdentifier'] as const) {
    const v = d[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') reject(`device.${key} must be a string, got ${describe(v)}`);
    if (v.trim()) out[key] = v.trim();
  }
  return out;
}

const DEVICE_KEYS: Record<string, keyof HealthKitDevice> = {
  name: 'name',
  manufacturer: 'manufacturer',
  model: 'model',
  hardware: 'hardwareVersion',
  software: 'softwareVersion',
  localIdentifier: 'localIdentifier',
  UDIDeviceIdentifier: 'udiDeviceIdentifier',
};

/**
 * export.xml writes devices as `<<HKDevice: 0x283a01d60>, name:Apple Watch, manufacturer:Apple Inc.,
 * model:Watch, hardware:Watch6,1, software:9.1>`. Values may contain commas (`Watch6,1`), so the
 * string is split at the known keys only.
 */
export function parseHealthKitDeviceString(text: string): HealthKitDevice {
  const body = text.replace(/^<<HKDevice:[^>]*>,?\s*/, '').replace(/>\s*$/, '');
  const keyPattern = /(?:^|,\s*)(name|manufacturer|model|hardware|software|localIdentifier|UDIDeviceIdentifier|creation date):/g;
  const marks = [...body.matchAll(keyPattern)];
  const out: HealthKitDevice = {};
  marks.forEach((m, i) => {
    const start = m.index! + m[0].length;
    const end = i + 1 < marks.length ? marks[i + 1]!.index! : body.length;
    const field = DEVICE_KEYS[m[1]!];
    const value = body.slice(start, end).trim();
    if (field && value) out[field] = value;
  });
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}
