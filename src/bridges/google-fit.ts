/**
 * Google Fit → FHIR Observation, pure. Payload: the Google Fit REST dataset
 * (https://developers.google.com/fit/rest/v1/reference/users/dataSources/datasets):
 *   { "dataSourceId", "point": [ { "dataTypeName", "startTimeNanos", "endTimeNanos",
 *                                   "value": [ { "fpVal" | "intVal" } ], "originDataSourceId"? } ] }
 * or a `users.dataset:aggregate` response (issue 15 §2), the way most apps read Fit data:
 *   { "bucket": [ { "startTimeMillis", "endTimeMillis", "dataset": [ { "dataSourceId", "point": [ … ] } ] } ] }
 * whose points span their bucket (a daily step total becomes one step Observation over that day).
 * A point has no id of its own; its key is dataSourceId + dataTypeName + start + end nanos.
 * Google Fit is kept for the data people already have: its APIs are being shut down, and Health
 * Connect (`health-connect.ts`) is its successor on Android.
 */
import { FhirError, badRequest } from '../fhir/errors.js';
import { NOT_MAPPED, rowForGoogleFitType, type Conversion, type Range, type Ucum } from './mapping.js';
import { SID, googleFitPointKey } from './identity.js';
import { toValidSample } from './resources.js';
import { checkPeriod, checkRange, convert, describe, parseNanos, reject, Rejection, requireString } from './rules.js';
import { markDuplicates, type BridgeContext, type ConvertedSample, type MeasuredSample, type SourceDescription } from './sample.js';
import { MAX_SAMPLES_PER_PUSH } from './healthkit.js';

export interface GoogleFitValue {
  fpVal?: number;
  intVal?: number;
  stringVal?: string;
}

export interface GoogleFitPoint {
  dataTypeName: string;
  startTimeNanos: string;
  endTimeNanos: string;
  value: GoogleFitValue[];
  originDataSourceId?: string;
  modifiedTimeMillis?: string;
}

export interface GoogleFitDataset {
  dataSourceId: string;
  point: GoogleFitPoint[];
  minStartTimeNs?: string;
  maxEndTimeNs?: string;
}

/** Every point of the push with the data stream it belongs to, in order: a dataset's, or all buckets' datasets'. */
export function googleFitPoints(body: unknown): Array<{ dataSourceId: string; point: unknown }> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('The body must be a Google Fit dataset { "dataSourceId", "point": [...] } or a dataset:aggregate response { "bucket": [...] }', 'dataSourceId');
  const b = body as { dataSourceId?: unknown; point?: unknown; bucket?: unknown };
  if (b.bucket !== undefined) return aggregatePoints(b.bucket);
  const datasetPoints = dataset(body, 'dataSourceId', 'point');
  return datasetPoints.points.map((point) => ({ dataSourceId: datasetPoints.dataSourceId, point }));
}

function dataset(body: unknown, at: string, pointAt: string): { dataSourceId: string; points: unknown[] } {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest(`${at.replace(/\.dataSourceId$/, '')} must be a dataset object`, at);
  const { dataSourceId, point } = body as { dataSourceId?: unknown; point?: unknown };
  if (typeof dataSourceId !== 'string' || dataSourceId.trim() === '') throw badRequest(`"${at}" is required (the Google Fit data stream id)`, at);
  if (!Array.isArray(point)) throw badRequest(`"${pointAt}" must be an array of Google Fit data points`, pointAt);
  if (point.length > MAX_SAMPLES_PER_PUSH) throw tooMany(point.length);
  return { dataSourceId, points: point };
}

/** `bucket[].dataset[].point[]`; empty buckets, datasets without points and an empty `bucket` are fine. */
function aggregatePoints(buckets: unknown): Array<{ dataSourceId: string; point: unknown }> {
  if (!Array.isArray(buckets)) throw badRequest('"bucket" must be an array of aggregate buckets', 'bucket');
  const out: Array<{ dataSourceId: string; point: unknown }> = [];
  buckets.forEach((bucket, i) => {
    if (!bucket || typeof bucket !== 'object' || Array.isArray(bucket)) throw badRequest(`bucket[${i}] must be an object`, `bucket[${i}]`);
    const datasets = (bucket as { dataset?: unknown }).dataset ?? [];
    if (!Array.isArray(datasets)) throw badRequest(`bucket[${i}].dataset must be an array`, `bucket[${i}].dataset`);
    datasets.forEach((d, j) => {
      const { dataSourceId, points } = dataset(d, `bucket[${i}].dataset[${j}].dataSourceId`, `bucket[${i}].dataset[${j}].point`);
      if (out.length + points.length > MAX_SAMPLES_PER_PUSH) throw tooMany(out.length + points.length);
      for (const point of points) out.push({ dataSourceId, point });
    });
  });
  return out;
}

function tooMany(n: number): FhirError {
  return new FhirError(413, { code: 'too-costly', diagnostics: `At most ${MAX_SAMPLES_PER_PUSH} points per push; got ${n}`, expression: ['point'] });
}

export function convertGoogleFit(body: unknown, ctx: BridgeContext): ConvertedSample[] {
  return markDuplicates(
    googleFitPoints(body).map(({ dataSourceId, point }, index): ConvertedSample => {
      try {
        return toValidSample(measureGoogleFitPoint(dataSourceId, point, index, ctx.now), ctx);
      } catch (err) {
        if (err instanceof Rejection) return { index, id: tryPointKey(dataSourceId, point), status: 'rejected', reason: err.message };
        throw err;
      }
    }),
  );
}

export function measureGoogleFitPoint(dataSourceId: string, raw: unknown, index: number, now: Date): MeasuredSample {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) reject(`point must be an object, got ${describe(raw)}`);
  const p = raw as Record<string, unknown>;
  const type = requireString(p.dataTypeName, 'dataTypeName');
  const start = parseNanos(p.startTimeNanos, 'startTimeNanos');
  const end = parseNanos(p.endTimeNanos, 'endTimeNanos');
  const key = googleFitPointKey(dataSourceId, type, start.nanos, end.nanos);
  const row = rowForGoogleFitType(type);
  if (!row && type.endsWith('.summary')) {
    reject(`${type} is an aggregated summary (average, maximum, minimum over the bucket); it has no documented LOINC meaning as a measurement, so it is not imported`);
  }
  if (!row) reject(NOT_MAPPED[type] ? `${type}: ${NOT_MAPPED[type]}` : `unknown Google Fit data type "${type}"`);
  checkPeriod(start.instant, end.instant, now);
  const values = Array.isArray(p.value) ? (p.value as unknown[]) : reject(`value must be an array, got ${describe(p.value)}`);
  const origin = typeof p.originDataSourceId === 'string' && p.originDataSourceId ? p.originDataSourceId : dataSourceId;
  const base = {
    index,
    id: key,
    identifiers: [{ system: SID.googleFitPoint, value: key }] as MeasuredSample['identifiers'],
    start: start.instant,
    end: end.instant,
    source: googleFitSource(origin),
  };

  if (row.kind === 'panel') {
    const components = row.components.map((c) => ({ row: c, value: measured(numberAt(values, c.googleFit.field, 'fpVal'), c.googleFit.conversion, c) }));
    const [systolic, diastolic] = components;
    if (diastolic!.value >= systolic!.value) reject(`diastolic ${diastolic!.value} mm[Hg] is not below systolic ${systolic!.value} mm[Hg]`);
    return { ...base, row, components };
  }
  if (row.kind === 'duration') {
    const stage = numberAt(values, row.googleFit.field, 'intVal');
    if (row.googleFit.notCounted[stage]) reject(`sleep stage ${stage} is not counted as sleep duration (${row.googleFit.notCounted[stage]})`);
    if (!row.googleFit.counted.includes(stage)) reject(`unknown sleep stage ${stage}`);
    const minutes = Math.round(((end.instant.ms - start.instant.ms) / 60000) * 10) / 10;
    checkRange(row.text.toLowerCase(), minutes, row.range, row.ucum);
    return { ...base, row, value: minutes };
  }
  const fit = row.googleFit!;
  return { ...base, row, value: measured(numberAt(values, fit.field, fit.value), fit.conversion, row) };
}

/** Google Fit types have one fixed unit each, so the only conversions are the documented ones. */
function measured(value: number, conversion: Conversion, row: { text: string; decimals: number; range: Range; ucum: Ucum }): number {
  const label = row.text.toLowerCase();
  if (value < 0) reject(`${label} ${value} is negative`);
  const converted = convert(value, conversion, row.decimals);
  checkRange(label, converted, row.range, row.ucum, conversion.hint);
  return converted;
}

/** The field's number; Google Fit writes floats as fpVal and integers as intVal, either is accepted. */
function numberAt(values: unknown[], field: number, expected: 'fpVal' | 'intVal'): number {
  const v = values[field] as GoogleFitValue | undefined;
  const n = v?.[expected] ?? v?.[expected === 'fpVal' ? 'intVal' : 'fpVal'];
  if (typeof n !== 'number' || !Number.isFinite(n)) reject(`value[${field}].${expected} must be a number, got ${describe(n)}`);
  return n;
}

/**
 * A data source id reads `type:dataType:app package[:manufacturer:model:uid][:stream]`. The data type
 * is dropped from the source identity so one app or device is one Device across heart rate, steps, ….
 */
function googleFitSource(dataSourceId: string): SourceDescription {
  const parts = dataSourceId.split(':');
  const dataSource = [parts[0] ?? '', ...parts.slice(2)].join(':');
  const appName = parts[2] && parts[2].trim() ? parts[2].trim() : dataSourceId;
  return { platform: 'google-fit', identity: [dataSource], appName, dataSource };
}

function tryPointKey(dataSourceId: string, raw: unknown): string | undefined {
  try {
    const p = raw as Record<string, unknown>;
    const type = requireString(p.dataTypeName, 'dataTypeName');
    return googleFitPointKey(dataSourceId, type, parseNanos(p.startTimeNanos, 's').nanos, parseNanos(p.endTimeNanos, 'e').nanos);
  } catch {
    return undefined;
  }
}
