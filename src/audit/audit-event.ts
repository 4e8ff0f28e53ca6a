/**
 * The citizen's access log: one AuditEvent per patient whose data an interaction touched (seed S23:
 * "who has accessed your journal … relatives … and healthcare personnel"). One event never names two
 * patients, so a patient reading their log never learns about anybody else.
 * See: https://hl7.org/fhir/R4/auditevent.html and access-spec §3.3.
 */
import type { AuditEvent, AuditEventAgent, AuditEventEntity } from 'fhir/r4';

export type RestInteraction = 'read' | 'vread' | 'search' | 'history' | 'create' | 'update' | 'patch' | 'delete' | 'operation';

export interface AuditFacts {
  interaction: RestInteraction;
  /** Patient whose data was touched. */
  patientId: string;
  /** Who acted: `Patient/…`, `RelatedPerson/…`, `Practitioner/…`, or `Device/…` for a system client. */
  who: string | null;
  /** The SMART client (app) the actor used. */
  clientId: string | null;
  /** The proxy grant (Consent) the actor acted through, when not acting for themself. */
  grant?: string | null;
  /** Resources touched (`Type/id`), at most a handful are listed. */
  resources: string[];
  /** Search or history query as sent, for searches. */
  query?: string;
  outcome: 'success' | 'failure';
  recorded: string;
}

const ACTION: Record<RestInteraction, AuditEvent['action']> = {
  read: 'R', vread: 'R', search: 'E', history: 'R', create: 'C', update: 'U', patch: 'U', delete: 'D', operation: 'E',
};

export const MAX_ENTITIES = 100;

export function buildAuditEvent(f: AuditFacts): AuditEvent {
  const agent: AuditEventAgent = {
    type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'AUT', display: 'author (originator)' }] },
    requestor: true,
    ...(f.who ? { who: { reference: f.who } } : { who: { display: 'system' } }),
    ...(f.grant ? { policy: [f.grant] } : {}),
  };
  const agents: AuditEventAgent[] = [agent];
  if (f.clientId) agents.push({ requestor: false, who: { identifier: { system: 'https://fhir.helsebro.no/sid/client-id', value: f.clientId }, display: f.clientId }, type: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110150', display: 'Application' }] } });
  const entities: AuditEventEntity[] = [
    { what: { reference: `Patient/${f.patientId}` }, type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1', display: 'Person' }, role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' } },
    ...f.resources.filter((r) => r !== `Patient/${f.patientId}`).slice(0, MAX_ENTITIES).map((r) => ({ what: { reference: r }, type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' } })),
  ];
  if (f.query) entities.push({ type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2' }, query: Buffer.from(f.query).toString('base64'), description: 'search query' });
  return {
    resourceType: 'AuditEvent',
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'Restful Operation' },
    subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: f.interaction === 'search' ? 'search-type' : f.interaction === 'history' ? 'history-instance' : f.interaction }],
    action: ACTION[f.interaction],
    recorded: f.recorded,
    outcome: f.outcome === 'success' ? '0' : '4',
    agent: agents,
    source: { observer: { display: 'helsebro' } },
    entity: entities,
  };
}
