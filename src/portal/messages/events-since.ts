/**
 * "Dette har skjedd siden sist" (issue 13): what happened in one patient's record since a moment,
 * as ordinary searches run under the caller's own AccessContext, so the answer holds exactly what
 * the caller could find by searching (no back door: a Communicate proxy gets no results, a Read proxy
 * no messages, a parent nothing a clinician closed to parents).
 */
import type { Bundle, Communication, ParametersParameter, Resource } from 'fhir/r4';
import type { AccessContext } from '../../access/access-context.js';
import type { Queryable } from '../../db/db.js';
import { badRequest } from '../../fhir/errors.js';
import { executeSearch } from '../../fhir/search/execute.js';
import { TASK_CODE_SYSTEM } from '../booking/codes.js';

const RELEASED = 'https://fhir.helsebro.no/CodeSystem/release-status|released';
const taskCodes = (...codes: string[]) => codes.map((c) => `${TASK_CODE_SYSTEM}|${c}`).join(',');

/** Citizen requests answered by the clinic (issue 12 and issue 13's Task codes). */
export const REQUEST_CODES = ['change-appointment', 'cancel-appointment', 'renew-prescription', 'add-allergy', 'apply-municipal-service', 'appeal-decision', 'request-records'] as const;

export type EventKind = 'message' | 'result' | 'offer' | 'questionnaire' | 'request-reply';

/** Each kind of event as a search of the record (FHIR search syntax; `{since}` is the moment asked for). */
export const EVENT_SEARCHES: ReadonlyArray<{ kind: EventKind; type: string; query: string }> = [
  { kind: 'message', type: 'Communication', query: 'sent=gt{since}&_sort=sent' },
  // Released results: releasing is an update, so the version's time is when it became visible.
  { kind: 'result', type: 'Observation', query: `_tag=${RELEASED}&_lastUpdated=gt{since}&_sort=_lastUpdated` },
  { kind: 'offer', type: 'Task', query: `code=${taskCodes('earlier-time-offer')}&status=requested&_lastUpdated=gt{since}&_sort=_lastUpdated` },
  { kind: 'questionnaire', type: 'Task', query: `code=${taskCodes('complete-questionnaire')}&status=requested&_lastUpdated=gt{since}&_sort=_lastUpdated` },
  // A reply to a request: the clinic moved it on from "requested" (accepted, rejected, completed …).
  { kind: 'request-reply', type: 'Task', query: `code=${taskCodes(...REQUEST_CODES)}&status:not=requested&_lastUpdated=gt{since}&_sort=_lastUpdated` },
];

/** `_since` must be an instant with a time zone (as `_history?_since=`); anything else is 400. */
export function parseSince(value: unknown): string {
  if (typeof value !== 'string' || value === '') throw badRequest('$events-since needs _since, an instant such as 2026-11-01T00:00:00Z', '_since');
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value) || Number.isNaN(Date.parse(value))) {
    throw badRequest(`_since "${value}" is not an instant with a time zone (e.g. 2026-11-01T00:00:00Z)`, '_since');
  }
  return new Date(value).toISOString();
}

export interface EventOptions {
  fhirBase: string;
  /** Most events of one kind per patient (the page size limit of searches). */
  maxPerKind: number;
}

/**
 * The events of the patient `access` is confined to, as `Parameters.parameter.part`s: one part per
 * resource, named by its kind. Messages the acting person sent themself are not news to them.
 */
export async function eventsOf(q: Queryable, access: AccessContext, since: string, opts: EventOptions): Promise<ParametersParameter[]> {
  const parts: ParametersParameter[] = [];
  for (const s of EVENT_SEARCHES) {
    const query = s.query.replace('{since}', encodeURIComponent(since));
    const bundle: Bundle = await executeSearch(q, {
      resourceType: s.type,
      params: [...new URLSearchParams(`${query}&_count=${opts.maxPerKind}`)],
      access,
      fhirBase: opts.fhirBase,
      strict: true,
      defaultCount: opts.maxPerKind,
      maxCount: opts.maxPerKind,
    });
    for (const e of bundle.entry ?? []) {
      const r = e.resource as Resource | undefined;
      if (!r || e.search?.mode !== 'match') continue;
      if (s.kind === 'message' && access.actor && (r as Communication).sender?.reference === access.actor) continue;
      parts.push({ name: s.kind, resource: r });
    }
  }
  return parts;
}
