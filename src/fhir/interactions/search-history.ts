/** Search (GET and POST _search, type, system, compartment) and history handlers. */
import type { Request, Response } from 'express';
import { isResourceType } from '../definitions/registry.js';
import { sendJson, preferStrictHandling } from '../../http/respond.js';
import { parseHistoryPaging, readHistory } from '../repository/history.js';
import { executeSearch } from '../search/execute.js';
import { accessOf, readAccessOf, type FhirDeps } from './context.js';
import { assertOwnPatient } from '../../access/search-guard.js';

/**
 * `GET|HEAD /{type}?…` and `GET|HEAD /Patient/{id}/{type}?…`: a search of one resource type that the
 * search handler answers (routes.ts sends it there first, issue 11). Not AuditEvent: the access log
 * has its own routes (audit-routes.ts). The resource server lets its statement carry the grant check
 * (auth/resource-server.ts). Returns the type, or null.
 */
const PLAIN_SEARCH = /^\/(?:Patient\/[A-Za-z0-9\-.]{1,64}\/)?([A-Z][A-Za-z]*)$/;
export function plainSearchType(req: { method: string; path: string }): string | null {
  if (req.method !== 'GET' && req.method !== 'HEAD') return null;
  const type = PLAIN_SEARCH.exec(req.path)?.[1];
  return type !== undefined && type !== 'AuditEvent' && isResourceType(type) ? type : null;
}

/** Query pairs in order; a POST _search form body is appended to the URL's parameters. */
export function searchParams(req: Request): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  const i = req.originalUrl.indexOf('?');
  if (i >= 0) for (const [k, v] of new URLSearchParams(req.originalUrl.slice(i + 1))) pairs.push([k, v]);
  if (req.method === 'POST' && req.body && typeof req.body === 'object' && !Array.isArray(req.body)) {
    for (const [k, v] of Object.entries(req.body as Record<string, unknown>)) {
      for (const value of Array.isArray(v) ? v : [v]) if (typeof value === 'string') pairs.push([k, value]);
    }
  }
  return pairs.filter(([k]) => k !== '_format' && k !== '_pretty');
}

export async function search(deps: FhirDeps, req: Request, res: Response, type: string | null, compartment?: { resourceType: 'Patient'; id: string }): Promise<void> {
  // The context whose grant check the search's own statement carries, if authentication left one (context.ts).
  const access = readAccessOf(res);
  const params = searchParams(req);
  const bundle = await executeSearch(deps.repo.queryable, {
    resourceType: type,
    params,
    access,
    before: (decided) => assertOwnPatient(decided, params, compartment?.id),
    fhirBase: deps.config.fhirBase,
    strict: preferStrictHandling(req),
    compartment,
    defaultCount: deps.config.searchDefaultCount,
    maxCount: deps.config.searchMaxCount,
    storedText: true,
  });
  sendJson(req, res, 200, bundle);
}

export async function history(deps: FhirDeps, req: Request, res: Response, type?: string, id?: string): Promise<void> {
  const q = req.query;
  const { count, before } = parseHistoryPaging(q._count, q._before, deps.config.searchDefaultCount, deps.config.searchMaxCount);
  const bundle = await readHistory(deps.repo.queryable, accessOf(res), {
    resourceType: type,
    id,
    since: typeof q._since === 'string' ? q._since : undefined,
    count,
    before,
    fhirBase: deps.config.fhirBase,
    path: [type, id, '_history'].filter(Boolean).join('/'),
  });
  sendJson(req, res, 200, bundle);
}
