/**
 * The citizen's access log as rows and as FHIR: one `access_log` row per patient whose data an
 * interaction touched (seed S23: "who has accessed your journal … relatives … and healthcare
 * personnel"), and the one function that shows a row as an AuditEvent. One row never names two
 * patients, so a patient reading their log never learns about anybody else.
 * See: https://hl7.org/fhir/R4/auditevent.html and access-spec §3.3.
 */
import type { AuditEvent, AuditEventAgent, AuditEventEntity, Coding } from 'fhir/r4';
import type { Actor } from '../access/policy.js';

export type RestInteraction =
  | 'read' | 'vread' | 'search' | 'history' | 'create' | 'update' | 'patch' | 'delete' | 'operation' | 'batch' | 'transaction';

/** How the actor stands to the patient (access-spec §0.2); proxies also carry their level. */
export type ActingRelation = 'self' | 'proxy' | 'parent' | 'clinician' | 'system';

export type AuditAction = 'C' | 'R' | 'U' | 'D' | 'E';
/** AuditEvent.outcome: 0 success, 4 minor failure, 8 serious failure, 12 major failure. */
export type AuditOutcome = '0' | '4' | '8' | '12';

/** One row of `access_log` as the application writes it (migration 007). */
export interface AccessLogRow {
  recorded: string;
  /** Whose data (null only for migrated events that concerned no patient). */
  patientId: string | null;
  /** Who acted: `Patient/…`, `RelatedPerson/…`, `Practitioner/…`; null for a system client. */
  actor: string | null;
  relation: ActingRelation;
  /** The proxy level (standard, read, communicate, full) for a proxy. */
  level: string | null;
  clientId: string | null;
  /** The app's registered `client_name`, which the citizen recognises (issue 10 §6). */
  clientName: string | null;
  /** `rest`, or `system|code` of another AuditEvent.type (security events). */
  event: string;
  /** A RestInteraction for `rest` events, else `system|code` of the subtype. */
  interaction: string;
  action: AuditAction;
  /** References of what was shown or written. */
  shown: string[];
  /** The search query or operation as asked. */
  query: string | null;
  outcome: AuditOutcome;
  /** The proxy grant (Consent) the actor acted through. */
  grant: string | null;
  /** AuditEvent.outcomeDesc. */
  detail: string | null;
}

/** A stored row: the row plus its identity. */
export interface StoredAccessLogRow extends AccessLogRow {
  id: string;
  seq: number;
}

export const CS_ACTING_RELATION = 'https://fhir.helsebro.no/CodeSystem/acting-relation';
export const CS_PROXY_LEVEL = 'https://fhir.helsebro.no/CodeSystem/proxy-level';
export const CLIENT_ID_SYSTEM = 'https://fhir.helsebro.no/sid/client-id';
const RESTFUL = 'http://hl7.org/fhir/restful-interaction';
const REST_TYPE: Coding = { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'Restful Operation' };
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';

const ACTION: Record<RestInteraction, AuditAction> = {
  read: 'R', vread: 'R', search: 'E', history: 'R', create: 'C', update: 'U', patch: 'U', delete: 'D', operation: 'E', batch: 'E', transaction: 'E',
};
const SUBTYPE: Partial<Record<RestInteraction, string>> = { search: 'search-type', history: 'history-instance' };

export function actionOf(interaction: RestInteraction): AuditAction {
  return ACTION[interaction];
}

/** The acting relation and level of an access-engine actor. */
export function relationOf(actor: Actor): { relation: ActingRelation; level: string | null } {
  switch (actor) {
    case 'self': case 'parent': case 'clinician': case 'system':
      return { relation: actor, level: null };
    default:
      return { relation: 'proxy', level: actor };
  }
}

function coding(systemCode: string): Coding {
  const i = systemCode.lastIndexOf('|');
  return i < 0 ? { code: systemCode } : { ...(i > 0 ? { system: systemCode.slice(0, i) } : {}), code: systemCode.slice(i + 1) };
}

/** The one place a log row becomes an AuditEvent (read, search and every test see this shape). */
export function auditEventFromRow(row: StoredAccessLogRow): AuditEvent {
  const role: Coding[] = [{ system: CS_ACTING_RELATION, code: row.relation }];
  if (row.level) role.push({ system: CS_PROXY_LEVEL, code: row.level });
  const agent: AuditEventAgent = {
    type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'AUT', display: 'author (originator)' }] },
    role: [{ coding: role }],
    requestor: true,
    who: row.actor ? { reference: row.actor } : { display: 'system' },
    ...(row.grant ? { policy: [row.grant] } : {}),
  };
  const agents: AuditEventAgent[] = [agent];
  if (row.clientId) {
    agents.push({
      type: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110150', display: 'Application' }] },
      requestor: false,
      who: { identifier: { system: CLIENT_ID_SYSTEM, value: row.clientId }, display: row.clientName ?? row.clientId },
    });
  }
  const patientRef = row.patientId ? `Patient/${row.patientId}` : null;
  const entities: AuditEventEntity[] = [];
  if (patientRef) entities.push({ what: { reference: patientRef }, type: { system: ENTITY_TYPE, code: '1', display: 'Person' }, role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' } });
  for (const ref of row.shown) if (ref !== patientRef) entities.push({ what: { reference: ref }, type: { system: ENTITY_TYPE, code: '2', display: 'System Object' } });
  if (row.query) entities.push({ type: { system: ENTITY_TYPE, code: '2' }, query: Buffer.from(row.query).toString('base64'), description: row.interaction === 'operation' ? 'operation' : 'search query' });
  const rest = row.event === 'rest';
  const interaction = row.interaction as RestInteraction;
  return {
    resourceType: 'AuditEvent',
    id: row.id,
    meta: { versionId: '1', lastUpdated: row.recorded },
    type: rest ? REST_TYPE : coding(row.event),
    // Other events may carry several subtypes (a DICOM code and ours), stored space-separated.
    subtype: rest ? [{ system: RESTFUL, code: SUBTYPE[interaction] ?? interaction }] : row.interaction.split(' ').map(coding),
    action: row.action,
    recorded: row.recorded,
    outcome: row.outcome,
    ...(row.detail ? { outcomeDesc: row.detail } : {}),
    agent: agents,
    source: { observer: { display: 'helsebro' } },
    ...(entities.length > 0 ? { entity: entities } : {}),
  };
}

/**
 * An AuditEvent built elsewhere (security events) as a row, so `AccessLog.record(events)` keeps
 * working: the requestor agent is the actor, the client agent gives client id and name, the
 * Patient entity (or a Patient agent) the patient, the other entities what was shown.
 */
export function rowsFromAuditEvent(e: AuditEvent, now = new Date()): AccessLogRow[] {
  const requestor = e.agent?.find((a) => a.requestor) ?? e.agent?.[0];
  const client = e.agent?.find((a) => a.who?.identifier?.system === CLIENT_ID_SYSTEM);
  const actor = requestor?.who?.reference ?? null;
  const refs = (e.entity ?? []).map((x) => x.what?.reference).filter((r): r is string => typeof r === 'string');
  const patientEntities = (e.entity ?? []).filter((x) => x.role?.code === '1' && x.what?.reference?.startsWith('Patient/')).map((x) => x.what!.reference!.slice('Patient/'.length));
  const patients = patientEntities.length > 0 ? patientEntities
    : refs.filter((r) => r.startsWith('Patient/')).map((r) => r.slice('Patient/'.length));
  if (patients.length === 0 && actor?.startsWith('Patient/')) patients.push(actor.slice('Patient/'.length));
  const roles = (requestor?.role ?? []).flatMap((r) => r.coding ?? []);
  const level = roles.find((c) => c.system === CS_PROXY_LEVEL)?.code ?? null;
  const isRest = e.type?.code === 'rest';
  const sub = e.subtype?.[0];
  const restCode = sub?.system === RESTFUL || !sub ? (sub?.code ?? 'operation').replace(/^search-.*/, 'search').replace(/^history-.*/, 'history') : null;
  const query = (e.entity ?? []).find((x) => x.query)?.query;
  return [...new Set(patients.length > 0 ? patients : [null as string | null])].map((patientId) => ({
    recorded: e.recorded ?? now.toISOString(),
    patientId,
    actor,
    relation: (roles.find((c) => c.system === CS_ACTING_RELATION)?.code as ActingRelation | undefined) ?? guessRelation(actor, patientId, requestor?.policy?.[0] ?? null),
    level,
    clientId: client?.who?.identifier?.value ?? null,
    clientName: client?.who?.display ?? null,
    event: isRest ? 'rest' : `${e.type?.system ?? ''}|${e.type?.code ?? ''}`,
    interaction: isRest && restCode ? restCode : sub ? (e.subtype ?? []).map((c) => `${c.system ?? ''}|${c.code ?? ''}`).join(' ') : 'operation',
    action: (e.action ?? 'E') as AuditAction,
    shown: refs.filter((r) => r !== `Patient/${patientId}`),
    query: query ? Buffer.from(query, 'base64').toString('utf8') : null,
    outcome: (e.outcome ?? '0') as AuditOutcome,
    grant: requestor?.policy?.[0] ?? null,
    detail: e.outcomeDesc ?? null,
  }));
}

function guessRelation(actor: string | null, patientId: string | null, grant: string | null): ActingRelation {
  if (!actor) return 'system';
  if (patientId && actor === `Patient/${patientId}`) return 'self';
  if (actor.startsWith('RelatedPerson/')) return grant ? 'proxy' : 'parent';
  if (actor.startsWith('Practitioner')) return 'clinician';
  return actor.startsWith('Patient/') ? 'proxy' : 'system';
}
