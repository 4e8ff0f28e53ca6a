/** Executes one batch/transaction entry through the repository and shapes its response entry. */
import type { Binary, BundleEntry, Resource } from 'fhir/r4';
import type { AccessContext } from '../../access/access-context.js';
import { executeLogEntry } from '../../audit/audit-routes.js';
import { badRequest, preconditionFailed } from '../errors.js';
import type { Repository } from '../repository/repository.js';
import { executeSearch } from '../search/execute.js';
import { findMatchingIds } from '../search/find-ids.js';
import type { ParsedEntry } from './entries.js';

export interface EntryContext {
  repo: Repository;
  access: AccessContext;
  fhirBase: string;
  defaultCount: number;
  maxCount: number;
}

export async function executeEntry(ctx: EntryContext, e: ParsedEntry, resource: Resource | undefined, preassignedId?: string): Promise<BundleEntry> {
  const { repo, access } = ctx;
  // The access log is its own read-only table (src/audit), not a stored resource.
  if (e.type === 'AuditEvent') return executeLogEntry(repo.queryable, e, access, { fhirBase: ctx.fhirBase, defaultCount: ctx.defaultCount, maxCount: ctx.maxCount, strict: false });
  switch (e.method) {
    case 'POST': {
      const result = await repo.create({ ...resource!, id: undefined }, access, { ifNoneExist: e.ifNoneExist?.replace(/^[A-Za-z]+\?/, ''), id: preassignedId });
      return written(ctx, result.resource, result.created ? '201 Created' : '200 OK');
    }
    case 'PUT': {
      const id = e.id ?? (await conditionalId(ctx, e));
      if (resource!.id !== undefined && resource!.id !== id) throw badRequest(`resource id "${resource!.id}" does not match the url id "${id}"`, 'resource.id');
      const result = await repo.update({ ...resource!, id }, access, { ifMatch: e.ifMatch });
      return written(ctx, result.resource, result.created ? '201 Created' : '200 OK');
    }
    case 'PATCH': {
      const id = e.id ?? (await conditionalId(ctx, e));
      const patched = await repo.patch(e.type, id, patchOperations(resource), access, { ifMatch: e.ifMatch });
      return written(ctx, patched, '200 OK');
    }
    case 'DELETE': {
      const id = e.id ?? (await conditionalId(ctx, e, true));
      if (!id) return { response: { status: '204 No Content' } };
      await repo.delete(e.type, id, access, { ifMatch: e.ifMatch });
      return { response: { status: '204 No Content' } };
    }
    case 'GET':
    case 'HEAD': {
      if (e.id && e.versionId) return readEntry(ctx, await repo.vread(e.type, e.id, e.versionId, access));
      if (e.id) return readEntry(ctx, await repo.read(e.type, e.id, access));
      const bundle = await executeSearch(repo.queryable, {
        resourceType: e.type,
        params: [...new URLSearchParams(e.query ?? '')],
        access,
        fhirBase: ctx.fhirBase,
        strict: false,
        defaultCount: ctx.defaultCount,
        maxCount: ctx.maxCount,
      });
      return { resource: bundle, response: { status: '200 OK' } };
    }
  }
}

async function conditionalId(ctx: EntryContext, e: ParsedEntry, allowNone = false): Promise<string> {
  if (!e.query) throw badRequest(`${e.method} needs an id or search criteria in the url`, 'request.url');
  const ids = await findMatchingIds(ctx.repo.queryable, e.type, e.query, ctx.access, 2);
  if (ids.length > 1) throw preconditionFailed(`criteria matched ${ids.length} ${e.type} resources`);
  if (ids.length === 0) {
    if (allowNone) return '';
    throw preconditionFailed(`criteria matched no ${e.type}`);
  }
  return ids[0]!;
}

/** In a Bundle a JSON Patch travels as a Binary with contentType application/json-patch+json. */
function patchOperations(resource: Resource | undefined): unknown {
  const binary = resource as Binary | undefined;
  if (binary?.resourceType !== 'Binary' || !binary.data) throw badRequest('A PATCH entry needs a Binary resource carrying a JSON Patch', 'resource');
  try {
    return JSON.parse(Buffer.from(binary.data, 'base64').toString('utf8'));
  } catch {
    throw badRequest('The Binary of a PATCH entry does not hold JSON', 'resource.data');
  }
}

function written(ctx: EntryContext, resource: Resource, status: string): BundleEntry {
  return {
    fullUrl: `${ctx.fhirBase}/${resource.resourceType}/${resource.id}`,
    resource,
    response: {
      status,
      location: `${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId}`,
      etag: `W/"${resource.meta?.versionId}"`,
      lastModified: resource.meta?.lastUpdated,
    },
  };
}

function readEntry(ctx: EntryContext, resource: Resource): BundleEntry {
  return {
    fullUrl: `${ctx.fhirBase}/${resource.resourceType}/${resource.id}`,
    resource,
    response: { status: '200 OK', etag: `W/"${resource.meta?.versionId}"`, lastModified: resource.meta?.lastUpdated },
  };
}
