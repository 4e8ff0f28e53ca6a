/**
 * The FHIR REST router (http.html): maps URLs to interaction handlers. Handlers are thin; the
 * repository and search engine do the work. Mounted at `/fhir` after authentication.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { badRequest, methodNotAllowed, notFound } from './errors.js';
import { isResourceType } from './definitions/registry.js';
import { sendJson } from '../http/respond.js';
import { processBundle } from './bundle/transaction.js';
import { accessOf, type FhirDeps } from './interactions/context.js';
import * as instance from './interactions/instance.js';
import * as typeLevel from './interactions/type-level.js';
import { history, plainSearchType, search } from './interactions/search-history.js';
import { validateInteraction } from './interactions/validate.js';
import { accountOperation, type OnAccountChange } from './interactions/account.js';
import { mountAuditEventRoutes } from '../audit/audit-routes.js';
import { mountExportRoutes } from './operations/export/export-routes.js';
import { createExportRunner } from './operations/export/runner.js';
import type { JobRunner } from '../jobs/runner.js';

type Handler = (req: Request, res: Response) => Promise<void>;

export function createFhirRouter(deps: FhirDeps & { onAccountChange?: OnAccountChange; exportRunner?: JobRunner }): Router {
  const router = express.Router({ caseSensitive: true });
  const route = (fn: Handler) => (req: Request, res: Response, next: NextFunction) => fn(req, res).catch(next);
  const type = (req: Request): string => {
    const t = String(req.params.type);
    if (!isResourceType(t)) throw notFound(`Unknown resource type "${t}"`);
    return t;
  };
  const p = (req: Request, name: string): string => String(req.params[name]);

  // The everyday request first (issue 11): a plain read by id goes straight to its handler instead of
  // being matched against the twenty-odd routes mounted before `/:type/:id` below.
  router.get('/:type/:id', (req, res, next) => {
    const readType = instance.plainReadType(req);
    if (readType === null) return next();
    instance.read(deps, req, res, readType, p(req, 'id')).catch(next);
  });
  // And the everyday search of one type, or of one type in a Patient's compartment (below, as there).
  // Two routes, not one with a list of paths: the metrics label a request by its route's path.
  const plainSearch = (req: Request, res: Response, next: NextFunction) => {
    const searchType = plainSearchType(req);
    if (searchType === null) return next();
    search(deps, req, res, searchType, req.params.compartment === undefined ? undefined : { resourceType: 'Patient', id: p(req, 'id') }).catch(next);
  };
  router.get('/:type', plainSearch);
  router.get('/:compartment/:id/:type', plainSearch);
  // The access log is a read-only view of its own table, not a stored resource (src/audit).
  mountAuditEventRoutes(router, deps);
  // Bulk Data $export: jobs run in the background; the runner also resumes jobs a stopped process left.
  const exportRunner = deps.exportRunner ?? createExportRunner({ db: deps.repo.queryable, fhirBase: deps.config.fhirBase, logger: deps.logger, pageSize: deps.config.searchMaxCount });
  exportRunner.start();
  mountExportRoutes(router, deps, exportRunner);
  router.post('/', route(async (req, res) => {
    const bundle = await processBundle({ repo: deps.repo, fhirBase: deps.config.fhirBase, defaultCount: deps.config.searchDefaultCount, maxCount: deps.config.searchMaxCount }, req.body, accessOf(res));
    sendJson(req, res, 200, bundle);
  }));
  router.get('/', route((req, res) => search(deps, req, res, null)));
  router.post('/_search', route((req, res) => search(deps, req, res, null)));
  router.get('/_history', route((req, res) => history(deps, req, res)));

  router.get('/:type', route((req, res) => search(deps, req, res, type(req))));
  router.post('/:type', route((req, res) => typeLevel.create(deps, req, res, type(req))));
  router.put('/:type', route((req, res) => typeLevel.conditionalUpdate(deps, req, res, type(req))));
  router.delete('/:type', route((req, res) => typeLevel.conditionalDelete(deps, req, res, type(req))));

  router.get('/:type/_history', route((req, res) => history(deps, req, res, type(req))));
  router.post('/:type/_search', route((req, res) => search(deps, req, res, type(req))));
  router.post('/:type/:id', route(async (req, res) => {
    const id = p(req, 'id');
    if (id === '$validate') return validateInteraction(deps, req, res, type(req));
    throw methodNotAllowed(`POST is not allowed on ${type(req)}/${id}; use PUT to update`);
  }));

  router.get('/:type/:id', route((req, res) => instance.read(deps, req, res, type(req), p(req, 'id'))));
  router.put('/:type/:id', route((req, res) => instance.update(deps, req, res, type(req), p(req, 'id'))));
  router.patch('/:type/:id', route((req, res) => instance.patch(deps, req, res, type(req), p(req, 'id'))));
  router.delete('/:type/:id', route((req, res) => instance.remove(deps, req, res, type(req), p(req, 'id'))));

  router.get('/:type/:id/_history', route((req, res) => history(deps, req, res, type(req), p(req, 'id'))));
  router.get('/:type/:id/_history/:vid', route((req, res) => instance.vread(deps, req, res, type(req), p(req, 'id'), p(req, 'vid'))));
  router.post('/:type/:id/:op', route(async (req, res) => {
    if (p(req, 'op') === '$validate') return validateInteraction(deps, req, res, type(req), p(req, 'id'));
    if (type(req) === 'Patient' && p(req, 'op') === '$everything') return search(deps, req, res, null, { resourceType: 'Patient', id: p(req, 'id') });
    const op = p(req, 'op');
    if (type(req) === 'Patient' && (op === '$deactivate' || op === '$reactivate')) return accountOperation(deps, req, res, p(req, 'id'), op);
    throw notFound(`Unknown operation "${p(req, 'op')}" on ${type(req)}`);
  }));
  // Compartment search: GET [base]/Patient/{id}/{type} per the Patient CompartmentDefinition.
  router.get('/:compartment/:id/:type', route(async (req, res) => {
    if (p(req, 'compartment') !== 'Patient') throw notFound(`Compartment "${p(req, 'compartment')}" is not supported; only Patient`);
    const target = p(req, 'type');
    // Patient/$everything is the whole compartment under the caller's access filters, the Patient included.
    if (target === '$everything') return search(deps, req, res, null, { resourceType: 'Patient', id: p(req, 'id') });
    if (target !== '*' && !isResourceType(target)) throw notFound(`Unknown resource type "${target}"`);
    return search(deps, req, res, target === '*' ? null : target, { resourceType: 'Patient', id: p(req, 'id') });
  }));

  router.all('/{*rest}', route(async (req) => {
    if (['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(req.method)) throw notFound(`No FHIR interaction at ${req.path}`);
    throw methodNotAllowed(`${req.method} is not supported`);
  }));
  return router;
}

export function requireJsonObject(body: unknown, where: string): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest(`${where} must be a JSON object`, where);
  return body as Record<string, unknown>;
}
