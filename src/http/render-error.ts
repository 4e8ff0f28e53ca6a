/**
 * The one place errors become responses: FhirError → its OperationOutcome; body parser failures →
 * 400/413/415; the database out of reach → 503 + Retry-After (issue 17); anything else → 500 with a request id and no internal detail (the stack goes to the log).
 */
import type { NextFunction, Request, Response } from 'express';
import { isRetryableDbError } from '../db/db.js';
import { asDatabaseUnavailable, DATABASE_RETRY_AFTER } from '../db/unavailable.js';
import { FhirError, operationOutcome } from '../fhir/errors.js';
import type { Logger } from '../log.js';
import { sendJson } from './respond.js';

interface HttpishError {
  type?: string;
  status?: number;
  expose?: boolean;
  message?: string;
}

/** 503 `transient` for a database that is unreachable or past its deadline: nothing was committed. */
export function unavailableError(err: unknown): FhirError | null {
  if (asDatabaseUnavailable(err)) {
    return new FhirError(503, { code: 'transient', diagnostics: `The database is temporarily unavailable; nothing was changed. Retry after ${DATABASE_RETRY_AFTER} seconds` }).withHeader('Retry-After', DATABASE_RETRY_AFTER);
  }
  // A deadlock or serialization failure aborted the transaction: nothing was stored, a retry will do.
  if (isRetryableDbError(err)) return new FhirError(503, { code: 'transient', diagnostics: 'The request collided with a concurrent write and was rolled back; retry it' }).withHeader('Retry-After', '1');
  return null;
}

export function toFhirError(err: unknown): FhirError | null {
  if (err instanceof FhirError) return err;
  const unavailable = unavailableError(err);
  if (unavailable) return unavailable;
  const e = err as HttpishError;
  if (e?.type === 'entity.too.large') return new FhirError(413, { code: 'too-costly', diagnostics: 'Request body is larger than the server accepts', expression: ['body'] });
  if (e?.type === 'entity.parse.failed') return new FhirError(400, { code: 'structure', diagnostics: `Request body is not valid JSON: ${sanitize(e.message ?? '')}`, expression: ['body'] });
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') return new FhirError(415, { code: 'not-supported', diagnostics: 'Unsupported body encoding or charset', expression: ['Content-Encoding'] });
  // The router could not percent-decode a path segment (`Patient/%E0`): the client's URL is wrong.
  if (err instanceof URIError) {
    const what = /'([^']{0,60})/.exec(e.message ?? '')?.[1];
    return new FhirError(400, { code: 'invalid', diagnostics: `The URL path contains a malformed percent-escape${what ? ` in "${what}"` : ''}; %XX sequences must encode UTF-8`, expression: ['url'] });
  }
  if (e?.type === 'request.aborted') return new FhirError(400, { code: 'incomplete', diagnostics: 'Request was aborted by the client' });
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500 && e.expose) return new FhirError(e.status, { code: 'invalid', diagnostics: sanitize(e.message ?? 'Bad request') });
  return null;
}

export function errorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const fhirError = toFhirError(err);
    if (res.headersSent) {
      res.end();
      return;
    }
    if (fhirError) {
      for (const [k, v] of Object.entries(fhirError.headers)) res.setHeader(k, v);
      if (fhirError.status === 503) logger.warn('database unavailable', { requestId: res.locals.requestId, method: req.method, path: req.path, error: (err as Error)?.message });
      else if (fhirError.status >= 500) logger.error('request failed', { requestId: res.locals.requestId, status: fhirError.status, error: fhirError.message });
      sendJson(req, res, fhirError.status, operationOutcome(fhirError.issues));
      return;
    }
    logger.error('unhandled error', { requestId: res.locals.requestId, method: req.method, path: req.path, error: (err as Error)?.message, stack: (err as Error)?.stack });
    sendJson(req, res, 500, operationOutcome([{ code: 'exception', diagnostics: `Internal server error (request id ${res.locals.requestId ?? 'unknown'})` }]));
  };
}

/** Body-parser messages quote the offending input; keep only the position part. */
function sanitize(message: string): string {
  return message.replace(/"[^"]{40,}"/g, '"…"').slice(0, 200);
}
