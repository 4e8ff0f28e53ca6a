/**
 * All cores (issue 11 item 5): with PostgreSQL, `npm start` runs WORKERS processes (default: the
 * number of CPUs) that share the listening port through node:cluster and one database. The
 * processes hold no state of their own that another needs: tokens, grants, keys and the access log
 * live in PostgreSQL; the login session cookie is sealed with one SESSION_SECRET the primary hands to
 * every worker; the development login stand-ins run once, in the primary. PGlite is one process (it
 * is an in-process database), so it always runs a single worker-less server.
 *
 * The primary migrates and seeds before forking (migrations are also serialised by an advisory lock,
 * so separately started servers on one database are safe too), restarts a worker that dies, and on
 * SIGTERM forwards the signal and waits for every worker's graceful exit.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from './log.js';

export interface SupervisorOptions {
  count: number;
  /** Environment every worker gets on top of the primary's (shared secrets, stand-in issuers). */
  env: Record<string, string>;
  logger: Logger;
  /** Run after the last worker has exited on shutdown (close the stand-ins). */
  onStopped: () => Promise<void>;
  /** How long workers get to finish before they are killed (their own shutdown is bounded below it). */
  shutdownTimeoutMs?: number;
}

/** True in a process forked by the supervisor. */
export const isClusterWorker = (): boolean => cluster.isWorker;

export function superviseWorkers(opts: SupervisorOptions): void {
  const { logger } = opts;
  let stopping = false;
  const restarts: number[] = [];
  const fork = (): Worker => cluster.fork(opts.env);

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    // A crashed worker is replaced; a crash loop (5 in a minute) backs off instead of spinning.
    const now = Date.now();
    restarts.push(now);
    while (restarts.length > 0 && restarts[0]! < now - 60_000) restarts.shift();
    const delay = restarts.length > 5 ? 5_000 : 0;
    logger.warn('worker exited; starting a new one', { pid: worker.process.pid, code, signal, delayMs: delay });
    setTimeout(fork, delay).unref();
  });
  for (let i = 0; i < opts.count; i++) fork();
  logger.info('workers started', { workers: opts.count });

  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down workers', { signal });
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
    const exits = workers.map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))));
    for (const w of workers) w.process.kill('SIGTERM');
    const force = setTimeout(() => workers.forEach((w) => w.isDead() || w.process.kill('SIGKILL')), opts.shutdownTimeoutMs ?? 12_000);
    force.unref();
    void Promise.all(exits)
      .then(() => opts.onStopped())
      .finally(() => {
        logger.info('stopped');
        process.exit(0);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
