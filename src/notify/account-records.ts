/**
 * The citizen's account records as FHIR `Basic` (issue 14; README Decisions): notification
 * preferences, portal settings, and in-app notifications, each a Basic whose `code` comes from
 * CodeSystem account-record and whose `subject` is the Patient. Who may read and write them is the
 * access policy's (policy.ts rows 29–31; first-party portal only, src/auth/policy.ts); this module
 * holds their shape rules and reads preferences for the delivery worker.
 */
import type { Basic, Extension, Resource } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../access/access-context.js';
import { canonical } from '../access/same-value.js';
import type { Repository } from '../fhir/repository/repository.js';
import type { WriteRule } from '../fhir/repository/write-rules.js';
import { businessRule, forbidden } from '../fhir/errors.js';
import { findMatchingIds } from '../fhir/search/find-ids.js';
import { ACCOUNT_RECORD, CHANNEL_SYSTEM, EVENT_SYSTEM, EXT, isChannel, isEvent, RECORD_KINDS, type Channel, type EventKind, type RecordKind } from './codes.js';

export type Preferences = ReadonlyMap<EventKind, readonly Channel[]>;

/** An event the citizen has not chosen for goes to the portal only: nothing leaves the service unasked. */
export const DEFAULT_CHANNELS: readonly Channel[] = ['in-app'];

export function recordKindOf(r: Resource | undefined): RecordKind | null {
  if (r?.resourceType !== 'Basic') return null;
  const code = (r as Basic).code?.coding?.find((c) => c.system === ACCOUNT_RECORD)?.code;
  return (RECORD_KINDS as readonly (string | undefined)[]).includes(code) ? (code as RecordKind) : null;
}

/** The channels per event a preferences record states; throws 422 naming the first wrong element. */
export function parsePreferences(basic: Basic): Preferences {
  const out = new Map<EventKind, Channel[]>();
  (basic.extension ?? []).forEach((ext, i) => {
    const at = `Basic.extension[${i}]`;
    if (ext.url !== EXT.preference) throw businessRule(`Notification preferences hold only ${EXT.preference} extensions`, at);
    let event: EventKind | null = null;
    const channels: Channel[] = [];
    (ext.extension ?? []).forEach((sub: Extension, j) => {
      const code = sub.valueCoding?.code;
      if (sub.url === 'event' && sub.valueCoding?.system === EVENT_SYSTEM && isEvent(code) && event === null) event = code;
      else if (sub.url === 'channel' && sub.valueCoding?.system === CHANNEL_SYSTEM && isChannel(code)) {
        if (!channels.includes(code)) channels.push(code);
      } else throw businessRule('A notification preference has one "event" (CodeSystem notification-event) and any number of "channel" (CodeSystem notification-channel) sub-extensions, as valueCoding', `${at}.extension[${j}]`);
    });
    if (event === null) throw businessRule('A notification preference names its event (sub-extension "event")', at);
    if (out.has(event)) throw businessRule(`The event "${event}" is listed twice`, at);
    out.set(event, channels);
  });
  return out;
}

export function channelsFor(prefs: Preferences | null, event: EventKind): readonly Channel[] {
  return prefs?.get(event) ?? DEFAULT_CHANNELS;
}

const MAX_SHORTCUTS = 50;

function checkPortalSettings(basic: Basic): void {
  const exts = basic.extension ?? [];
  if (exts.length > MAX_SHORTCUTS) throw businessRule(`At most ${MAX_SHORTCUTS} portal shortcuts`, 'Basic.extension');
  exts.forEach((ext, i) => {
    const ok = ext.url === EXT.shortcut && typeof ext.valueString === 'string' && /^\/[\w\-./?=&%]{0,199}$/.test(ext.valueString);
    if (!ok) throw businessRule('Portal settings hold portal-shortcut extensions whose value is a portal path such as /meldinger', `Basic.extension[${i}]`);
  });
}

/** A notification as the patient side may change it: everything but the read mark stays as the server wrote it. */
function withoutReadMark(r: Resource): string {
  const { meta: _meta, extension, ...rest } = r as Basic;
  // Key order differs between a stored record and the client's copy of it: compare canonically.
  return canonical({ ...rest, extension: (extension ?? []).filter((e) => e.url !== EXT.read) });
}

/**
 * Shape rules of the account records, on every write whoever writes: a Patient subject, the kind
 * (code) fixed for the record's life, valid preferences and shortcuts; on the patient side a
 * notification changes only by being marked read (the server wrote it; access-spec §5.2).
 */
export const accountRecordRule: WriteRule = async (change) => {
  if (change.interaction === 'delete') return;
  const kind = recordKindOf(change.resource);
  const before = recordKindOf(change.previous);
  if (kind === null && before === null) return;
  if (change.previous && kind !== before) throw businessRule('An account record keeps its kind (Basic.code) for its whole life', 'Basic.code');
  const basic = change.resource as Basic;
  if (!/^Patient\/[A-Za-z0-9\-.]{1,64}$/.test(basic.subject?.reference ?? '')) throw businessRule('An account record belongs to a Patient (Basic.subject = Patient/…)', 'Basic.subject');
  if (change.previous && (change.previous as Basic).subject?.reference !== basic.subject?.reference) throw businessRule('An account record stays with its Patient', 'Basic.subject');
  if (kind === 'notification-preferences') parsePreferences(basic);
  if (kind === 'portal-settings') checkPortalSettings(basic);
  if (kind === 'notification' && change.access.side === 'patient' && change.previous && withoutReadMark(basic) !== withoutReadMark(change.previous)) {
    throw forbidden('A notification is the server’s; the patient side may only mark it read (extension notification-read)');
  }
};

/** The patient's preferences as stored (the latest record if several), or null for the defaults. */
export async function loadPreferences(repo: Repository, patientId: string): Promise<Preferences | null> {
  const ids = await findMatchingIds(repo.queryable, 'Basic', `code=${ACCOUNT_RECORD}|notification-preferences&subject=Patient/${patientId}`, SYSTEM_ACCESS, 20);
  let latest: Basic | null = null;
  for (const id of ids) {
    const b = await repo.read<Basic>('Basic', id, SYSTEM_ACCESS).catch(() => null);
    if (b && (!latest || (b.meta?.lastUpdated ?? '') > (latest.meta?.lastUpdated ?? ''))) latest = b;
  }
  if (!latest) return null;
  try {
    return parsePreferences(latest);
  } catch {
    return null; // stored before a rule change: the defaults are the safe reading
  }
}
