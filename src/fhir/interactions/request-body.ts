/** Checks a request body is a resource of the expected type before anything else looks at it. */
import type { Request } from 'express';
import type { Resource } from 'fhir/r4';
import { badRequest, preconditionFailed } from '../errors.js';

export function requireResourceBody(req: Request, expectedType?: string): Resource {
  const body: unknown = req.body;
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('Request body must be a FHIR resource (a JSON object)', 'body', 'structure');
  }
  const resourceType = (body as { resourceType?: unknown }).resourceType;
  if (typeof resourceType !== 'string') throw badRequest('Request body has no resourceType', 'resourceType', 'required');
  if (expectedType && resourceType !== expectedType) throw badRequest(`Body resourceType "${resourceType}" does not match the URL type "${expectedType}"`, 'resourceType');
  return body as Resource;
}

/** `If-Match: W/"3"` → "3". */
export function parseIfMatch(req: Request): string | undefined {
  const value = req.get('if-match');
  if (value === undefined) return undefined;
  const m = /^(?:W\/)?"?([^"]*)"?$/.exec(value.trim());
  if (!m || !m[1]) throw preconditionFailed(`If-Match "${value}" is not an ETag like W/"1"`);
  return m[1];
}
