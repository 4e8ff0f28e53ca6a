/**
 * The citizen's access log (S23 "who has accessed your journal"): every FHIR response that shows
 * patient data is recorded as AuditEvents (one per patient touched, audit-event.ts) *before* the
 * response leaves the server; if the log cannot be written the data is not shown (500).
 *
 * Writes are group-committed: requests arriving while a batch is being written join the next batch,
 * so under load one database transaction records many accesses and an idle request waits for one.
 */
import type { AuditEvent, Bundle, Resource } from 'fhir/r4';
import type { Repository } from '../fhir/repository/repository.js';
import { patientCompartmentsOf } from '../fhir/search/compartments.js';
import type { Logger } from '../log.js';
import { buildAuditEvent, type RestInteraction } from './audit-event.js';

interface Pending {
  events: AuditEvent[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class AccessLog {
  private pending: Pending[] = [];
  private running = false;
  private drained: Promise<void> = Promise.resolve();

  constructor(
    private readonly repo: Repository,
    private readonly logger: Logger,
  ) {}

  /** Resolves once the events are durably stored. */
  record(events: AuditEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.pending.push({ events, resolve, reject });
      if (!this.running) this.drained = this.drain();
    });
  }

  /** Resolves once every event recorded so far is stored or has failed (graceful shutdown, issue 17). */
  async flush(): Promise<void> {
    await this.drained;
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0);
        try {
          await this.repo.createServerGenerated(batch.flatMap((p) => p.events));
          batch.forEach((p) => p.resolve());
        } catch (err) {
          this.logger.error('access log write failed', { error: (err as Error).message, events: batch.reduce((n, p) => n + p.events.length, 0) });
          batch.forEach((p) => p.reject(err));
        }
      }
    } finally {
      this.running = false;
    }
  }
}

export interface AccessFacts {
  interaction: RestInteraction;
  who: string | null;
  clientId: string | null;
  grant: string | null;
  query?: string;
  /** The token's patient, logged even when a search found nothing of theirs. */
  contextPatientId: string | null;
}

/** The resources a FHIR response body shows (a resource, or the entries of a Bundle). */
export function shownResources(body: unknown): Resource[] {
  if (!body || typeof body !== 'object') return [];
  const r = body as Resource;
  if (r.resourceType === 'Bundle') return ((r as Bundle).entry ?? []).flatMap((e) => (e.resource && e.resource.resourceType !== 'OperationOutcome' ? [e.resource] : []));
  if (r.resourceType === 'OperationOutcome') return [];
  return [r];
}

/**
 * One AuditEvent per patient whose data the response shows. Reading the log itself is not logged
 * again, or every look at the log would grow it.
 */
export function accessEvents(facts: AccessFacts, shown: readonly Resource[], now = new Date()): AuditEvent[] {
  const byPatient = new Map<string, string[]>();
  for (const r of shown) {
    if (r.resourceType === 'AuditEvent') continue;
    for (const pid of patientCompartmentsOf(r)) {
      const list = byPatient.get(pid) ?? [];
      list.push(`${r.resourceType}/${r.id}`);
      byPatient.set(pid, list);
    }
  }
  const onlyLog = shown.length > 0 && shown.every((r) => r.resourceType === 'AuditEvent');
  if (facts.contextPatientId && !byPatient.has(facts.contextPatientId) && !onlyLog && facts.interaction === 'search') byPatient.set(facts.contextPatientId, []);
  return [...byPatient].map(([patientId, resources]) =>
    buildAuditEvent({
      interaction: facts.interaction,
      patientId,
      who: facts.who,
      clientId: facts.clientId,
      grant: facts.grant,
      resources,
      ...(facts.query ? { query: facts.query } : {}),
      outcome: 'success',
      recorded: now.toISOString(),
    }),
  );
}
