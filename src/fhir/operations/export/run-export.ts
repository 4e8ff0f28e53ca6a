/**
 * Runs one `$export` job: for each type, pages through the search the requester could have run
 * (the access filters captured at kick-off, the patient compartment for a patient-level export,
 * `_lastUpdated` after `_since`, each type pinned to the snapshot of its first page) and writes each page as one NDJSON
 * part. Memory stays bounded by the page size; the access filters are compiled into the SQL of every
 * page exactly as for a search (access-spec §0.2; "no post-filtering").
 */
import type { AccessContext } from '../../../access/access-context.js';
import { buildAccessContext } from '../../../access/context-builder.js';
import type { Queryable } from '../../../db/db.js';
import { forbidden } from '../../errors.js';
import { executeSearch } from '../../search/execute.js';
import { beat, dropUnfinishedParts, finishJob, getJob, markTypeDone, writePart, type ExportJob } from './job-store.js';

export interface ExportRunDeps {
  db: Queryable;
  fhirBase: string;
  pageSize: number;
}

/** The requester's read access, rebuilt from the stored filters; an export never writes. */
export function exportAccess(job: Pick<ExportJob, 'filters' | 'patientId'>): AccessContext {
  return buildAccessContext({
    relation: { actor: 'system', patientId: job.patientId, actorRef: null, grantRef: null },
    clientId: 'export',
    filters: job.filters,
    checkWrite: () => {
      throw forbidden('An export does not write');
    },
  });
}

export async function runExport(deps: ExportRunDeps, id: string, alive: () => boolean): Promise<void> {
  const job = await getJob(deps.db, id);
  if (!job || job.status !== 'running') return;
  await dropUnfinishedParts(deps.db, job);
  const access = exportAccess(job);
  for (const type of job.types) {
    if (job.doneTypes.includes(type)) continue;
    let offset = 0;
    // Later pages are pinned to the snapshot the search engine took for the first (its next link),
    // so writes during the export neither shift nor repeat resources within a type.
    let snapshot: string | null = null;
    for (let part = 1; ; part++) {
      if (!alive()) return; // stopping: the job stays running and is resumed from this type's start
      if (!(await beat(deps.db, id))) return; // cancelled meanwhile
      const params: Array<[string, string]> = [['_count', String(deps.pageSize)], ['_offset', String(offset)], ['_total', 'none'], ['_sort', '_id']];
      if (snapshot) params.push(['_snapshot', snapshot]);
      if (job.since) params.push(['_lastUpdated', `gt${job.since}`]);
      const bundle = await executeSearch(deps.db, {
        resourceType: type, params, access, fhirBase: deps.fhirBase, strict: true, defaultCount: deps.pageSize, maxCount: deps.pageSize,
        ...(job.patientId ? { compartment: { resourceType: 'Patient' as const, id: job.patientId } } : {}),
      });
      const resources = (bundle.entry ?? []).map((e) => e.resource!).filter(Boolean);
      if (resources.length > 0) await writePart(deps.db, id, type, part, resources.length, resources.map((r) => JSON.stringify(r)).join('\n') + '\n');
      offset += resources.length;
      const next = bundle.link?.find((l) => l.relation === 'next')?.url;
      snapshot ??= next ? new URL(next).searchParams.get('_snapshot') : null;
      if (resources.length < deps.pageSize || !bundle.link?.some((l) => l.relation === 'next')) break;
    }
    await markTypeDone(deps.db, id, type);
  }
  await finishJob(deps.db, id, 'completed');
}
