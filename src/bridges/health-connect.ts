/**
 * Android Health Connect → FHIR Observation, pure (issue 15 §1). Payload:
 *   { "records": [ { "recordType": "Weight", "metadata": { "id", "clientRecordId"?, "clientRecordVersion"?,
 *                    "dataOrigin": { "packageName" }, "device"?: { "manufacturer", "model", "type" }, "lastModifiedTime"? },
 *                    "time" | "startTime"+"endTime", "zoneOffset" | "startZoneOffset"+"endZoneOffset",
 *                    …the record's own fields with their unit objects ("weight": { "inKilograms": 70.2 }) } ] }
 * i.e. the androidx.health.connect.client.records classes serialised by property name. A HeartRate
 * record becomes one Observation per sample, a SleepSession one per asleep stage; every other record
 * one Observation. Each record (and each sample or stage) is judged on its own.
 */
import type { Identifier } from 'fhir/r4';
import { FhirError, badRequest } from '../fhir/errors.js';
import { NOT_MAPPED, rowsForHealthConnectType, type Conversion, type DurationRow, type PanelRow, type QuantityRow } from './mapping.js';
import { SID, hashParts } from './identity.js';
import { toValidSample } from './resources.js';
import { checkPeriod, checkRange, convert, describe, parseInstant, reject, Rejection, requireString, type Instant } from './rules.js';
import { markDuplicates, type BridgeContext, type ConvertedSample, type MeasuredSample, type SourceDescription } from './sample.js';
import { MAX_SAMPLES_PER_PUSH } from './healthkit.js';
import { contextOf, deviceTypeName } from './health-connect-context.js';

/** Records per push (a HeartRate record may hold many samples; the Observations of one push are capped too). */
export const MAX_RECORDS_PER_PUSH = 5_000;

export function healthConnectRecords(body: unknown): unknown[] {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('The body must be a JSON object { "records": [...] }', 'records');
  const records = (body as { records?: unknown }).records;
  if (!Array.isArray(records)) throw badRequest('"records" must be an array of Health Connect records', 'records');
  if (records.length > MAX_RECORDS_PER_PUSH) throw new FhirError(413, { code: 'too-costly', diagnostics: `At most ${MAX_RECORDS_PER_PUSH} records per push; got ${records.length}`, expression: ['records'] });
  return records;
}

export function convertHealthConnect(body: unknown, ctx: BridgeContext): ConvertedSample[] {
  const out: ConvertedSample[] = [];
  healthConnectRecords(body).forEach((raw, record) => {
    let measured: Array<MeasuredSample | Rejected>;
    try {
      measured = measureHealthConnectRecord(raw, record, ctx.now);
    } catch (err) {
      if (!(err instanceof Rejection)) throw err;
      out.push({ index: out.length, id: recordId(raw), status: 'rejected', reason: err.message, record });
      return;
    }
    for (const m of measured) {
      if ('reason' in m) out.push({ index: out.length, id: m.id, status: 'rejected', reason: m.reason, record, part: m.part });
      else out.push(toValidSample({ ...m, index: out.length }, ctx));
    }
    if (out.length > MAX_SAMPLES_PER_PUSH) {
      throw new FhirError(413, { code: 'too-costly', diagnostics: `At most ${MAX_SAMPLES_PER_PUSH} samples (heart-rate samples and sleep stages included) per push`, expression: ['records'] });
    }
  });
  return markDuplicates(out);
}

/** A sample inside a record (a heart-rate sample, a sleep stage) that broke a rule; its siblings still count. */
interface Rejected {
  id?: string;
  part: number;
  reason: string;
}

/** Validates and converts one record into its samples; throws a Rejection when the record as a whole is unusable. */
export function measureHealthConnectRecord(raw: unknown, record: number, now: Date): Array<MeasuredSample | Rejected> {
  if (!isObject(raw)) reject(`record must be an object, got ${describe(raw)}`);
  const type = requireString(raw.recordType, 'recordType').replace(/Record$/, '');
  const rows = rowsForHealthConnectType(type);
  if (rows.length === 0) reject(NOT_MAPPED[type] ? `${type}: ${NOT_MAPPED[type]}` : `unknown Health Connect record type "${type}"`);
  const meta = recordMetadata(raw.metadata);
  const source = healthConnectSource(meta);
  const base = { index: record, record, source };
  const row = rows[0]!;

  if (row.kind === 'quantity' && row.healthConnect!.series) return heartRateSeries(raw, row, meta, base, now);
  if (row.kind === 'duration') return sleepStages(raw, row, meta, base, now);

  const { start, end } = recordTimes(raw, now);
  const identifiers = identifiersFor(meta, type, '');
  const common = { ...base, id: identifiers[0].value!, identifiers, start, end, context: contextOf(type, raw), ...withVersion(meta, identifiers) };
  if (row.kind === 'panel') return [{ ...common, ...bloodPressure(raw, row) }];
  const { match, value } = quantity(raw, rows as QuantityRow[], type);
  return [{ ...common, row: match, value }];
}

interface RecordMetadata {
  id?: string;
  clientRecordId?: string;
  clientRecordVersion?: number;
  packageName: string;
  manufacturer?: string;
  model?: string;
  deviceType?: string;
}

function recordMetadata(raw: unknown): RecordMetadata {
  if (!isObject(raw)) reject(`metadata is required (an object with id and dataOrigin.packageName), got ${describe(raw)}`);
  const id = optionalString(raw.id, 'metadata.id');
  const clientRecordId = optionalString(raw.clientRecordId, 'metadata.clientRecordId');
  if (!id && !clientRecordId) reject('metadata.id or metadata.clientRecordId is required (it makes a re-push idempotent)');
  let clientRecordVersion: number | undefined;
  if (raw.clientRecordVersion !== undefined && raw.clientRecordVersion !== null) {
    const v = typeof raw.clientRecordVersion === 'string' && /^\d+$/.test(raw.clientRecordVersion) ? Number(raw.clientRecordVersion) : raw.clientRecordVersion;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) reject(`metadata.clientRecordVersion must be a non-negative integer, got ${describe(raw.clientRecordVersion)}`);
    clientRecordVersion = v;
  }
  const origin = isObject(raw.dataOrigin) ? raw.dataOrigin : {};
  const packageName = requireString(origin.packageName, 'metadata.dataOrigin.packageName').trim();
  const device = raw.device === undefined || raw.device === null ? {} : isObject(raw.device) ? raw.device : reject(`metadata.device must be an object, got ${describe(raw.device)}`);
  return {
    id,
    clientRecordId,
    clientRecordVersion,
    packageName,
    manufacturer: optionalString(device.manufacturer, 'metadata.device.manufacturer'),
    model: optionalString(device.model, 'metadata.device.model'),
    deviceType: deviceTypeName(device.type),
  };
}

/**
 * The Observation identifiers: `metadata.id` (Health Connect's own record id) first when present, the
 * writing app's clientRecordId (per package) beside it. `suffix` tells samples and stages of one record apart.
 */
function identifiersFor(meta: RecordMetadata, type: string, suffix: string): [Identifier, ...Identifier[]] {
  const ids: Identifier[] = [];
  if (meta.id) ids.push({ system: SID.healthConnectRecord, value: `${meta.id}${suffix}` });
  if (meta.clientRecordId) ids.push({ system: SID.healthConnectClientRecord, value: `${clientKey(meta, type)}${suffix}` });
  return ids as [Identifier, ...Identifier[]];
}

/** clientRecordId is unique per app and record type; hashed so any characters are safe in a search. */
function clientKey(meta: RecordMetadata, type: string): string {
  return hashParts(meta.packageName, type, meta.clientRecordId!);
}

function withVersion(meta: RecordMetadata, identifiers: Identifier[]): Pick<MeasuredSample, 'version'> {
  const key = identifiers.find((i) => i.system === SID.healthConnectClientRecord);
  return key && meta.clientRecordVersion !== undefined ? { version: { identifier: key, value: meta.clientRecordVersion } } : {};
}

function quantity(raw: Record<string, unknown>, rows: QuantityRow[], type: string): { match: QuantityRow; value: number } {
  const field = rows[0]!.healthConnect!.field;
  const v = raw[field];
  const candidates = [...rows].sort((a, b) => Number(!!b.healthConnect!.preferred) - Number(!!a.healthConnect!.preferred));
  for (const row of candidates) {
    const units = row.healthConnect!.units;
    if (!units) {
      if (typeof v !== 'number' || !Number.isFinite(v)) reject(`${field} must be a number, got ${describe(v)}`);
      return { match: row, value: measured(row.text.toLowerCase(), v, { scale: 1 }, row) };
    }
    if (!isObject(v)) continue;
    for (const [unit, conversion] of Object.entries(units)) {
      const n = v[unit];
      if (n === undefined || n === null) continue;
      if (typeof n !== 'number' || !Number.isFinite(n)) reject(`${field}.${unit} must be a number, got ${describe(n)}`);
      return { match: row, value: measured(row.text.toLowerCase(), n, conversion, row) };
    }
  }
  const accepted = rows.flatMap((r) => Object.keys(r.healthConnect!.units ?? {}));
  reject(`${type} needs ${field} with one of ${accepted.map((u) => `${field}.${u}`).join(', ')}, got ${describe(v)}`);
}

function bloodPressure(raw: Record<string, unknown>, row: PanelRow): Pick<MeasuredSample, 'row' | 'components'> {
  const components = row.components.map((c) => {
    const v = raw[c.healthConnect.field];
    if (!isObject(v)) reject(`${c.healthConnect.field} must be a pressure object ({ "inMillimetersOfMercury": … }), got ${describe(v)}`);
    const [unit, conversion] = Object.entries(c.healthConnect.units).find(([u]) => typeof v[u] === 'number') ?? reject(`${c.healthConnect.field}.inMillimetersOfMercury must be a number`);
    return { row: c, value: measured(c.text.toLowerCase(), v[unit] as number, conversion, c) };
  });
  const [systolic, diastolic] = components;
  if (diastolic!.value >= systolic!.value) reject(`diastolic ${diastolic!.value} mm[Hg] is not below systolic ${systolic!.value} mm[Hg]`);
  return { row, components };
}

type Base = Pick<MeasuredSample, 'index' | 'record' | 'source'>;

/** HeartRateRecord: `samples[{ time, beatsPerMinute }]` inside startTime/endTime → one Observation per sample. */
function heartRateSeries(raw: Record<string, unknown>, row: QuantityRow, meta: RecordMetadata, base: Base, now: Date): Array<MeasuredSample | Rejected> {
  const { start, end } = recordTimes(raw, now);
  if (!Array.isArray(raw.samples) || raw.samples.length === 0) reject(`HeartRate needs a non-empty "samples" array, got ${describe(raw.samples)}`);
  const offset = raw.startZoneOffset ?? raw.zoneOffset;
  return raw.samples.map((s: unknown, part): MeasuredSample | Rejected => {
    let id: string | undefined;
    try {
      if (!isObject(s)) reject(`samples[${part}] must be an object, got ${describe(s)}`);
      const at = hcInstant(s.time, offset, `samples[${part}].time`);
      const identifiers = identifiersFor(meta, 'HeartRate', `/t${at.ms}`);
      id = identifiers[0].value;
      if (at.ms < start.ms || at.ms > end.ms) reject(`samples[${part}].time ${at.fhir} is outside the record's startTime–endTime`);
      const bpm = s[row.healthConnect!.field];
      if (typeof bpm !== 'number' || !Number.isFinite(bpm)) reject(`samples[${part}].beatsPerMinute must be a number, got ${describe(bpm)}`);
      const value = measured('heart rate', bpm, { scale: 1 }, row);
      return { ...base, part, id: id!, identifiers, row, start: at, end: at, value, ...withVersion(meta, identifiers) };
    } catch (err) {
      if (err instanceof Rejection) return { id, part, reason: err.message };
      throw err;
    }
  });
}

/**
 * SleepSessionRecord: each asleep stage (`stages[{ startTime, endTime, stage }]`) becomes a sleep-duration
 * Observation; awake, out-of-bed and unknown stages are reported, not stored. A session without stages
 * is counted as sleep as a whole (Health Connect's definition of a session without stage data).
 */
function sleepStages(raw: Record<string, unknown>, row: DurationRow, meta: RecordMetadata, base: Base, now: Date): Array<MeasuredSample | Rejected> {
  const session = recordTimes(raw, now);
  const hc = row.healthConnect;
  const stages: unknown[] = Array.isArray(raw.stages) && raw.stages.length > 0 ? raw.stages : [{ startTime: raw.startTime, endTime: raw.endTime, stage: 2, whole: true }];
  return stages.map((s, part): MeasuredSample | Rejected => {
    let id: string | undefined;
    try {
      if (!isObject(s)) reject(`stages[${part}] must be an object, got ${describe(s)}`);
      const start = hcInstant(s.startTime, raw.startZoneOffset, `stages[${part}].startTime`);
      const end = hcInstant(s.endTime, raw.endZoneOffset ?? raw.startZoneOffset, `stages[${part}].endTime`);
      const identifiers = identifiersFor(meta, 'SleepSession', s.whole ? '/session' : `/stage/${start.ms}`);
      id = identifiers[0].value;
      checkPeriod(start, end, now);
      if (start.ms < session.start.ms || end.ms > session.end.ms) reject(`stages[${part}] ${start.fhir}–${end.fhir} is outside the session`);
      const stage = stageNumber(s.stage, hc.counted, part);
      if (hc.notCounted[stage]) reject(`sleep stage ${stage} is not counted as sleep duration (${hc.notCounted[stage]})`);
      if (!hc.counted[stage]) reject(`unknown sleep stage ${describe(s.stage)}`);
      const minutes = Math.round(((end.ms - start.ms) / 60000) * 10) / 10;
      checkRange(row.text.toLowerCase(), minutes, row.range, row.ucum);
      const context = { notes: [s.whole ? 'sleep session without stage data' : `sleep stage: ${hc.counted[stage]!.toLowerCase()}`] };
      return { ...base, part, id: id!, identifiers, row, start, end, value: minutes, context, ...withVersion(meta, identifiers) };
    } catch (err) {
      if (err instanceof Rejection) return { id, part, reason: err.message };
      throw err;
    }
  });
}

/** A stage by its STAGE_TYPE_* number, or by name (`"DEEP"`, `"STAGE_TYPE_DEEP"`, `"deep"`). */
function stageNumber(raw: unknown, counted: Record<number, string>, part: number): number {
  if (typeof raw === 'number' && Number.isInteger(raw)) return raw;
  if (typeof raw === 'string') {
    const name = raw.toUpperCase().replace(/^STAGE_TYPE_/, '');
    const names: Record<string, number> = { UNKNOWN: 0, AWAKE: 1, OUT_OF_BED: 3, AWAKE_IN_BED: 7 };
    for (const [n, label] of Object.entries(counted)) names[label] = Number(n);
    if (names[name] !== undefined) return names[name]!;
    if (/^\d+$/.test(raw)) return Number(raw);
  }
  reject(`stages[${part}].stage must be a STAGE_TYPE_* number or name, got ${describe(raw)}`);
}

function measured(label: string, value: number, conversion: Conversion, row: Pick<QuantityRow, 'decimals' | 'range' | 'ucum'>): number {
  if (value < 0) reject(`${label} ${value} is negative`);
  const converted = convert(value, conversion, row.decimals);
  checkRange(label, converted, row.range, row.ucum, conversion.hint);
  return converted;
}

/** `time` (instant records) or `startTime`/`endTime` (interval records), each with its zone offset. */
function recordTimes(raw: Record<string, unknown>, now: Date): { start: Instant; end: Instant } {
  let start: Instant;
  let end: Instant;
  if (raw.time !== undefined) {
    start = end = hcInstant(raw.time, raw.zoneOffset, 'time');
  } else {
    start = hcInstant(raw.startTime, raw.startZoneOffset, 'startTime');
    end = hcInstant(raw.endTime, raw.endZoneOffset, 'endTime');
  }
  checkPeriod(start, end, now);
  return { start, end };
}

/**
 * A Health Connect Instant (ISO 8601, `Instant.toString()` writes UTC with `Z`) shown in the record's
 * ZoneOffset (`"+02:00"`, `"Z"`, seconds, or `{ "totalSeconds": 7200 }`), so the stored dateTime reads
 * in the user's local time like HealthKit's. Without an offset the instant is kept as sent.
 */
export function hcInstant(raw: unknown, offset: unknown, field: string): Instant {
  const instant = typeof raw === 'number' && Number.isSafeInteger(raw) ? parseInstant(new Date(raw).toISOString(), field) : parseInstant(raw, field);
  const seconds = offsetSeconds(offset, field === 'time' ? 'zoneOffset' : /^(start|end)Time$/.test(field) ? field.replace('Time', 'ZoneOffset') : `zone offset of ${field}`);
  if (seconds === undefined) return instant;
  const local = new Date(instant.ms + seconds * 1000).toISOString().slice(0, 19);
  const fraction = /\.\d+/.exec(instant.fhir.slice(19))?.[0] ?? '';
  const sign = seconds < 0 ? '-' : '+';
  const abs = Math.abs(seconds);
  const zone = seconds === 0 ? 'Z' : `${sign}${String(Math.floor(abs / 3600)).padStart(2, '0')}:${String(Math.floor((abs % 3600) / 60)).padStart(2, '0')}`;
  return { fhir: `${local}${fraction}${zone}`, ms: instant.ms };
}

function offsetSeconds(raw: unknown, field: string): number | undefined {
  if (raw === undefined || raw === null) return undefined;
  const value = isObject(raw) ? raw.totalSeconds : raw;
  if (typeof value === 'number' && Number.isInteger(value) && Math.abs(value) <= 18 * 3600) return value;
  if (typeof value === 'string') {
    if (value === 'Z') return 0;
    const m = /^([+-])(\d{2}):?(\d{2})(?::?(\d{2}))?$/.exec(value);
    if (m && Number(m[2]) <= 18) return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4] ?? 0));
  }
  reject(`${field} must be a zone offset such as "+02:00", got ${describe(raw)}`);
}

function healthConnectSource(meta: RecordMetadata): SourceDescription {
  return {
    platform: 'health-connect',
    identity: [meta.packageName, meta.manufacturer ?? '', meta.model ?? '', meta.deviceType ?? ''],
    appName: meta.packageName,
    deviceName: meta.model ?? meta.deviceType,
    manufacturer: meta.manufacturer,
    model: meta.model,
  };
}

function recordId(raw: unknown): string | undefined {
  const meta = isObject(raw) && isObject(raw.metadata) ? raw.metadata : undefined;
  const id = meta?.id ?? meta?.clientRecordId;
  return typeof id === 'string' ? id : undefined;
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') reject(`${field} must be a string, got ${describe(value)}`);
  return value.trim() || undefined;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

