/**
 * Bulk Data `$export` (HL7 Bulk Data Access IG v2, export.html; issue 14 "A copy of one's data",
 * seed terms §5 "copy or transfer your health information"): kick-off at `Patient/{id}/$export`
 * (the patient side of that patient, and system clients) and `$export` (system clients), the status
 * URL (poll, DELETE cancels) and the NDJSON output files. The job captures the requester's access
 * filters at kick-off, so the export holds what a search by the same token would show.
 */
import { randomUUID } from 'node:crypto';
import type { Request, Response, Router } from 'express';
import type { Bundle, Resource } from 'fhir/r4';
import type { AccessContext } from '../../../access/access-context.js';
import type { Principal } from '../../../identity/principal.js';
import type { JobRunner } from '../../../jobs/runner.js';
import { sendJson, type Auditor } from '../../../http/respond.js';
import { RESOURCE_TYPES, isResourceType } from '../../definitions/registry.js';
import { FhirError, badRequest, forbidden, informationOutcome, notFound } from '../../errors.js';
import { PATIENT_SCOPED_TYPES } from '../../search/compartments.js';
import { accessOf, type FhirDeps } from '../../interactions/context.js';
import { cancelJob, getJob, insertJob, listParts, partsWritten, readPart, type ExportJob } from './job-store.js';

export const OUTPUT_FORMATS = ['application/fhir+ndjson', 'application/ndjson', 'ndjson'];
const KICKOFF_PARAMS = new Set(['_type', '_since', '_outputFormat', '_pretty']);
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

type Handler = (req: Request, res: Response) => Promise<void>;

/** Who may poll and download: the same client, acting user and patient context as the kick-off. */
export function ownerOf(principal: Principal): string {
  return [principal.clientId, principal.fhirUser ?? principal.sub ?? '', principal.patientId ?? ''].join('|');
}

export interface ExportParams { types: string[] | null; since: string | null }

/** The kick-off parameters (export.html#query-parameters); anything unsupported is a 400. */
export function parseKickoff(query: Array<[string, string]>, prefer: string | undefined): ExportParams {
  if (!prefer || !prefer.split(',').some((p) => p.trim().toLowerCase() === 'respond-async')) {
    throw badRequest('$export runs asynchronously: send the header "Prefer: respond-async"', 'Prefer');
  }
  let types: string[] | null = null;
  let since: string | null = null;
  for (const [k, v] of query) {
    if (!KICKOFF_PARAMS.has(k)) throw badRequest(`$export parameter "${k}" is not supported; use _type, _since and _outputFormat`, k);
    if (k === '_outputFormat' && !OUTPUT_FORMATS.includes(v)) throw badRequest(`_outputFormat "${v}" is not supported; use application/fhir+ndjson`, '_outputFormat');
    if (k === '_type') {
      types = [...new Set([...(types ?? []), ...v.split(',').map((t) => t.trim())])];
      for (const t of types) if (!isResourceType(t)) throw badRequest(`_type names an unknown resource type "${t}"`, '_type');
    }
    if (k === '_since') {
      if (!INSTANT.test(v) || Number.isNaN(Date.parse(v))) throw badRequest(`_since must be a FHIR instant such as 2024-01-01T00:00:00Z; got "${v}"`, '_since');
      since = new Date(v).toISOString();
    }
  }
  return { types, since };
}

/** Types the access filters let through at all (a `types` filter); the rest would be empty files. */
function visibleTypes(access: AccessContext, candidates: readonly string[]): string[] {
  let out = [...candidates];
  for (const f of access.filters) {
    if (f.kind === 'types') out = out.filter((t) => f.allowed.includes(t));
    if (f.kind === 'hide-type') out = out.filter((t) => t !== f.resourceType);
  }
  return out;
}

function queryPairs(req: Request): Array<[string, string]> {
  const i = req.originalUrl.indexOf('?');
  return i < 0 ? [] : [...new URLSearchParams(req.originalUrl.slice(i + 1))].filter(([k]) => k !== '_format');
}

export function mountExportRoutes(router: Router, deps: FhirDeps, runner: JobRunner): void {
  const route = (fn: Handler) => (req: Request, res: Response, next: (err?: unknown) => void) => fn(req, res).catch(next);
  const base = deps.config.fhirBase;

  async function kickoff(req: Request, res: Response, patientId: string | null): Promise<void> {
    const access = accessOf(res);
    const principal = res.locals.principal as Principal | undefined;
    if (!principal) throw forbidden('$export needs a token');
    if (patientId === null && access.side !== 'system') throw forbidden('A system-level $export is for backend (system) clients; a patient exports at Patient/{id}/$export');
    if (patientId !== null) {
      if (access.side === 'clinician') throw forbidden('Patient/$export is for the patient side and backend clients; clinicians use search');
      // Hidden or unknown patients are 404 like any hidden instance (access-spec §0.4).
      await deps.repo.read('Patient', patientId, access);
    }
    const { types, since } = parseKickoff(queryPairs(req), req.get('prefer'));
    // Types the request names, else the patient compartment (patient level) or every type (system
    // level), less those the token may not read at all; an empty type simply yields no file.
    const candidates = types ?? (patientId ? PATIENT_SCOPED_TYPES : [...RESOURCE_TYPES]);
    const id = randomUUID();
    const job: Omit<ExportJob, 'status' | 'doneTypes' | 'error'> = {
      id, owner: ownerOf(principal), request: `${base}${req.path}${req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?')) : ''}`,
      patientId, types: visibleTypes(access, candidates), since, filters: [...access.filters], snapshot: 0, transactionTime: new Date().toISOString(),
    };
    await insertJob(deps.repo.queryable, job);
    runner.wake();
    deps.logger.info('export started', { job: id, level: patientId ? 'patient' : 'system', types: job.types.length });
    res.setHeader('Content-Location', `${base}/$export-status/${id}`);
    sendJson(req, res, 202, informationOutcome(`Export started; poll ${base}/$export-status/${id}`));
  }

  /** The caller's job, or 404: a job is visible only to the token owner that started it. */
  async function ownJob(req: Request, res: Response): Promise<ExportJob> {
    accessOf(res);
    const principal = res.locals.principal as Principal;
    const job = await getJob(deps.repo.queryable, String(req.params.job));
    if (!job || job.status === 'cancelled' || job.owner !== ownerOf(principal)) throw notFound(`No export ${String(req.params.job)} for this requester`);
    return job;
  }

  router.get('/Patient/:id/\\$export', route((req, res) => kickoff(req, res, String(req.params.id))));
  router.get('/\\$export', route((req, res) => kickoff(req, res, null)));

  router.get('/\\$export-status/:job', route(async (req, res) => {
    const job = await ownJob(req, res);
    if (job.status === 'failed') throw new FhirError(500, { code: 'exception', diagnostics: job.error ?? 'The export failed' });
    if (job.status !== 'completed') {
      const parts = await partsWritten(deps.repo.queryable, job.id);
      res.setHeader('X-Progress', `${job.doneTypes.length} of ${job.types.length} types done, ${parts} files written`);
      res.setHeader('Retry-After', '1');
      res.status(202).end();
      return;
    }
    const parts = await listParts(deps.repo.queryable, job.id);
    res.setHeader('Expires', new Date(Date.now() + 3_600_000).toUTCString());
    res.status(200).type('application/json').send(JSON.stringify({
      transactionTime: job.transactionTime,
      request: job.request,
      requiresAccessToken: true,
      output: parts.map((p) => ({ type: p.type, url: `${base}/$export-output/${job.id}/${p.type}/${p.part}`, count: p.count })),
      error: [],
    }));
  }));

  router.delete('/\\$export-status/:job', route(async (req, res) => {
    const job = await ownJob(req, res);
    await cancelJob(deps.repo.queryable, job.id);
    deps.logger.info('export cancelled', { job: job.id });
    sendJson(req, res, 202, informationOutcome(`Export ${job.id} cancelled and its files deleted`));
  }));

  router.get('/\\$export-output/:job/:type/:part', route(async (req, res) => {
    const job = await ownJob(req, res);
    const part = Number(req.params.part);
    const ndjson = job.status === 'completed' && Number.isInteger(part) ? await readPart(deps.repo.queryable, job.id, String(req.params.type), part) : null;
    if (ndjson === null) throw notFound(`No file ${String(req.params.type)}/${String(req.params.part)} in export ${job.id}`);
    // Logged before shown, like every response with patient data (S23; src/audit/access-log.ts).
    const shown: Bundle = { resourceType: 'Bundle', type: 'collection', entry: ndjson.split('\n').filter(Boolean).map((l) => ({ resource: JSON.parse(l) as Resource })) };
    const auditor = res.locals.auditor as Auditor | undefined;
    if (auditor) await auditor(req, shown, 200);
    res.status(200).type('application/fhir+ndjson').send(ndjson);
  }));
}
