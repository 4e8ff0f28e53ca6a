/**
 * The REST face of the access log: AuditEvent is read-only (policy row 17, "C/U/D: deny for
 * everyone (server-generated)"). Read, vread, instance history and search come from the
 * `access_log` table (audit-view.ts); every write, through any door, is refused with 403.
 */
import type { NextFunction, Request, Response, Router } from 'express';
import type { AuditEvent, Bundle, BundleEntry } from 'fhir/r4';
import type { AccessContext } from '../access/access-context.js';
import { assertOwnPatient } from '../access/search-guard.js';
import type { Queryable } from '../db/db.js';
import { forbidden, methodNotAllowed, notFound } from '../fhir/errors.js';
import { accessOf, type FhirDeps } from '../fhir/interactions/context.js';
import { searchParams } from '../fhir/interactions/search-history.js';
import { preferStrictHandling, sendJson, sendResource } from '../http/respond.js';
import { readLogEntry, searchLog, type LogSearchOptions } from './audit-view.js';

export const logIsReadOnly = () =>
  forbidden('AuditEvent is the access log, written by the server only: it cannot be created, updated or deleted (S23; access-spec §4.4 row 17)');

type Handler = (req: Request, res: Response) => Promise<void>;

/** Registers the AuditEvent routes on the FHIR router, ahead of the generic resource routes. */
export function mountAuditEventRoutes(router: Router, deps: FhirDeps): void {
  const route = (fn: Handler) => (req: Request, res: Response, next: NextFunction) => fn(req, res).catch(next);
  const q = () => deps.repo.queryable;
  const opts = (req: Request, compartmentPatient?: string): LogSearchOptions => ({
    fhirBase: deps.config.fhirBase, defaultCount: deps.config.searchDefaultCount, maxCount: deps.config.searchMaxCount, strict: preferStrictHandling(req),
    ...(compartmentPatient !== undefined ? { compartmentPatient } : {}),
  });
  const search = async (req: Request, res: Response, compartmentPatient?: string) => {
    const access = accessOf(res);
    const params = searchParams(req);
    assertOwnPatient(access, params, compartmentPatient);
    sendJson(req, res, 200, await searchLog(q(), params, access, opts(req, compartmentPatient)));
  };

  router.get('/AuditEvent', route((req, res) => search(req, res)));
  router.post('/AuditEvent/_search', route((req, res) => search(req, res)));
  router.get('/Patient/:id/AuditEvent', route((req, res) => search(req, res, String(req.params.id))));
  router.get('/AuditEvent/_history', route(async (req, res) => {
    accessOf(res);
    throw methodNotAllowed('AuditEvent has no type history: log entries never change; search AuditEvent?date=… instead');
  }));
  router.get('/AuditEvent/:id', route(async (req, res) => sendResource(req, res, 200, await readLogEntry(q(), String(req.params.id), accessOf(res)))));
  router.get('/AuditEvent/:id/_history', route(async (req, res) => {
    const event = await readLogEntry(q(), String(req.params.id), accessOf(res));
    sendJson(req, res, 200, historyOf(event, deps.config.fhirBase));
  }));
  router.get('/AuditEvent/:id/_history/:vid', route(async (req, res) => sendResource(req, res, 200, await vreadLogEntry(q(), String(req.params.id), String(req.params.vid), accessOf(res)))));
  router.all(['/AuditEvent', '/AuditEvent/{*rest}'], route(async (req, res) => {
    accessOf(res);
    if (req.method === 'GET' || req.method === 'HEAD') throw notFound(`No FHIR interaction at ${req.path}`);
    throw logIsReadOnly();
  }));
}

/** A log entry has exactly one version, `1`. */
export async function vreadLogEntry(q: Queryable, id: string, versionId: string, access: AccessContext): Promise<AuditEvent> {
  const event = await readLogEntry(q, id, access);
  if (versionId !== '1') throw notFound(`AuditEvent/${id} has no version ${versionId}; log entries never change`);
  return event;
}

function historyOf(event: AuditEvent, fhirBase: string): Bundle {
  const entry: BundleEntry = {
    fullUrl: `${fhirBase}/AuditEvent/${event.id}`,
    resource: event,
    request: { method: 'POST', url: 'AuditEvent' },
    response: { status: '201 Created', lastModified: event.recorded, etag: 'W/"1"' },
  };
  return { resourceType: 'Bundle', type: 'history', total: 1, link: [{ relation: 'self', url: `${fhirBase}/AuditEvent/${event.id}/_history` }], entry: [entry] };
}

/** A batch/transaction entry on AuditEvent: reads from the log, writes refused like at the REST API. */
export async function executeLogEntry(
  q: Queryable,
  e: { method: string; id?: string; versionId?: string; query?: string },
  access: AccessContext,
  opts: LogSearchOptions,
): Promise<BundleEntry> {
  if (e.method !== 'GET' && e.method !== 'HEAD') throw logIsReadOnly();
  const fullUrl = (event: AuditEvent) => `${opts.fhirBase}/AuditEvent/${event.id}`;
  if (e.id) {
    if (e.id === '_history') throw methodNotAllowed('AuditEvent has no type history: log entries never change; search AuditEvent?date=… instead');
    const event = e.versionId ? await vreadLogEntry(q, e.id, e.versionId, access) : await readLogEntry(q, e.id, access);
    return { fullUrl: fullUrl(event), resource: event, response: { status: '200 OK', etag: 'W/"1"', lastModified: event.recorded } };
  }
  const bundle = await searchLog(q, [...new URLSearchParams(e.query ?? '')], access, opts);
  return { resource: bundle, response: { status: '200 OK' } };
}
