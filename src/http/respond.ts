/** Writes FHIR responses: JSON, ETag/Location/Last-Modified, `Prefer: return=…`, `_pretty`. */
import type { Request, Response } from 'express';
import type { Bundle, BundleEntry, OperationOutcome, Resource } from 'fhir/r4';
import { asDatabaseUnavailable, DATABASE_RETRY_AFTER } from '../db/unavailable.js';
import { informationOutcome } from '../fhir/errors.js';
import { StoredResource } from '../fhir/repository/stored.js';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/** Records what a response shows in the access log; set on `res.locals.auditor` by authentication. */
export type Auditor = (req: Request, body: unknown, status: number) => Promise<void>;

/**
 * Whether the URL's query may name `name` (then `req.query` says what it holds): Express 5 parses
 * `req.query` (with `qs`) anew on every access, and nearly no request carries `_pretty` or `_format`
 * (issue 11, per-request work). A query with a percent-escape may spell the name escaped, so it is parsed.
 */
export function namesParam(req: Pick<Request, 'originalUrl'>, name: string): boolean {
  const url = req.originalUrl;
  const q = url.indexOf('?');
  return q >= 0 && (url.includes(name, q) || url.includes('%', q));
}

const isPretty = (req: Request): boolean => namesParam(req, '_pretty') && req.query._pretty === 'true';

export function sendJson(req: Request, res: Response, status: number, body: unknown): void {
  const pretty = isPretty(req);
  logThenSend(req, res, status, body, () => {
    const text = pretty ? JSON.stringify(body, null, 2) : stringify(body);
    // A resource with its version's ETag goes through Express, which answers a conditional request
    // for it with 304. Anything else (a search or history Bundle, an OperationOutcome) is written as it
    // is: Express would copy the whole text into a buffer and hash it for an ETag of its own (issue 11,
    // search profile), an ETag that names no version and that no FHIR client uses.
    if (res.getHeader('ETag') !== undefined) return void res.status(status).type(FHIR_JSON).send(text);
    sendText(req, res, status, text);
  });
}

/**
 * JSON text of a response body whose Bundle entries may hold stored text (repository/stored.ts): the
 * Bundle is written around the stored resources, which are put in as they are — never parsed. Each
 * entry is its other fields stringified with the stored text spliced in as `resource`, and the Bundle
 * is its own fields with the entry list appended (key order is not significant in JSON), so no text
 * of the response is searched or rewritten afterwards.
 */
export function stringify(body: unknown): string {
  const bundle = body as Bundle | null;
  const entries = bundle?.resourceType === 'Bundle' ? (bundle.entry ?? []) : [];
  if (!entries.some((e) => e.resource instanceof StoredResource)) return JSON.stringify(body);
  const { entry: _entries, ...head } = bundle!;
  const parts = entries.map((e) => (e.resource instanceof StoredResource ? storedEntry(e) : JSON.stringify(e)));
  const start = JSON.stringify(head);
  return `${start === '{}' ? '{' : `${start.slice(0, -1)},`}"entry":[${parts.join(',')}]}`;
}

/**
 * One entry holding stored text: its fields in their order, each stringified as JSON.stringify would
 * (undefined ones left out), the resource as the stored text. A search page has twenty of these.
 */
function storedEntry(e: BundleEntry): string {
  // A search match as execute.ts makes it (fullUrl, resource, search: {mode}) is written without
  // walking its fields: the generic walk below was most of the Bundle's own writing (issue 11, search profile).
  const { fullUrl, search } = e;
  if (typeof fullUrl === 'string' && search !== undefined && Object.keys(e).length === 3 && Object.keys(search).length === 1 && typeof search.mode === 'string') {
    return `{"fullUrl":${JSON.stringify(fullUrl)},"resource":${(e.resource as StoredResource).json},"search":{"mode":${JSON.stringify(search.mode)}}}`;
  }
  let out = '';
  for (const [key, value] of Object.entries(e)) {
    if (value === undefined) continue;
    out += `${out === '' ? '{' : ','}${JSON.stringify(key)}:${key === 'resource' ? (value as StoredResource).json : JSON.stringify(value)}`;
  }
  return out === '' ? '{}' : `${out}}`;
}

/** Logged before shown: data whose access cannot be recorded is not sent (S23). */
function logThenSend(req: Request, res: Response, status: number, shown: unknown, write: () => void): void {
  const auditor = res.locals.auditor as Auditor | undefined;
  if (!auditor || status >= 400) return write();
  auditor(req, shown, status).then(write, (err: unknown) => {
    res.removeHeader('ETag');
    res.removeHeader('Location');
    // The log's database is away: a transient 503 the client may retry (issue 17), still nothing shown.
    if (asDatabaseUnavailable(err)) res.setHeader('Retry-After', DATABASE_RETRY_AFTER);
    res.status(asDatabaseUnavailable(err) ? 503 : 500).type(FHIR_JSON).send(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: asDatabaseUnavailable(err) ? 'transient' : 'exception', diagnostics: 'The access could not be recorded in the access log, so nothing is shown; try again' }] }));
  });
}

export function versionHeaders(res: Response, resource: Resource): void {
  if (resource.meta?.versionId) res.setHeader('ETag', `W/"${resource.meta.versionId}"`);
  if (resource.meta?.lastUpdated) res.setHeader('Last-Modified', new Date(resource.meta.lastUpdated).toUTCString());
}

export function sendResource(req: Request, res: Response, status: number, resource: Resource): void {
  versionHeaders(res, resource);
  sendJson(req, res, status, resource);
}

/**
 * A read answered with the stored text (issue 11 §3): no parse, no stringify. The access log sees the
 * StoredResource and takes whose data it is from its compartments. `_pretty` reformats, so it parses.
 */
export function sendStored(req: Request, res: Response, status: number, stored: StoredResource): void {
  if (isPretty(req)) return sendResource(req, res, status, stored.toResource());
  res.setHeader('ETag', `W/"${stored.versionId}"`);
  res.setHeader('Last-Modified', new Date(stored.lastUpdated).toUTCString());
  logThenSend(req, res, status, stored, () => sendText(req, res, status, stored.json));
}

/**
 * A finished JSON text written as it is. Express's `send` would parse and re-format the content type
 * to add a charset, and compute freshness, which the read has decided already (instance.ts
 * `notModified`); the compression middleware still applies (it wraps `end`).
 */
function sendText(req: Request, res: Response, status: number, text: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', FHIR_JSON);
  res.setHeader('Content-Length', Buffer.byteLength(text));
  if (req.method === 'HEAD') res.end();
  else res.end(text);
}

/**
 * A write's response honours `Prefer: return=minimal | representation | OperationOutcome`
 * (default representation). See: https://hl7.org/fhir/R4/http.html#ops
 */
export function sendWriteResult(req: Request, res: Response, status: number, resource: Resource, fhirBase: string, message: string): void {
  versionHeaders(res, resource);
  if (status === 201 || req.method !== 'GET') {
    res.setHeader('Location', `${fhirBase}/${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId}`);
  }
  const prefer = preferReturn(req);
  if (prefer === 'minimal') {
    // Even without a body the Location of a conditional create that matched names an existing
    // resource, so it is logged like the representation would be.
    logThenSend(req, res, status, resource, () => void res.status(status).end());
    return;
  }
  if (prefer === 'OperationOutcome') {
    const outcome: OperationOutcome = informationOutcome(message);
    logThenSend(req, res, status, resource, () => void res.status(status).type(FHIR_JSON).send(JSON.stringify(outcome)));
    return;
  }
  sendJson(req, res, status, resource);
}

export function preferReturn(req: Request): 'minimal' | 'representation' | 'OperationOutcome' {
  const m = /return=(minimal|representation|OperationOutcome)/i.exec(req.get('prefer') ?? '');
  if (!m) return 'representation';
  const v = m[1]!.toLowerCase();
  return v === 'minimal' ? 'minimal' : v === 'operationoutcome' ? 'OperationOutcome' : 'representation';
}

export function preferStrictHandling(req: Request): boolean {
  return /handling\s*=\s*strict/i.test(req.get('prefer') ?? '');
}
