/**
 * RFC 6749 §5.2 errors for the OAuth endpoints (JSON, never OperationOutcome), plus the response
 * headers every token-bearing response needs (`Cache-Control: no-store`, `Pragma: no-cache`;
 * app-launch §obtain-access-token). The descriptions are fixed strings that never echo a token.
 */
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../log.js';

export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'unsupported_response_type'
  | 'unsupported_token_type'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'invalid_redirect_uri'
  | 'invalid_client_metadata'
  | 'invalid_token';

export class OAuthError extends Error {
  constructor(
    readonly code: OAuthErrorCode,
    readonly description: string,
    readonly status = code === 'invalid_client' ? 401 : code === 'server_error' ? 500 : 400,
    /** Set when the client authenticated with the Authorization header: 401 needs WWW-Authenticate (RFC 6749 §5.2). */
    readonly wwwAuthenticate?: string,
  ) {
    super(`${code}: ${description}`);
  }
}

export function noStore(res: Response): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
}

export function sendOAuthError(res: Response, err: OAuthError): void {
  noStore(res);
  if (err.wwwAuthenticate) res.setHeader('WWW-Authenticate', err.wwwAuthenticate);
  res.status(err.status).json({ error: err.code, error_description: err.description });
}

/** Error middleware for the JSON OAuth endpoints: OAuthError as is, body-parser errors as invalid_request, the rest server_error. */
export function oauthErrorHandler(logger: Logger) {
  return (err: unknown, _req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) return next(err);
    if (err instanceof OAuthError) return sendOAuthError(res, err);
    const type = (err as { type?: string } | null)?.type;
    if (type === 'entity.parse.failed' || type === 'entity.too.large' || type === 'charset.unsupported') {
      return sendOAuthError(res, new OAuthError('invalid_request', 'The request body could not be read'));
    }
    logger.error('oauth endpoint failed', { requestId: res.locals.requestId, error: (err as Error)?.message, stack: (err as Error)?.stack });
    sendOAuthError(res, new OAuthError('server_error', `Internal error (request id ${String(res.locals.requestId ?? 'unknown')})`));
  };
}

/** Reads one form or query parameter as a string; repeated parameters are a request error (RFC 6749 §3.1). */
export function param(source: unknown, name: string): string | undefined {
  if (!source || typeof source !== 'object') return undefined;
  const v = (source as Record<string, unknown>)[name];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw new OAuthError('invalid_request', `Parameter ${name} must be given once`);
  return v;
}
