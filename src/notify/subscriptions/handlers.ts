/**
 * The worker's handlers for Subscription rows: `subscription-check` moves a requested Subscription
 * to `active` (its endpoint resolves to allowed addresses) or `error` with the reason; `rest-hook`
 * sends one notification. A refused endpoint is a standing problem, not a passing one: the
 * Subscription goes to `error` and the row is not retried. A failed send is retried by the worker
 * with backoff, the Subscription showing `error` until a send succeeds again.
 */
import type { Bundle, Subscription } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../access/access-context.js';
import { FhirError } from '../../fhir/errors.js';
import type { Repository } from '../../fhir/repository/repository.js';
import type { Logger } from '../../log.js';
import type { OutboxKind, OutboxRow } from '../outbox-store.js';
import type { OutboxHandler } from '../worker.js';
import { DEFAULT_LIMITS, postNotification } from './rest-hook.js';
import { EndpointRefused, resolveEndpoint, type Lookup } from './ssrf.js';
import { channelHeaders } from './subscription-rule.js';

export interface SubscriptionDeps {
  repo: Repository;
  logger: Logger;
  production: boolean;
  fhirBase: string;
  timeoutMs?: number;
  maxResponseBytes?: number;
  lookup?: Lookup;
}

/** Sets the status (and error) of the version we read; a newer version written meanwhile wins (If-Match). */
async function setStatus(repo: Repository, sub: Subscription, status: Subscription['status'], error?: string): Promise<void> {
  if (sub.status === status && sub.error === error) return;
  const next: Subscription = { ...sub, status };
  if (error) next.error = error.slice(0, 500);
  else delete next.error;
  try {
    await repo.update(next, SYSTEM_ACCESS, { ifMatch: sub.meta?.versionId ?? '' });
  } catch (err) {
    if (!(err instanceof FhirError && err.status === 412)) throw err;
  }
}

const METHOD = { create: 'POST', update: 'PUT', delete: 'DELETE' } as const;
/** The interaction a rest-hook row records (older rows carry none: an update). */
export function interactionOf(value: unknown): keyof typeof METHOD {
  return value === 'create' || value === 'delete' ? value : 'update';
}

/**
 * The notification body: none for id-only (R4: payload absent ⇒ no body), else a history Bundle of
 * ids. A deletion is an entry with `request.method` DELETE and no resource, as in a FHIR history.
 */
export function notificationBody(sub: Subscription, focus: string, interaction: string, fhirBase: string): string | null {
  if (!sub.channel?.payload) return null;
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'history',
    timestamp: new Date().toISOString(),
    entry: [{ fullUrl: `${fhirBase}/${focus}`, request: { method: METHOD[interactionOf(interaction)], url: focus } }],
  };
  return JSON.stringify(bundle);
}

export function subscriptionHandlers(d: SubscriptionDeps): Partial<Record<OutboxKind, OutboxHandler>> {
  const mode = { production: d.production };
  const limits = { timeoutMs: d.timeoutMs ?? DEFAULT_LIMITS.timeoutMs, maxResponseBytes: d.maxResponseBytes ?? DEFAULT_LIMITS.maxResponseBytes };
  const load = (row: OutboxRow) => (typeof row.payload.subscription === 'string' ? d.repo.read<Subscription>('Subscription', row.payload.subscription, SYSTEM_ACCESS).catch(() => null) : Promise.resolve(null));

  return {
    'subscription-check': async (row) => {
      const sub = await load(row);
      if (!sub || sub.status !== 'requested') return;
      try {
        await resolveEndpoint(sub.channel.endpoint ?? '', mode, d.lookup);
        await setStatus(d.repo, sub, 'active');
      } catch (err) {
        if (!(err instanceof EndpointRefused)) throw err;
        d.logger.warn('subscription endpoint refused', { subscription: sub.id, reason: err.message });
        await setStatus(d.repo, sub, 'error', `Endpoint refused: ${err.message}`);
      }
    },
    'rest-hook': async (row) => {
      const sub = await load(row);
      if (!sub || (sub.status !== 'active' && sub.status !== 'error')) return; // switched off or gone: nothing to send
      const focus = String(row.payload.focus);
      let target;
      try {
        target = await resolveEndpoint(sub.channel.endpoint ?? '', mode, d.lookup);
      } catch (err) {
        if (!(err instanceof EndpointRefused)) throw err;
        await setStatus(d.repo, sub, 'error', `Endpoint refused: ${err.message}`);
        return;
      }
      const interaction = interactionOf(row.payload.interaction);
      const body = notificationBody(sub, focus, interaction, d.fhirBase);
      const headers: Record<string, string> = {
        ...channelHeaders(sub),
        'x-helsebro-subscription': `Subscription/${sub.id}`,
        'x-helsebro-resource': focus,
        'x-helsebro-interaction': interaction,
        'x-helsebro-event-id': row.id,
        ...(body !== null ? { 'content-type': 'application/fhir+json' } : {}),
      };
      try {
        await postNotification(target, headers, body, limits);
      } catch (err) {
        await setStatus(d.repo, sub, 'error', (err as Error).message).catch(() => undefined);
        throw err;
      }
      if (sub.status === 'error') await setStatus(d.repo, sub, 'active');
    },
  };
}
