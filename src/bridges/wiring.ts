/**
 * How the app mounts the bridges: the router on the app root (next to the SMART endpoints), with
 * the resource server's bearer authentication and the FHIR transaction processor over the app's
 * repository, so bridge writes go through exactly the path `POST [base]` transactions take, with an
 * access context made by the FHIR API's builder from the relation the authentication resolved.
 */
import type { RequestHandler, Router } from 'express';
import type { Config } from '../config/config.js';
import { processBundle } from '../fhir/bundle/transaction.js';
import type { Repository } from '../fhir/repository/repository.js';
import type { Logger } from '../log.js';
import { withBridgeRequest } from './bridge-access.js';
import { createBridgesRouter } from './router.js';
import type { ProcessTransaction } from './store.js';

export function transactionProcessor(repo: Repository, config: Config): ProcessTransaction {
  const deps = { repo, fhirBase: config.fhirBase, defaultCount: config.searchDefaultCount, maxCount: config.searchMaxCount };
  return (bundle, access) => processBundle(deps, bundle, access);
}

export function bridgesRouter(deps: { config: Config; repo: Repository; logger: Logger; authenticate: RequestHandler }): Router {
  return createBridgesRouter({
    authenticate: withBridgeRequest(deps.authenticate),
    processTransaction: transactionProcessor(deps.repo, deps.config),
    bodyLimit: deps.config.bodyLimit,
    logger: deps.logger,
  });
}
