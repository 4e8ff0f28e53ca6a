/** Instance-level interactions: read, vread, update, patch, delete, conditional read headers. */
import type { Request, Response } from 'express';
import { isResourceType } from '../definitions/registry.js';
import { badRequest } from '../errors.js';
import { sendJson, sendStored, sendWriteResult } from '../../http/respond.js';
import { accessOf, readAccessOf, type FhirDeps } from './context.js';
import { parseIfMatch, requireResourceBody } from './request-body.js';

/**
 * `GET|HEAD /{type}/{id}` that the read handler answers (routes.ts): a resource type other than
 * AuditEvent (the access log's own routes, audit-routes.ts) and Binary (whose content route runs
 * first, binary-content.ts), and an id that can exist (not `_history`, not an operation). The
 * resource server checks the grant in this read's own statement (auth/resource-server.ts); the router
 * sends it to the handler before walking its other routes. Returns the type, or null.
 */
const PLAIN_READ = /^\/([A-Z][A-Za-z]*)\/[A-Za-z0-9\-.]{1,64}$/;
export function plainReadType(req: { method: string; path: string }): string | null {
  if (req.method !== 'GET' && req.method !== 'HEAD') return null;
  const type = PLAIN_READ.exec(req.path)?.[1];
  return type !== undefined && type !== 'AuditEvent' && type !== 'Binary' && isResourceType(type) ? type : null;
}

/** Read and vread answer with the stored text (repository/stored.ts): the response does not change it. */
export async function read(deps: FhirDeps, req: Request, res: Response, type: string, id: string): Promise<void> {
  const stored = await deps.repo.readStored(type, id, readAccessOf(res));
  if (notModified(req, stored)) {
    res.setHeader('ETag', `W/"${stored.versionId}"`);
    res.status(304).end();
    return;
  }
  sendStored(req, res, 200, stored);
}

export async function vread(deps: FhirDeps, req: Request, res: Response, type: string, id: string, vid: string): Promise<void> {
  sendStored(req, res, 200, await deps.repo.vreadStored(type, id, vid, accessOf(res)));
}

export async function update(deps: FhirDeps, req: Request, res: Response, type: string, id: string): Promise<void> {
  const body = requireResourceBody(req, type);
  if (body.id !== undefined && body.id !== id) throw badRequest(`Resource id "${body.id}" does not match the URL id "${id}"`, `${type}.id`);
  const result = await deps.repo.update({ ...body, id }, accessOf(res), { ifMatch: parseIfMatch(req) });
  sendWriteResult(req, res, result.created ? 201 : 200, result.resource, deps.config.fhirBase, result.created ? `Created ${type}/${id}` : `Updated ${type}/${id}`);
}

export async function patch(deps: FhirDeps, req: Request, res: Response, type: string, id: string): Promise<void> {
  const contentType = (req.get('content-type') ?? '').split(';')[0]!.trim();
  if (contentType !== 'application/json-patch+json') {
    throw badRequest('PATCH supports JSON Patch only: send Content-Type application/json-patch+json', 'Content-Type', 'not-supported');
  }
  const resource = await deps.repo.patch(type, id, req.body, accessOf(res), { ifMatch: parseIfMatch(req) });
  sendWriteResult(req, res, 200, resource, deps.config.fhirBase, `Patched ${type}/${id}`);
}

export async function remove(deps: FhirDeps, req: Request, res: Response, type: string, id: string): Promise<void> {
  const result = await deps.repo.delete(type, id, accessOf(res), { ifMatch: parseIfMatch(req) });
  if (result.versionId !== undefined) res.setHeader('ETag', `W/"${result.versionId}"`);
  sendJson(req, res, 200, {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'information', code: 'informational', diagnostics: result.deleted ? `Deleted ${type}/${id}` : `${type}/${id} was already deleted` }],
  });
}

/** `If-None-Match: W/"n"` or `If-Modified-Since` → 304. See: https://hl7.org/fhir/R4/http.html#cread */
function notModified(req: Request, version: { versionId: string; lastUpdated: string }): boolean {
  const inm = req.get('if-none-match');
  if (inm) return inm.split(',').some((tag) => tag.trim().replace(/^W\//, '') === `"${version.versionId}"` || tag.trim() === '*');
  const ims = req.get('if-modified-since');
  if (ims) {
    const since = Date.parse(ims);
    // HTTP dates have whole seconds: compare at that precision.
    return !Number.isNaN(since) && Math.floor(Date.parse(version.lastUpdated) / 1000) * 1000 <= since;
  }
  return false;
}
