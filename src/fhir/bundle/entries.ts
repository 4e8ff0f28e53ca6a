/** Parsing of batch/transaction entries into the operations they ask for. */
import type { Bundle, BundleEntry, Resource } from 'fhir/r4';
import { badRequest } from '../errors.js';

export type EntryMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface ParsedEntry {
  index: number;
  method: EntryMethod;
  /** Resource type from the URL. */
  type: string;
  id?: string;
  versionId?: string;
  /** Query string of a search or conditional operation (without `?`). */
  query?: string;
  fullUrl?: string;
  resource?: Resource;
  ifNoneExist?: string;
  ifMatch?: string;
  /** The `url` as sent, for messages. */
  url: string;
}

const METHODS: readonly EntryMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

export function parseBundleRequest(body: unknown): { type: 'batch' | 'transaction'; entries: ParsedEntry[] } {
  if (!body || typeof body !== 'object' || (body as Resource).resourceType !== 'Bundle') throw badRequest('POST to the base expects a Bundle', 'resourceType');
  const bundle = body as Bundle;
  if (bundle.type !== 'batch' && bundle.type !== 'transaction') throw badRequest(`Bundle.type must be batch or transaction, got "${bundle.type}"`, 'Bundle.type');
  if (bundle.entry !== undefined && !Array.isArray(bundle.entry)) throw badRequest('Bundle.entry must be an array', 'Bundle.entry');
  return { type: bundle.type, entries: (bundle.entry ?? []).map((e, i) => parseEntry(e, i)) };
}

function parseEntry(entry: BundleEntry, index: number): ParsedEntry {
  const where = `Bundle.entry[${index}]`;
  if (!entry || typeof entry !== 'object') throw badRequest(`${where} is not an object`, where);
  const method = entry.request?.method as EntryMethod | undefined;
  if (!method || !METHODS.includes(method)) throw badRequest(`${where}.request.method must be one of ${METHODS.join(', ')}`, `${where}.request.method`);
  const url = entry.request?.url;
  if (typeof url !== 'string' || url.length === 0) throw badRequest(`${where}.request.url is required`, `${where}.request.url`);
  const [path, query] = splitUrl(url);
  const parts = path.split('/').filter(Boolean);
  const parsed: ParsedEntry = {
    index,
    method,
    type: parts[0] ?? '',
    id: parts[1],
    versionId: parts[2] === '_history' ? parts[3] : undefined,
    query,
    fullUrl: entry.fullUrl,
    resource: entry.resource,
    ifNoneExist: entry.request?.ifNoneExist,
    ifMatch: entry.request?.ifMatch?.replace(/^W\//, '').replace(/"/g, ''),
    url,
  };
  if (!parsed.type) throw badRequest(`${where}.request.url "${url}" names no resource type`, `${where}.request.url`);
  if ((method === 'POST' || method === 'PUT') && !entry.resource) throw badRequest(`${where} needs a resource for ${method}`, `${where}.resource`);
  if (entry.resource && (method === 'POST' || method === 'PUT') && entry.resource.resourceType !== parsed.type) {
    throw badRequest(`${where}.resource is a ${entry.resource.resourceType} but the url names ${parsed.type}`, `${where}.resource.resourceType`);
  }
  return parsed;
}

function splitUrl(url: string): [string, string | undefined] {
  // Entries may carry absolute URLs of this server; only the path relative to the base matters.
  const relative = url.replace(/^https?:\/\/[^/]+\/(?:.*?\/)?fhir\//, '');
  const i = relative.indexOf('?');
  return i < 0 ? [relative, undefined] : [relative.slice(0, i), relative.slice(i + 1)];
}

/** Transaction processing order: DELETE, POST, PUT/PATCH, GET/HEAD (http.html#trules). */
export function processingRank(method: EntryMethod): number {
  return { DELETE: 0, POST: 1, PUT: 2, PATCH: 2, GET: 3, HEAD: 3 }[method];
}
