/** Type-level interactions: create (plain and conditional), conditional update and delete. */
import type { Request, Response } from 'express';
import { badRequest, notFound, preconditionFailed } from '../errors.js';
import { sendJson, sendWriteResult } from '../../http/respond.js';
import { findMatchingIds } from '../search/find-ids.js';
import { accessOf, type FhirDeps } from './context.js';
import { parseIfMatch, requireResourceBody } from './request-body.js';
import * as instance from './instance.js';

export async function create(deps: FhirDeps, req: Request, res: Response, type: string): Promise<void> {
  const body = requireResourceBody(req, type);
  const ifNoneExist = req.get('if-none-exist');
  // The server assigns ids on create; a client id in the body is ignored (http.html#create).
  const result = await deps.repo.create({ ...body, id: undefined }, accessOf(res), { ifNoneExist: ifNoneExist ? stripQuery(ifNoneExist, type) : undefined });
  sendWriteResult(req, res, result.created ? 201 : 200, result.resource, deps.config.fhirBase, result.created ? `Created ${type}/${result.resource.id}` : `${type}/${result.resource.id} already exists (If-None-Exist)`);
}

/** PUT [type]?criteria. See: https://hl7.org/fhir/R4/http.html#cond-update */
export async function conditionalUpdate(deps: FhirDeps, req: Request, res: Response, type: string): Promise<void> {
  const criteria = queryString(req);
  if (!criteria) throw badRequest('A conditional update needs search criteria in the URL', 'url');
  const access = accessOf(res);
  const body = requireResourceBody(req, type);
  const ids = await findMatchingIds(deps.repo.queryable, type, criteria, access, 2);
  if (ids.length > 1) throw preconditionFailed(`Conditional update criteria matched ${ids.length} ${type} resources`);
  if (ids.length === 1) {
    if (body.id !== undefined && body.id !== ids[0]) throw badRequest(`Body id "${body.id}" differs from the matched ${type}/${ids[0]}`, `${type}.id`);
    return instance.update(deps, Object.assign(req, { body: { ...body, id: ids[0] } }), res, type, ids[0]!);
  }
  if (body.id) return instance.update(deps, req, res, type, body.id);
  const result = await deps.repo.create({ ...body, id: undefined }, access);
  sendWriteResult(req, res, 201, result.resource, deps.config.fhirBase, `Created ${type}/${result.resource.id}`);
}

/** DELETE [type]?criteria; several matches → 412 (single-delete server). */
export async function conditionalDelete(deps: FhirDeps, req: Request, res: Response, type: string): Promise<void> {
  const criteria = queryString(req);
  if (!criteria) throw badRequest('A conditional delete needs search criteria in the URL', 'url');
  const ids = await findMatchingIds(deps.repo.queryable, type, criteria, accessOf(res), 2);
  if (ids.length > 1) throw preconditionFailed(`Conditional delete criteria matched ${ids.length} ${type} resources`);
  if (ids.length === 0) {
    sendJson(req, res, 200, { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: `No ${type} matched; nothing deleted` }] });
    return;
  }
  await deps.repo.delete(type, ids[0]!, accessOf(res), { ifMatch: parseIfMatch(req) });
  sendJson(req, res, 200, { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: `Deleted ${type}/${ids[0]}` }] });
}

export function queryString(req: Request): string {
  const i = req.originalUrl.indexOf('?');
  if (i < 0) return '';
  return req.originalUrl
    .slice(i + 1)
    .split('&')
    .filter((p) => p && !p.startsWith('_format=') && !p.startsWith('_pretty='))
    .join('&');
}

/** If-None-Exist may carry a full query (`Patient?identifier=…`) or just the parameters. */
function stripQuery(value: string, type: string): string {
  const v = value.trim();
  if (v.startsWith(`${type}?`)) return v.slice(type.length + 1);
  if (v.startsWith('?')) return v.slice(1);
  if (v.includes('?')) throw notFound(`If-None-Exist "${v}" names another resource type`);
  return v;
}
