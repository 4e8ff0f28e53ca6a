/**
 * `GET [base]/Binary/{id}` (and its vread) as the bytes themselves (R4 http.html#binary): "when a read
 * request is made for the binary resource that doesn't explicitly specify the FHIR content types …
 * the content should be returned using the content type stated in the resource", and 406 "where the
 * server cannot return the content in the requested format".
 *
 * It runs before the FHIR router's content negotiation (which knows only FHIR JSON) and hands every
 * request that asks for FHIR (no Accept, `_format`, or an Accept naming a FHIR/JSON type) on to it.
 * The rest are authenticated by the same step and read through the same `readStored` with the same
 * AccessContext as the JSON read — visible exactly when the Binary's securityContext resource is
 * (access-spec §5.3 row 28) — and logged with the same StoredResource before a byte is sent (S23).
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Binary } from 'fhir/r4';
import { asDatabaseUnavailable, DATABASE_RETRY_AFTER } from '../../db/unavailable.js';
import type { Auditor } from '../../http/respond.js';
import { FhirError } from '../errors.js';
import type { Repository } from '../repository/repository.js';
import type { StoredResource } from '../repository/stored.js';
import { accessOf } from './context.js';

/**
 * Media types that ask for the FHIR form (FHIR XML is then refused by the FHIR router with 406).
 * `application/json` counts as FHIR JSON as everywhere on this server; plain XML does not, so a
 * browser's Accept (`text/html,…,application/xml;q=0.9,*\/*;q=0.8`) opens an attachment as itself.
 */
const FHIR_TYPES = new Set(['application/fhir+json', 'application/json', 'application/json+fhir', 'application/fhir+xml', 'application/xml+fhir']);

interface Range { type: string; q: number }

/** The media ranges of an Accept header with their weights (RFC 9110 §12.5.1); q=0 means "not this". */
export function acceptRanges(accept: string): Range[] {
  return accept.split(',').map((part) => {
    const [type, ...params] = part.split(';').map((s) => s.trim());
    const q = params.map((p) => /^q=([0-9.]+)$/i.exec(p)).find(Boolean);
    return { type: (type ?? '').toLowerCase(), q: q ? Number(q[1]) : 1 };
  }).filter((r) => r.type !== '' && !(r.q <= 0) && !Number.isNaN(r.q));
}

/** Whether a request for a Binary asks for its FHIR form: no Accept, `_format`, or a FHIR/JSON type in Accept. */
export function wantsFhirForm(accept: string | undefined, format: unknown): boolean {
  if (format !== undefined) return true;
  if (!accept || accept.trim() === '') return true;
  return acceptRanges(accept).some((r) => FHIR_TYPES.has(r.type));
}

/** Whether the Accept ranges admit the Binary's own content type (exactly, by its major type, or by the any-type range). */
export function acceptsContentType(accept: string, contentType: string): boolean {
  const own = contentType.split(';')[0]!.trim().toLowerCase();
  const major = own.split('/')[0];
  return acceptRanges(accept).some((r) => r.type === '*/*' || r.type === own || r.type === `${major}/*`);
}

/** Content types a browser may show inline; anything else (HTML, SVG, scripts …) is a download only. */
const INLINE = new Set(['application/pdf', 'image/jpeg', 'image/png', 'image/heic', 'image/gif', 'image/webp', 'text/plain']);

export interface BinaryContentDeps {
  repo: Repository;
  authenticate: RequestHandler;
}

export function binaryContent(deps: BinaryContentDeps): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    // The FHIR router is case-sensitive (`/binary/x` is no Binary); this one is not, so it checks.
    if (!req.path.startsWith('/Binary/') || wantsFhirForm(req.get('accept'), req.query._format)) return next();
    deps.authenticate(req, res, (err?: unknown) => {
      if (err) return next(err);
      serve(deps, req, res).catch(next);
    });
  };
}

async function serve(deps: BinaryContentDeps, req: Request, res: Response): Promise<void> {
  const id = String(req.params.id);
  const vid = req.params.vid === undefined ? undefined : String(req.params.vid);
  const access = accessOf(res);
  const stored = vid === undefined ? await deps.repo.readStored('Binary', id, access) : await deps.repo.vreadStored('Binary', id, vid, access);
  const binary = stored.toResource<Binary>();
  const accept = req.get('accept')!;
  if (!acceptsContentType(accept, binary.contentType)) {
    throw new FhirError(406, {
      code: 'not-supported',
      diagnostics: `Binary/${id} holds ${binary.contentType}; Accept "${accept.slice(0, 200)}" cannot be served. Ask for ${binary.contentType}, or application/fhir+json for the resource`,
      expression: ['Accept'],
    });
  }
  res.setHeader('ETag', `W/"${stored.versionId}"`);
  res.setHeader('Last-Modified', new Date(stored.lastUpdated).toUTCString());
  res.setHeader('Vary', 'Accept');
  if (vid === undefined && req.get('if-none-match')?.split(',').some((t) => t.trim().replace(/^W\//, '') === `"${stored.versionId}"` || t.trim() === '*')) {
    res.status(304).end();
    return;
  }
  await logged(req, res, stored);
  const own = binary.contentType.split(';')[0]!.trim().toLowerCase();
  // Uploaded bytes on the API's origin: never sniffed, never run as a page, shown inline only when harmless.
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
  res.setHeader('Content-Disposition', `${INLINE.has(own) ? 'inline' : 'attachment'}; filename="Binary-${id}"`);
  res.status(200).type(binary.contentType).send(Buffer.from(binary.data ?? '', 'base64'));
}

/** Logged before shown, as every FHIR read (respond.ts): nothing is sent whose access was not recorded. */
async function logged(req: Request, res: Response, stored: StoredResource): Promise<void> {
  const auditor = res.locals.auditor as Auditor | undefined;
  if (!auditor) return;
  try {
    await auditor(req, stored, 200);
  } catch (err) {
    res.removeHeader('ETag');
    const unavailable = asDatabaseUnavailable(err);
    const e = new FhirError(unavailable ? 503 : 500, { code: unavailable ? 'transient' : 'exception', diagnostics: 'The access could not be recorded in the access log, so nothing is shown; try again' });
    throw unavailable ? e.withHeader('Retry-After', DATABASE_RETRY_AFTER) : e;
  }
}
