/**
 * `$validate` (type and instance level, optional `profile`).
 * See: https://hl7.org/fhir/R4/resource-operation-validate.html — the `resource` parameter "must be
 * present unless the mode is 'delete'"; the outcome is an OperationOutcome with 200 whether or not
 * the resource is valid (errors in the content are the answer, not a failure of the operation).
 * A Parameters body is the operation's parameters, except when the type validated is Parameters
 * itself and the body carries no `resource` parameter: then the body is the resource (an empty
 * Parameters is a valid resource). A Parameters body with nothing to validate for another type
 * is a 400 that says so.
 */
import type { Request, Response } from 'express';
import type { Parameters, Resource } from 'fhir/r4';
import { badRequest } from '../errors.js';
import { sendJson } from '../../http/respond.js';
import { validateOperation } from '../validation/validate.js';
import { accessOf, type FhirDeps } from './context.js';

interface ValidateRequest {
  resource: unknown;
  profile?: string;
}

/** What to validate, read from the body (a resource or the operation's Parameters) and the query. */
export function readValidateRequest(body: unknown, type: string, queryProfile?: string): ValidateRequest {
  if (!body || typeof body !== 'object' || (body as Resource).resourceType !== 'Parameters') return { resource: body, profile: queryProfile };
  const params = (body as Parameters).parameter;
  const list = Array.isArray(params) ? params : [];
  const resourceParam = list.find((p) => p?.name === 'resource');
  const profileParam = list.find((p) => p?.name === 'profile');
  const profile = profileParam?.valueUri ?? profileParam?.valueCanonical ?? queryProfile;
  if (resourceParam) return { resource: resourceParam.resource, profile };
  if (type === 'Parameters') return { resource: body, profile: queryProfile };
  throw badRequest(
    `Nothing to validate: the Parameters has no "resource" parameter (it must be present unless mode is delete); send the ${type} itself or a Parameters with a "resource"`,
    'Parameters.parameter',
    'required',
  );
}

export async function validateInteraction(deps: FhirDeps, req: Request, res: Response, type: string, id?: string): Promise<void> {
  const access = accessOf(res);
  if (id) await deps.repo.read(type, id, access); // the instance must exist and be visible
  const { resource, profile } = readValidateRequest(req.body, type, typeof req.query.profile === 'string' ? req.query.profile : undefined);
  if (!resource || typeof resource !== 'object') throw badRequest('$validate needs a resource in the body or a Parameters "resource"', 'resource', 'required');
  if ((resource as Resource).resourceType !== type) throw badRequest(`Resource to validate is a ${String((resource as Resource).resourceType)}, not a ${type}`, 'resourceType');
  sendJson(req, res, 200, validateOperation(resource, profile));
}
