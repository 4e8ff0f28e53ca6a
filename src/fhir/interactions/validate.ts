/** `$validate` (type and instance level, optional `profile`). See: https://hl7.org/fhir/R4/resource-operation-validate.html */
import type { Request, Response } from 'express';
import type { Parameters, Resource } from 'fhir/r4';
import { badRequest } from '../errors.js';
import { sendJson } from '../../http/respond.js';
import { validateOperation } from '../validation/validate.js';
import { accessOf, type FhirDeps } from './context.js';

export async function validateInteraction(deps: FhirDeps, req: Request, res: Response, type: string, id?: string): Promise<void> {
  const access = accessOf(res);
  if (id) await deps.repo.read(type, id, access); // the instance must exist and be visible
  const body = req.body as Resource | Parameters | undefined;
  let resource: unknown = body;
  let profile = typeof req.query.profile === 'string' ? req.query.profile : undefined;
  if (body && body.resourceType === 'Parameters') {
    const params = (body as Parameters).parameter ?? [];
    resource = params.find((p) => p.name === 'resource')?.resource;
    profile = params.find((p) => p.name === 'profile')?.valueUri ?? params.find((p) => p.name === 'profile')?.valueCanonical ?? profile;
  }
  if (!resource || typeof resource !== 'object') throw badRequest('$validate needs a resource in the body or a Parameters "resource"', 'resource');
  if ((resource as Resource).resourceType !== type) throw badRequest(`Resource to validate is a ${(resource as Resource).resourceType}, not a ${type}`, 'resourceType');
  sendJson(req, res, 200, validateOperation(resource, profile));
}
