/**
 * Content negotiation for the FHIR API: JSON only. XML and other formats are refused with the
 * status the spec names (415 for a body we cannot read, 406 for a response we cannot produce).
 * See: https://hl7.org/fhir/R4/http.html#mime-type
 */
import type { NextFunction, Request, Response } from 'express';
import { FhirError } from '../fhir/errors.js';
import { namesParam } from './respond.js';

const JSON_TYPES = ['application/fhir+json', 'application/json', 'application/json-patch+json', 'application/x-www-form-urlencoded'];
const FORMAT_ALIASES: Record<string, string> = {
  json: 'application/fhir+json',
  'application/json': 'application/fhir+json',
  'application/fhir+json': 'application/fhir+json',
  'application/json+fhir': 'application/fhir+json',
};

export function negotiate(req: Request, res: Response, next: NextFunction): void {
  const format = namesParam(req, '_format') && typeof req.query._format === 'string' ? req.query._format : undefined;
  if (format !== undefined && !FORMAT_ALIASES[format.split(';')[0]!.trim()]) {
    return next(new FhirError(406, { code: 'not-supported', diagnostics: `_format "${format}" is not supported; this server speaks application/fhir+json`, expression: ['_format'] }));
  }
  const accept = req.get('accept');
  // Bulk Data file downloads are NDJSON, and the IG has clients ask for it (export.html#file-request).
  const ndjsonOk = EXPORT_FILE.test(req.path);
  if (format === undefined && accept && !acceptsJson(accept) && !(ndjsonOk && acceptsNdjson(accept))) {
    return next(new FhirError(406, { code: 'not-supported', diagnostics: `Accept "${accept}" cannot be served; use application/fhir+json`, expression: ['Accept'] }));
  }
  if (hasBody(req)) {
    const type = (req.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (!JSON_TYPES.includes(type)) {
      return next(new FhirError(415, { code: 'not-supported', diagnostics: `Content-Type "${type || '(none)'}" is not supported; send application/fhir+json`, expression: ['Content-Type'] }));
    }
  }
  next();
}

function hasBody(req: Request): boolean {
  if (!['POST', 'PUT', 'PATCH'].includes(req.method)) return false;
  const length = req.get('content-length');
  return req.get('transfer-encoding') !== undefined || (length !== undefined && length !== '0');
}

/** `$export-output` files (src/fhir/operations/export/export-routes.ts) are served as NDJSON. */
const EXPORT_FILE = /^\/\$export-output\//;
const NDJSON_TYPES = ['application/fhir+ndjson', 'application/ndjson', 'ndjson'];

function acceptsNdjson(accept: string): boolean {
  return accept.split(',').some((part) => NDJSON_TYPES.includes(part.split(';')[0]!.trim().toLowerCase()));
}

function acceptsJson(accept: string): boolean {
  return accept.split(',').some((part) => {
    const type = part.split(';')[0]!.trim().toLowerCase();
    return type === '*/*' || type === 'application/*' || type === 'application/json' || type === 'application/fhir+json' || type === 'application/json+fhir';
  });
}
