/** Cross-cutting HTTP concerns: request ids, access logs, security headers (CORS: cors.ts). */
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from '../log.js';

export function requestId(req: Request, res: Response, next: NextFunction): void {
  const incoming = req.get('x-request-id');
  const id = incoming && /^[\w.-]{1,100}$/.test(incoming) ? incoming : randomUUID();
  res.locals.requestId = id;
  res.setHeader('X-Request-Id', id);
  next();
}

/**
 * One `request` line per response at level info. Below that level (production runs at warn) nothing
 * is timed, listened for or built: every request paid for a listener and a log object no one wrote.
 */
export function accessLog(logger: Logger) {
  if (!logger.enabled('info')) return (_req: Request, _res: Response, next: NextFunction): void => next();
  return (req: Request, res: Response, next: NextFunction): void => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      logger.info('request', {
        requestId: res.locals.requestId,
        method: req.method,
        path: req.path,
        status: res.statusCode,
        ms: Number(process.hrtime.bigint() - start) / 1e6,
      });
    });
    next();
  };
}

/**
 * `Cache-Control: no-store` is the default for every response (issue 10 hole 9): FHIR data, tokens,
 * introspection, bridges and the pages that show patient data must never sit in a shared or browser
 * cache. The few public documents (discovery, JWKS, brands) set their own caching.
 */
export function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
  res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self' http: https:; frame-ancestors 'none'");
  next();
}

/**
 * Middleware run one after another inside ONE router layer. Express walks each layer of a stack with
 * its own matching, prefix trimming and parameter processing; for the few handlers every request
 * passes (request id, logs, metrics, headers, CORS, compression) that walk cost more than most of
 * them (issue 11, read profile). An error, passed or thrown, goes to `next` as from any layer.
 */
export function inOrder(...handlers: RequestHandler[]): RequestHandler {
  return (req, res, next) => {
    let i = 0;
    const step = (err?: unknown): void => {
      if (err !== undefined && err !== null) return next(err);
      const handler = handlers[i++];
      if (!handler) return next();
      const at = i;
      try {
        const returned: unknown = handler(req, res, step);
        // As Express 5 does for a layer: an async handler's rejection is its error.
        if (returned instanceof Promise) returned.catch(next);
      } catch (thrown) {
        // Only a throw of this handler itself (not of what it handed on to) is its error.
        if (i === at) next(thrown);
        else throw thrown;
      }
    };
    step();
  };
}
