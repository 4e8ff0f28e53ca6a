/** The `$export` job rows and their NDJSON parts (migration 008). Plain SQL, same on PGlite and PostgreSQL. */
import type { AccessFilter } from '../../../access/access-context.js';
import type { Queryable } from '../../../db/db.js';

export type ExportStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';

export interface ExportJob {
  id: string;
  status: ExportStatus;
  owner: string;
  request: string;
  patientId: string | null;
  types: string[];
  doneTypes: string[];
  since: string | null;
  filters: AccessFilter[];
  snapshot: number;
  transactionTime: string;
  error: string | null;
}

interface JobRow extends Record<string, unknown> {
  id: string; status: ExportStatus; owner: string; request: string; patient_id: string | null; types: string[]; done_types: string[];
  since: Date | string | null; filters: AccessFilter[] | string; snapshot: number | string; transaction_time: Date | string; error: string | null;
}

const iso = (v: Date | string) => (v instanceof Date ? v : new Date(v)).toISOString();

function fromRow(r: JobRow): ExportJob {
  return {
    id: r.id, status: r.status, owner: r.owner, request: r.request, patientId: r.patient_id, types: r.types, doneTypes: r.done_types,
    since: r.since ? iso(r.since) : null, filters: typeof r.filters === 'string' ? (JSON.parse(r.filters) as AccessFilter[]) : r.filters,
    snapshot: Number(r.snapshot), transactionTime: iso(r.transaction_time), error: r.error,
  };
}

export async function insertJob(q: Queryable, job: Omit<ExportJob, 'status' | 'doneTypes' | 'error'>): Promise<void> {
  await q.query(
    `INSERT INTO export_jobs (id, status, owner, request, patient_id, types, since, filters, snapshot, transaction_time)
     VALUES ($1, 'pending', $2, $3, $4, $5::text[], $6, $7::jsonb, $8, $9)`,
    [job.id, job.owner, job.request, job.patientId, job.types, job.since, JSON.stringify(job.filters), job.snapshot, job.transactionTime],
  );
}

export async function getJob(q: Queryable, id: string): Promise<ExportJob | null> {
  const rows = await q.query<JobRow>('SELECT * FROM export_jobs WHERE id = $1', [id]);
  return rows[0] ? fromRow(rows[0]) : null;
}

/** Claims the oldest pending job, or a running one whose runner stopped beating (a restart). */
export async function claimJob(q: Queryable, leaseMs: number): Promise<string | null> {
  const rows = await q.query<{ id: string }>(
    `UPDATE export_jobs SET status = 'running', heartbeat = now() WHERE id = (
       SELECT id FROM export_jobs
       WHERE status = 'pending' OR (status = 'running' AND heartbeat < now() - ($1::int * interval '1 millisecond'))
       ORDER BY created LIMIT 1 FOR UPDATE SKIP LOCKED)
     RETURNING id`,
    [leaseMs],
  );
  return rows[0]?.id ?? null;
}

/** Keeps the claim alive; false when the job was cancelled (or is no longer running). */
export async function beat(q: Queryable, id: string): Promise<boolean> {
  const rows = await q.query<{ id: string }>("UPDATE export_jobs SET heartbeat = now() WHERE id = $1 AND status = 'running' RETURNING id", [id]);
  return rows.length > 0;
}

/** Drops the parts of types not finished (a resumed job starts each unfinished type again). */
export async function dropUnfinishedParts(q: Queryable, job: ExportJob): Promise<void> {
  await q.query('DELETE FROM export_parts WHERE job_id = $1 AND NOT (resource_type = ANY($2::text[]))', [job.id, job.doneTypes]);
}

/**
 * Stores a part only while the job runs. The share lock on the job row orders it against a cancel
 * (whose UPDATE waits for it, and whose DELETE, a later statement, then sees the part), so a part
 * written during a cancel is never left behind.
 */
export async function writePart(q: Queryable, jobId: string, type: string, part: number, count: number, ndjson: string): Promise<void> {
  await q.query(
    `WITH j AS (SELECT id FROM export_jobs WHERE id = $1 AND status = 'running' FOR SHARE)
     INSERT INTO export_parts (job_id, resource_type, part, count, ndjson) SELECT j.id, $2, $3, $4, $5 FROM j`,
    [jobId, type, part, count, ndjson],
  );
}

export async function markTypeDone(q: Queryable, jobId: string, type: string): Promise<void> {
  await q.query("UPDATE export_jobs SET done_types = array_append(done_types, $2), heartbeat = now() WHERE id = $1 AND status = 'running'", [jobId, type]);
}

export async function finishJob(q: Queryable, id: string, status: 'completed' | 'failed', error: string | null = null): Promise<void> {
  await q.query("UPDATE export_jobs SET status = $2, error = $3, finished = now() WHERE id = $1 AND status IN ('pending', 'running')", [id, status, error]);
}

/**
 * Cancels a job and deletes its output (Bulk Data "Delete a Bulk Data Request"); false when it was
 * already gone. Two statements on purpose: the DELETE's snapshot is taken after the UPDATE got the
 * row, so it sees a part a runner committed meanwhile (writePart).
 */
export async function cancelJob(q: Queryable, id: string): Promise<boolean> {
  const rows = await q.query<{ id: string }>("UPDATE export_jobs SET status = 'cancelled', finished = now() WHERE id = $1 AND status <> 'cancelled' RETURNING id", [id]);
  await q.query('DELETE FROM export_parts WHERE job_id = $1', [id]);
  return rows.length > 0;
}

export interface PartInfo { type: string; part: number; count: number }

export async function listParts(q: Queryable, jobId: string): Promise<PartInfo[]> {
  const rows = await q.query<{ resource_type: string; part: number; count: number }>(
    'SELECT resource_type, part, count FROM export_parts WHERE job_id = $1 ORDER BY resource_type, part', [jobId]);
  return rows.map((r) => ({ type: r.resource_type, part: Number(r.part), count: Number(r.count) }));
}

export async function readPart(q: Queryable, jobId: string, type: string, part: number): Promise<string | null> {
  const rows = await q.query<{ ndjson: string }>('SELECT ndjson FROM export_parts WHERE job_id = $1 AND resource_type = $2 AND part = $3', [jobId, type, part]);
  return rows[0]?.ndjson ?? null;
}

export async function partsWritten(q: Queryable, jobId: string): Promise<number> {
  const rows = await q.query<{ n: number | string }>('SELECT count(*) AS n FROM export_parts WHERE job_id = $1', [jobId]);
  return Number(rows[0]!.n);
}
