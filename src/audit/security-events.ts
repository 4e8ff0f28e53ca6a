/**
 * Security events (issue 10 hole 6; S23 "who has accessed your journal"): login ok/failed, token
 * issued, refresh, authorization-code replay, refresh-token reuse, revocation, logout and app grants
 * created/revoked. Each is one structured JSON log line (no fødselsnummer, no token, no secret:
 * identifiers are hashed) and, where one patient is concerned, an AuditEvent in that patient's
 * access log: type DICOM 110114 "User Authentication" for authentication events, 110113
 * "Security Alert" for replays, reuse and grant changes, the app named by its registered name in
 * `agent.who.display`. AuditEvents are stored only through the access log's `record` API.
 */
import { createHash } from 'node:crypto';
import type { AuditEvent, AuditEventAgent, Coding } from 'fhir/r4';
import type { Logger } from '../log.js';

export type SecurityEventKind =
  | 'login'
  | 'login-failed'
  | 'token-issued'
  | 'refresh'
  | 'refresh-refused'
  | 'code-replay'
  | 'refresh-token-reuse'
  | 'revocation'
  | 'logout'
  | 'grant-created'
  | 'grant-revoked';

export interface SecurityEventFacts {
  kind: SecurityEventKind;
  /** The SMART client (app) involved. */
  clientId?: string | null;
  /** The one patient concerned (the token's patient, or the person who logged in): gets an AuditEvent. */
  patientId?: string | null;
  /** Who acted as a FHIR reference (`Patient/…`, `RelatedPerson/…`, `Practitioner/…`). */
  actor?: string | null;
  grantId?: string | null;
  /** A short fixed reason (never input echoed back). */
  reason?: string;
}

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
// R4 binds AuditEvent.type to audit-event-type (only `rest`) plus the DICOM codes, which live in DCM.
const EVENT_TYPE = DCM;
export const SECURITY_EVENT_SYSTEM = 'https://fhir.helsebro.no/CodeSystem/security-event';

const USER_AUTHENTICATION: Coding = { system: EVENT_TYPE, code: '110114', display: 'User Authentication' };
const SECURITY_ALERT: Coding = { system: EVENT_TYPE, code: '110113', display: 'Security Alert' };

const FAILURES = new Set<SecurityEventKind>(['login-failed', 'refresh-refused', 'code-replay', 'refresh-token-reuse']);
const ALERTS = new Set<SecurityEventKind>(['code-replay', 'refresh-token-reuse', 'grant-created', 'grant-revoked']);

/** DICOM subtypes where one fits; every event also carries our own code. */
function subtypes(kind: SecurityEventKind): Coding[] {
  const own: Coding = { system: SECURITY_EVENT_SYSTEM, code: kind };
  if (kind === 'login' || kind === 'login-failed') return [{ system: DCM, code: '110122', display: 'Login' }, own];
  if (kind === 'logout' || kind === 'revocation') return [{ system: DCM, code: '110123', display: 'Logout' }, own];
  if (kind === 'grant-created' || kind === 'grant-revoked') return [{ system: DCM, code: '110136', display: 'Security Roles Changed' }, own];
  return [own];
}

/** A pseudonym for a log line: the same id gives the same value, the value gives nothing back. */
export function pseudonym(value: string): string {
  return createHash('sha256').update(`helsebro-security-log:${value}`).digest('hex').slice(0, 16);
}

/** The log line's fields: no fødselsnummer, no token, no secret; identifiers hashed. */
export function securityLogFields(f: SecurityEventFacts): Record<string, unknown> {
  return {
    event: f.kind,
    outcome: FAILURES.has(f.kind) ? 'failure' : 'success',
    ...(f.clientId ? { client: f.clientId } : {}),
    ...(f.patientId ? { patient: pseudonym(f.patientId) } : {}),
    ...(f.actor ? { actor: pseudonym(f.actor) } : {}),
    ...(f.grantId ? { grant: pseudonym(f.grantId) } : {}),
    ...(f.reason ? { reason: f.reason } : {}),
  };
}

/** The AuditEvent for the patient concerned (null when no single patient is). */
export function securityAuditEvent(f: SecurityEventFacts, clientName: string | null, now = new Date(), policy: string | null = null): AuditEvent | null {
  if (!f.patientId) return null;
  const agents: AuditEventAgent[] = [
    {
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'AUT', display: 'author (originator)' }] },
      requestor: true,
      who: f.actor ? { reference: f.actor } : { display: 'unknown user' },
      // A proxy acts through a grant: name it, as the access log does (access-spec §3.3).
      ...(policy ? { policy: [policy] } : {}),
    },
  ];
  if (f.clientId) {
    agents.push({
      type: { coding: [{ system: DCM, code: '110150', display: 'Application' }] },
      requestor: false,
      who: { identifier: { system: 'https://fhir.helsebro.no/sid/client-id', value: f.clientId }, display: clientName ?? f.clientId },
    });
  }
  return {
    resourceType: 'AuditEvent',
    type: ALERTS.has(f.kind) ? SECURITY_ALERT : USER_AUTHENTICATION,
    subtype: subtypes(f.kind),
    action: 'E',
    recorded: now.toISOString(),
    outcome: FAILURES.has(f.kind) ? '4' : '0',
    ...(f.reason ? { outcomeDesc: f.reason } : {}),
    agent: agents,
    source: { observer: { display: 'helsebro' }, type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }] },
    entity: [
      {
        what: { reference: `Patient/${f.patientId}` },
        type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1', display: 'Person' },
        role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' },
      },
    ],
  };
}

export interface SecurityEventsDeps {
  logger: Logger;
  /** The access log (src/audit/access-log.ts); only its `record` API is used. */
  accessLog: { record(events: AuditEvent[]): Promise<void> };
  /** The registered name of a client, for `agent.who.display`. */
  clientName: (clientId: string) => Promise<string | null>;
  /** The grant (`Consent/…`) a RelatedPerson acts through, for `agent.policy`. */
  grantOf?: (actor: string) => Promise<string | null>;
}

export class SecurityEvents {
  constructor(private readonly deps: SecurityEventsDeps) {}

  /**
   * Logs the event and stores its AuditEvent. A failure to store is logged, not thrown: the event
   * line is already written, and refusing a logout or revocation because the log is slow would
   * keep a session alive that the person wanted ended.
   */
  async record(f: SecurityEventFacts): Promise<void> {
    const fields = securityLogFields(f);
    if (FAILURES.has(f.kind)) this.deps.logger.warn('security event', fields);
    else this.deps.logger.info('security event', fields);
    if (!f.patientId) return;
    try {
      const name = f.clientId ? await this.deps.clientName(f.clientId) : null;
      const policy = f.actor?.startsWith('RelatedPerson/') && this.deps.grantOf ? await this.deps.grantOf(f.actor) : null;
      const event = securityAuditEvent(f, name, new Date(), policy);
      if (event) await this.deps.accessLog.record([event]);
    } catch (err) {
      this.deps.logger.error('security event not stored', { event: f.kind, error: (err as Error).message });
    }
  }
}
