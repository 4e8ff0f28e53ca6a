/**
 * FHIR R4 Subscriptions for system clients (issue 14; subscription.html): the rules a Subscription
 * write must pass, and the matching of every other change against the active Subscriptions, both
 * inside the write's transaction so a matched change and its outbox row commit together.
 * - Only backend clients (`system/` scopes) subscribe: a clinician's or the patient side's write → 403.
 * - `channel.type` rest-hook only; `criteria` a search URL the server can evaluate; `payload` absent
 *   (id-only: no body) or application/fhir+json (a Bundle of ids, never content); the endpoint passes
 *   the SSRF rules that can be judged from the URL (ssrf.ts) → 422 otherwise.
 * - A client's write puts the Subscription in `requested`; the worker resolves the endpoint and sets
 *   `active` or `error` with the reason (handlers.ts). The server's own status updates pass as written.
 */
import type { Resource, Subscription } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../access/access-context.js';
import { businessRule, FhirError, forbidden } from '../../fhir/errors.js';
import type { Repository } from '../../fhir/repository/repository.js';
import type { CommitProbe } from '../../fhir/repository/unit-of-work.js';
import type { WriteRule } from '../../fhir/repository/write-rules.js';
import { findMatchingIds } from '../../fhir/search/find-ids.js';
import { restHookWatchCondition, restHookWatched } from '../../fhir/search/subscription-watch.js';
import { enqueue } from '../outbox-store.js';
import { parseCriteria, queryForOne } from './criteria.js';
import { endpointVerdict, type EndpointMode } from './ssrf.js';

const PAYLOADS = ['application/fhir+json', 'application/json'];
/** Headers the client may not set: the delivery owns them. */
const RESERVED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'content-type', 'user-agent']);
const HEADER = /^([A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}):[ \t]*([^\r\n]{0,2000})$/;

/** The client's channel headers as a record (validated on write, so parsing here cannot fail open). */
export function channelHeaders(sub: Subscription): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of sub.channel?.header ?? []) {
    const m = HEADER.exec(h);
    if (m && !RESERVED_HEADERS.has(m[1]!.toLowerCase()) && !m[1]!.toLowerCase().startsWith('x-helsebro-')) out[m[1]!] = m[2]!;
  }
  return out;
}

const key = (s: Subscription) => JSON.stringify([s.criteria, s.channel?.type, s.channel?.endpoint, s.channel?.payload ?? null, s.channel?.header ?? []]);

async function checkSubscription(sub: Subscription, previous: Subscription | undefined, serverItself: boolean, mode: EndpointMode, tx: Repository): Promise<void> {
  if (serverItself) return; // the worker's status updates
  if (sub.channel?.type !== 'rest-hook') throw businessRule('Only rest-hook Subscriptions are supported (channel.type = rest-hook)', 'Subscription.channel.type');
  const criteria = parseCriteria(sub.criteria);
  if (!criteria) throw businessRule(`criteria "${sub.criteria ?? ''}" is not a search URL such as Observation?patient=Patient/123`, 'Subscription.criteria');
  if (criteria.type === 'Subscription') throw businessRule('A Subscription cannot watch Subscriptions', 'Subscription.criteria');
  try {
    await findMatchingIds(tx.queryable, criteria.type, queryForOne(criteria, 'x'), SYSTEM_ACCESS, 1);
  } catch (err) {
    if (err instanceof FhirError) throw businessRule(`criteria cannot be evaluated: ${err.message}`, 'Subscription.criteria');
    throw err;
  }
  const endpoint = sub.channel.endpoint ?? '';
  const verdict = endpointVerdict(endpoint, mode);
  if (!verdict.ok) throw businessRule(`channel.endpoint refused: ${verdict.reason}`, 'Subscription.channel.endpoint');
  if (sub.channel.payload !== undefined && !PAYLOADS.includes(sub.channel.payload)) {
    throw businessRule('channel.payload is absent (id-only notifications, no body) or application/fhir+json (a Bundle of ids)', 'Subscription.channel.payload');
  }
  (sub.channel.header ?? []).forEach((h, i) => {
    const m = HEADER.exec(h);
    if (!m || RESERVED_HEADERS.has(m[1]!.toLowerCase()) || m[1]!.toLowerCase().startsWith('x-helsebro-')) {
      throw businessRule(`channel.header "${h.slice(0, 80)}" is not "Name: value", or names a header the delivery sets itself`, `Subscription.channel.header[${i}]`);
    }
  });
  // R4: the client asks (requested); the server decides (active/error). Switching off is the client's.
  if (sub.status === 'off') return;
  const unchangedActive = previous?.status === 'active' && sub.status === 'active' && key(previous) === key(sub);
  if (unchangedActive) return;
  sub.status = 'requested';
  delete sub.error;
  await enqueue(tx.queryable, 'subscription-check', { subscription: sub.id });
}

/** Changes waiting for the Subscription match of their transaction, by transaction. */
const PENDING = new WeakMap<Repository, Map<string, string>>();
/** Transactions that write a Subscription: their changes are matched without the probe below. */
const WRITES_SUBSCRIPTIONS = new WeakSet<Repository>();
const MATCH_KEY = {};

/**
 * "Could an active rest-hook Subscription watch one of these types?" — asked by the commit's own
 * statement (repository.ts beforeCommitIf), so a write no Subscription watches costs no search
 * (issue 11 "create"). A superset of what matchChanges looks for: `criteria` is `Type` or `Type?…`
 * (criteria.ts), so its part before the first `?` is the type whenever parseCriteria finds one. It
 * reads committed Subscriptions in the statement's snapshot, as the search it stands in for did — one
 * created by another process a moment before is seen (test/notify/subscription-probe.test.ts).
 * A Subscription written in the same transaction would not be (a statement does not see its own
 * inserts): such transactions match without the probe.
 */
function watchedTypes(pending: Map<string, string>): CommitProbe {
  const types = () => [...new Set([...pending.keys()].map((ref) => ref.slice(0, ref.indexOf('/'))))].sort();
  return {
    get hint() {
      return `rest-hook:${types().join(',')}`;
    },
    sql(params) {
      return restHookWatchCondition(types(), params);
    },
  };
}

async function matchPending(tx: Repository): Promise<void> {
  const pending = PENDING.get(tx);
  PENDING.delete(tx);
  if (pending) await matchChanges(tx, pending);
}

/** Enqueues a rest-hook row for every active Subscription whose criteria match one of the changes. */
async function matchChanges(tx: Repository, changes: Map<string, string>): Promise<void> {
  if (changes.size === 0) return;
  const ids = await findMatchingIds(tx.queryable, 'Subscription', 'status=active,error&type=rest-hook', SYSTEM_ACCESS, 10_000);
  if (ids.length === 0) return;
  // One after another: a transaction is one connection, which runs one statement at a time.
  for (const id of ids) {
    const sub = await tx.read<Subscription>('Subscription', id, SYSTEM_ACCESS).catch(() => null);
    if (!sub) continue;
    const c = parseCriteria(sub.criteria);
    if (!c) continue;
    for (const [ref, interaction] of changes) {
      const [type, id] = ref.split('/') as [string, string];
      if (type !== c.type) continue;
      const hit = (await findMatchingIds(tx.queryable, type, queryForOne(c, id), SYSTEM_ACCESS, 1)).length > 0;
      if (hit) await enqueue(tx.queryable, 'rest-hook', { subscription: sub.id, focus: ref, interaction });
    }
  }
}

/** The rule, for src/server.ts writeRules(); `mode` decides whether loopback endpoints are accepted. */
export function subscriptionRule(mode: EndpointMode): WriteRule {
  return async (change, tx) => {
    const r: Resource = change.resource;
    if (r.resourceType === 'Subscription') {
      if (change.access.side !== 'system') throw forbidden('Subscriptions are for backend clients (system/ scopes)');
      if (change.interaction !== 'delete') await checkSubscription(r as Subscription, change.previous as Subscription | undefined, change.access.actor === null, mode, tx);
      WRITES_SUBSCRIPTIONS.add(tx);
      if (PENDING.has(tx)) tx.beforeCommit(MATCH_KEY, matchPending);
      return;
    }
    const ref = `${r.resourceType}/${r.id}`;
    if (change.interaction === 'delete') {
      // A deletion is matched now, while the version being deleted is still the current one the search
      // engine sees: a Subscription that matched the resource hears that it is gone (README "Decisions").
      // Asked first by the cheap watch condition creates and updates use at commit: a deletion of a
      // type no active rest-hook Subscription names runs no Subscription search (issue 11).
      PENDING.get(tx)?.delete(ref);
      if (await restHookWatched(tx.queryable, [r.resourceType])) await matchChanges(tx, new Map([[ref, 'delete']]));
      return;
    }
    let pending = PENDING.get(tx);
    if (!pending) PENDING.set(tx, (pending = new Map()));
    pending.set(ref, change.interaction === 'create' ? 'create' : 'update');
    if (WRITES_SUBSCRIPTIONS.has(tx)) tx.beforeCommit(MATCH_KEY, matchPending);
    else tx.beforeCommitIf(MATCH_KEY, watchedTypes(pending), matchPending);
  };
}
