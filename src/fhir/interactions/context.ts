/** What every interaction handler receives, and how it finds the request's access context. */
import type { Response } from 'express';
import type { AccessContext } from '../../access/access-context.js';
import type { Config } from '../../config/config.js';
import type { Logger } from '../../log.js';
import { FhirError } from '../errors.js';
import type { Repository } from '../repository/repository.js';

export interface FhirDeps {
  config: Config;
  repo: Repository;
  logger: Logger;
}

/**
 * The access context the authentication step put on the response. Deny by default: a request
 * that reached a data route without one is refused, never served unfiltered.
 */
export function accessOf(res: Response): AccessContext {
  const access = res.locals.access as AccessContext | undefined;
  if (!access) {
    throw new FhirError(401, { code: 'login', diagnostics: 'Authentication required' }).withHeader('WWW-Authenticate', 'Bearer realm="helsebro"');
  }
  return access;
}

/**
 * The access context of a read by id or a search: the one the authentication step decided from what
 * the token's previous request established, whose grant check the read's or search's own statement
 * carries (access-context.ts `liveness`, auth/resource-server.ts), or else the request's. Only the read
 * and search handlers take the former; every other handler finds no context (`accessOf`) and refuses.
 */
export function readAccessOf(res: Response): AccessContext {
  return (res.locals.guardedAccess as AccessContext | undefined) ?? accessOf(res);
}
