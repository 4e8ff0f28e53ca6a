/**
 * Imports an Apple Health export through the HealthKit bridge API (issue 6 §4): reads export.xml
 * as a stream, sends batches of samples to `POST {baseUrl}/bridges/healthkit` with a bearer token,
 * and reports a summary. Memory is bounded: the reader pulls the next chunk only when fewer than
 * `concurrency` batches are in flight, so a file of gigabytes costs what one chunk and a few
 * batches cost. Safe to resume: every sample has a stable id and the server creates conditionally,
 * so re-sending is harmless; `skip` saves the time of re-sending what a previous run confirmed.
 */
import fs from 'node:fs';
import { readAppleExport } from './apple-export.js';
import type { HealthKitSample } from './healthkit.js';
import type { BridgeResponse } from './router.js';

export interface ImportOptions {
  file: string;
  baseUrl: string;
  token: string;
  batchSize?: number;
  /** Batches in flight at once. */
  concurrency?: number;
  /** Samples to pass over without sending (from `resumeWith` of an earlier run). */
  skip?: number;
  onProgress?: (p: ImportProgress) => void;
  fetch?: typeof fetch;
  /** Attempts per batch on network errors, 429 and 5xx (with backoff). */
  attempts?: number;
}

export interface ImportProgress {
  bytesRead: number;
  bytesTotal: number;
  samplesRead: number;
  sent: number;
  created: number;
  alreadyPresent: number;
  rejected: number;
  elapsedMs: number;
}

export interface ImportSummary extends ImportProgress {
  file: string;
  skippedBySkipOption: number;
  /** Elements not sent, by type and reason (unmapped types, repeated blood-pressure components, workouts…). */
  notImported: Record<string, number>;
  rejectedByType: Record<string, number>;
  rejectedExamples: Array<{ type: string; startDate: string; reason: string }>;
  /** Malformed elements in export.xml (not imported), and the first of them with line and parser error. */
  malformed: number;
  malformedExamples: Array<{ line: number; error: string; type?: string }>;
  batches: number;
  samplesPerSecond: number;
  peakRssMb: number;
  /** How to continue after a failure: pass this as `--skip`. Absent when the import completed. */
  resumeWith?: number;
  error?: string;
}

export class ImportError extends Error {
  constructor(
    message: string,
    readonly summary: ImportSummary,
  ) {
    super(message);
  }
}

const MAX_EXAMPLES = 20;

export async function importAppleHealth(opts: ImportOptions): Promise<ImportSummary> {
  const batchSize = opts.batchSize ?? 500;
  const concurrency = Math.max(1, opts.concurrency ?? 2);
  const skip = opts.skip ?? 0;
  const started = Date.now();
  const stream = fs.createReadStream(opts.file, { encoding: 'utf8', highWaterMark: 256 * 1024 });
  const s: ImportSummary = {
    file: opts.file,
    bytesRead: 0,
    bytesTotal: fs.statSync(opts.file).size,
    samplesRead: 0,
    sent: 0,
    created: 0,
    alreadyPresent: 0,
    rejected: 0,
    elapsedMs: 0,
    skippedBySkipOption: 0,
    notImported: {},
    rejectedByType: {},
    rejectedExamples: [],
    malformed: 0,
    malformedExamples: [],
    batches: 0,
    samplesPerSecond: 0,
    peakRssMb: 0,
  };
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  const progress = () => {
    s.bytesRead = stream.bytesRead;
    s.elapsedMs = Date.now() - started;
    opts.onProgress?.({ ...s });
  };
  const ticker = setInterval(progress, 1000);

  // Batches finish out of order; `resumeWith` is the end of the longest fully confirmed prefix.
  const inFlight = new Set<Promise<void>>();
  const done: Array<{ from: number; to: number }> = [];
  let confirmed = skip;
  let failure: Error | null = null;
  const send = (batch: HealthKitSample[], from: number) => {
    const p = postBatch(opts, batch)
      .then((res) => {
        record(s, batch, res);
        done.push({ from, to: from + batch.length });
        done.sort((a, b) => a.from - b.from);
        while (done[0] && done[0].from === confirmed) confirmed = done.shift()!.to;
      })
      .catch((err: unknown) => {
        failure ??= err instanceof Error ? err : new Error(String(err));
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    s.batches++;
  };

  try {
    let batch: HealthKitSample[] = [];
    let batchStart = skip;
    for await (const item of readAppleExport(stream)) {
      if (failure) break;
      if (item.kind === 'malformed') {
        s.malformed++;
        if (s.malformedExamples.length < MAX_EXAMPLES) s.malformedExamples.push({ line: item.line, error: item.error, ...(item.type ? { type: item.type } : {}) });
        continue;
      }
      if (item.kind === 'skipped') {
        const key = `${item.type}: ${item.why}`;
        s.notImported[key] = (s.notImported[key] ?? 0) + 1;
        continue;
      }
      s.samplesRead++;
      if (s.samplesRead <= skip) {
        s.skippedBySkipOption++;
        continue;
      }
      batch.push(item.sample);
      if (batch.length >= batchSize) {
        send(batch, batchStart);
        batchStart += batch.length;
        batch = [];
        // Backpressure: no further chunk is read until a slot is free.
        while (inFlight.size >= concurrency) await Promise.race(inFlight);
      }
    }
    if (batch.length > 0 && !failure) send(batch, batchStart);
    await Promise.all(inFlight);
  } catch (err) {
    failure ??= err instanceof Error ? err : new Error(String(err));
    await Promise.allSettled(inFlight);
  } finally {
    clearInterval(sampler);
    clearInterval(ticker);
    stream.destroy();
  }
  progress();
  s.samplesPerSecond = Math.round(s.sent / Math.max(s.elapsedMs / 1000, 0.001));
  s.peakRssMb = Math.round((Math.max(peakRss, process.memoryUsage().rss) / 1024 / 1024) * 10) / 10;
  if (failure) {
    s.resumeWith = confirmed;
    s.error = (failure as Error).message;
    throw new ImportError((failure as Error).message, s);
  }
  return s;
}

function record(s: ImportSummary, batch: HealthKitSample[], res: BridgeResponse): void {
  s.sent += batch.length;
  s.created += res.summary.created;
  s.alreadyPresent += res.summary.alreadyPresent;
  s.rejected += res.summary.rejected;
  for (const o of res.outcomes) {
    if (o.status !== 'rejected') continue;
    const sample = batch[o.index];
    const type = sample?.type ?? 'unknown';
    s.rejectedByType[type] = (s.rejectedByType[type] ?? 0) + 1;
    if (s.rejectedExamples.length < MAX_EXAMPLES) s.rejectedExamples.push({ type, startDate: sample?.startDate ?? '', reason: o.reason ?? '' });
  }
}

async function postBatch(opts: ImportOptions, samples: HealthKitSample[]): Promise<BridgeResponse> {
  const doFetch = opts.fetch ?? fetch;
  const url = `${opts.baseUrl.replace(/\/+$/, '')}/bridges/healthkit`;
  const attempts = opts.attempts ?? 4;
  for (let attempt = 1; ; attempt++) {
    let retryable: string;
    try {
      const res = await doFetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${opts.token}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ samples }),
      });
      if (res.ok) return (await res.json()) as BridgeResponse;
      const text = (await res.text()).slice(0, 500);
      // 4xx other than 429 will not get better by retrying: a bad token, a scope, a malformed batch.
      if (res.status !== 429 && res.status < 500) throw new FatalPushError(`${url} answered ${res.status}: ${text}`);
      retryable = `${res.status}: ${text}`;
    } catch (err) {
      if (err instanceof FatalPushError) throw err;
      retryable = (err as Error).message;
    }
    if (attempt >= attempts) throw new Error(`${url} failed after ${attempts} attempts: ${retryable}`);
    await new Promise((r) => setTimeout(r, 250 * 2 ** (attempt - 1)));
  }
}

class FatalPushError extends Error {}
