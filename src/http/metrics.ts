/**
 * Prometheus metrics at `/metrics` (issue 16 §4), with `prom-client`: requests and their latency
 * by route template and status (the template, `/fhir/:type/:id`, never the raw path, so no id or
 * fødselsnummer ends up in a label and the series stay few), the default process metrics, the
 * access log's batch sizes, and the database pool where the driver reports it.
 * Other modules report through the two hooks below instead of importing prom-client:
 * - `observeAccessLogBatch(size)`: the access log calls it once per batch it writes;
 * - `registerPoolStats(read)`: a driver with a pool hands over a function reading its counts;
 * - `registerOutboxDepth(read)`: the outbox worker hands over a function counting undelivered rows.
 * See: https://prometheus.io/docs/practices/naming/ and https://prometheus.io/docs/practices/instrumentation/#things-to-watch-out-for
 */
import type { NextFunction, Request, Response } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PoolStats } from '../db/db.js';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'helsebro_' });

const requests = new Counter({
  name: 'helsebro_http_requests_total',
  help: 'HTTP requests answered, by method, route template and status',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [registry],
});

const latency = new Histogram({
  name: 'helsebro_http_request_duration_seconds',
  help: 'Time from request to the last byte of the response, by method, route template and status',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

const accessLogBatch = new Histogram({
  name: 'helsebro_access_log_batch_size',
  help: 'Entries written per access-log batch',
  buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
  registers: [registry],
});

let readPool: (() => PoolStats) | null = null;

new Gauge({
  name: 'helsebro_db_pool_connections',
  help: 'Database pool connections by state (total, idle, waiting clients); absent with the in-process PGlite',
  labelNames: ['state'] as const,
  registers: [registry],
  collect() {
    if (!readPool) return;
    const stats = readPool();
    for (const state of ['total', 'idle', 'waiting'] as const) this.set({ state }, stats[state]);
  },
});

export interface OutboxDepth {
  kind: string;
  status: string;
  count: number;
}

let readOutbox: (() => Promise<OutboxDepth[]>) | null = null;
let lastOutbox: OutboxDepth[] = [];

new Gauge({
  name: 'helsebro_outbox_depth',
  help: 'Notification and Subscription outbox rows not yet delivered, by kind and status (pending; dead = gave up, for operators)',
  labelNames: ['kind', 'status'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    if (!readOutbox) return;
    // A scrape never queues for a connection: with every pooled connection in use it shows the last
    // depth read, so /metrics answers while the pool is exhausted — when an operator needs it most.
    const pool = readPool?.();
    if (!pool || pool.idle > 0) {
      try {
        lastOutbox = await readOutbox();
      } catch {
        // The database is away; the scrape shows the last depth read rather than failing.
      }
    }
    for (const d of lastOutbox) this.set({ kind: d.kind, status: d.status }, d.count);
  },
});

/** Hook for the outbox worker (src/notify): the gauge reads the depth at every scrape; null unregisters. */
export function registerOutboxDepth(read: (() => Promise<OutboxDepth[]>) | null): void {
  readOutbox = read;
  lastOutbox = [];
}

/** Hook for the access log: one call per batch written, with the number of entries in it. */
export function observeAccessLogBatch(size: number): void {
  accessLogBatch.observe(size);
}

/** Hook for a database driver with a pool (pg): the gauge reads it at every scrape. */
export function registerPoolStats(read: (() => PoolStats) | null): void {
  readPool = read;
}

/**
 * The route template that answered: the mount path plus the matched route (`/fhir` + `/:type/:id`).
 * A request no route matched (404s, routers that answer in middleware) is `unmatched`, one series.
 */
export function routeLabel(req: Request): string {
  const route = (req.route as { path?: unknown } | undefined)?.path;
  return typeof route === 'string' ? `${req.baseUrl}${route}` || '/' : 'unmatched';
}

/** Counts and times every request; the labels are read when the response finishes. */
export function metricsMiddleware(req: Request, res: Response, next: NextFunction): void {
  const end = latency.startTimer();
  res.on('finish', () => {
    const labels = { method: req.method, route: routeLabel(req), status: String(res.statusCode) };
    requests.inc(labels);
    end(labels);
  });
  next();
}

export async function metricsHandler(_req: Request, res: Response): Promise<void> {
  res.setHeader('Content-Type', registry.contentType);
  res.send(await registry.metrics());
}
