/** The `$export` queue for the job runner (src/jobs/runner.ts): claim, run, fail. */
import type { Queryable } from '../../../db/db.js';
import { createJobRunner, type JobRunner } from '../../../jobs/runner.js';
import type { Logger } from '../../../log.js';
import { claimJob, finishJob } from './job-store.js';
import { runExport } from './run-export.js';

export interface ExportRunnerOptions {
  db: Queryable;
  fhirBase: string;
  logger: Logger;
  /** Resources per search page and NDJSON part (bounded memory). */
  pageSize: number;
  /** A running job whose heartbeat is older than this was left by a stopped process and is resumed. */
  leaseMs?: number;
}

export function createExportRunner(o: ExportRunnerOptions): JobRunner {
  return createJobRunner('export', {
    claim: (leaseMs) => claimJob(o.db, leaseMs),
    run: (id, alive) => runExport({ db: o.db, fhirBase: o.fhirBase, pageSize: o.pageSize }, id, alive),
    fail: (id, message) => finishJob(o.db, id, 'failed', message),
  }, o.logger, o.leaseMs);
}
