/**
 * Writes converted samples as ONE FHIR transaction: a conditional create per Observation
 * (`ifNoneExist: identifier=<system>|<value>`, so a re-push is idempotent), per Device and per
 * Provenance, with `urn:uuid:` references between them. The transaction response says what was new
 * (201) and what was already there (200). If the server refuses one entry, that sample is reported
 * rejected with the server's reason and the rest are written again without it: valid samples are
 * stored even when others are not, and nothing is dropped silently.
 */
import type { Bundle, BundleEntry, Identifier, Observation, Resource } from 'fhir/r4';
import type { AccessContext } from '../access/access-context.js';
import { withWriteLog } from '../audit/write-log.js';
import { FhirError, forbidden } from '../fhir/errors.js';
import { bridgeWriteAccess } from './bridge-access.js';
import { identifierQuery, SID } from './identity.js';
import { buildProvenance } from './resources.js';
import type { BridgeContext, ConvertedSample, DeviceEntry, ValidSample } from './sample.js';

/** The lead's transaction processor, bound to its repository (`processBundle` in fhir/bundle/transaction.ts). */
export type ProcessTransaction = (bundle: Bundle, access: AccessContext) => Promise<Bundle>;

export type OutcomeStatus = 'created' | 'updated' | 'already-present' | 'rejected';

export interface SampleOutcome {
  /** Position of the sample in the pushed array. */
  index: number;
  /** The platform's sample id (HealthKit UUID, Google Fit point key), when the sample had one. */
  id?: string;
  status: OutcomeStatus;
  reason?: string;
  /** `Observation/<id>` of the stored Observation (never its content: a bridge cannot read). */
  observation?: string;
  /** A decision taken while converting that the sender should know (e.g. how a `%` value was read). */
  note?: string;
  /** Health Connect: the record's position in `records`, and the sample's or stage's position inside it. */
  record?: number;
  part?: number;
}

/** Each retry removes at least one refused sample; a batch the server refuses wholesale is an error. */
const MAX_RETRIES = 20;

/** `logWith`: the request's decided access context, whose write log records the push (issue 10 §6). */
export async function storeSamples(processTransaction: ProcessTransaction, samples: ConvertedSample[], ctx: BridgeContext, actor: string | null, logWith?: AccessContext): Promise<SampleOutcome[]> {
  return onePushAtATime(ctx.patientId, () => storeNow(processTransaction, samples, ctx, actor, logWith));
}

/**
 * Pushes for one patient are written one at a time (in this process). Conditional create is
 * check-then-insert: two concurrent transactions for the same patient would each miss the other's
 * uncommitted Device and both create it, and every later push would then find two. Across server
 * processes the transaction processor has to serialise conditional creates itself.
 */
const pushQueues = new Map<string, Promise<unknown>>();

async function onePushAtATime<T>(patientId: string, fn: () => Promise<T>): Promise<T> {
  const previous = pushQueues.get(patientId) ?? Promise.resolve();
  const run = previous.then(fn);
  const settled = run.catch(() => undefined);
  pushQueues.set(patientId, settled);
  try {
    return await run;
  } finally {
    if (pushQueues.get(patientId) === settled) pushQueues.delete(patientId);
  }
}

async function storeNow(processTransaction: ProcessTransaction, samples: ConvertedSample[], ctx: BridgeContext, actor: string | null, logWith?: AccessContext): Promise<SampleOutcome[]> {
  const base = withWriteLog(bridgeWriteAccess(ctx.patientId, actor), logWith);
  const access = samples.some((s) => s.status === 'valid' && s.version) ? withVersionedUpdates(base) : base;
  const outcomes = new Map<number, SampleOutcome>();
  for (const s of samples) if (s.status === 'rejected') outcomes.set(s.index, { index: s.index, ...(s.id ? { id: s.id } : {}), ...where(s), status: 'rejected', reason: s.reason });

  let pending = samples.filter((s): s is ValidSample => s.status === 'valid');
  // Health Connect clientRecordVersion: a higher version replaces the stored Observation, the same or a lower one is already present.
  const stored = await storedVersions(processTransaction, pending, access);
  const updates = new Map<ValidSample, string>();
  pending = pending.filter((s) => {
    const existing = s.version && stored.get(s.version.identifier.value!);
    if (!existing) return true;
    if (s.version!.value > existing.version) {
      updates.set(s, existing.id);
      return true;
    }
    outcomes.set(s.index, { index: s.index, id: s.id, ...where(s), status: 'already-present', reason: `clientRecordVersion ${s.version!.value} is not newer than the stored version ${existing.version}`, observation: `Observation/${existing.id}` });
    return false;
  });
  for (let attempt = 0; pending.length > 0; attempt++) {
    const plan = planTransaction(pending, ctx, updates);
    try {
      const response = await processTransaction(plan.bundle, access);
      for (const [entryIndex, sample] of plan.sampleAt) outcomes.set(sample.index, outcomeOf(sample, response.entry?.[entryIndex], updates.has(sample)));
      break;
    } catch (err) {
      const refused = attempt < MAX_RETRIES ? refusedEntry(err, plan) : null;
      if (!refused) throw err;
      const status = (err as FhirError).status;
      const detail = (err as FhirError).issues.map((i) => i.diagnostics.replace(/^Bundle\.entry\[\d+\] \([^)]*\): /, '')).join('; ');
      for (const s of refused.samples) {
        // 412 on an Observation: its identifier already matches more than one stored Observation.
        outcomes.set(s.index, status === 412 && refused.kind === 'observation'
          ? { index: s.index, id: s.id, ...where(s), status: 'already-present', reason: `already stored more than once (${detail})` }
          : { index: s.index, id: s.id, ...where(s), status: 'rejected', reason: `not stored: ${detail}` });
      }
      pending = pending.filter((s) => !refused.samples.includes(s));
    }
  }

  // A repeat inside the push shares the fate of its first occurrence.
  for (const s of samples) {
    if (s.status !== 'duplicate') continue;
    const first = outcomes.get(s.of)!;
    outcomes.set(s.index, first.status === 'rejected'
      ? { index: s.index, id: s.id, ...where(s), status: 'rejected', reason: first.reason }
      : { index: s.index, id: s.id, ...where(s), status: 'already-present', reason: `same sample as sample ${s.of} of this push`, observation: first.observation });
  }
  return samples.map((s) => outcomes.get(s.index)!);
}

interface Plan {
  bundle: Bundle;
  /** Bundle entry index → the sample whose Observation it creates. */
  sampleAt: Map<number, ValidSample>;
  /** Bundle entry index → the samples that depend on that Device entry. */
  deviceAt: Map<number, ValidSample[]>;
}

export function planTransaction(samples: ValidSample[], ctx: BridgeContext, updates: ReadonlyMap<ValidSample, string> = new Map()): Plan {
  const entries: BundleEntry[] = [];
  const sampleAt = new Map<number, ValidSample>();
  const deviceAt = new Map<number, ValidSample[]>();
  const byDevice = new Map<string, { device: DeviceEntry; samples: ValidSample[] }>();
  for (const s of samples) {
    const group = byDevice.get(s.device.fullUrl) ?? { device: s.device, samples: [] };
    group.samples.push(s);
    byDevice.set(s.device.fullUrl, group);
  }
  for (const { device, samples: group } of byDevice.values()) {
    deviceAt.set(entries.length, group);
    entries.push(conditionalCreate(device.fullUrl, device.resource, device.identifier));
  }
  for (const s of samples) {
    sampleAt.set(entries.length, s);
    const id = updates.get(s);
    entries.push(id ? { fullUrl: s.observationFullUrl, resource: { ...s.observation, id }, request: { method: 'PUT', url: `Observation/${id}` } } : conditionalCreate(s.observationFullUrl, s.observation, s.observation.identifier![0]!));
  }
  for (const { device, samples: group } of byDevice.values()) {
    const provenance = buildProvenance(ctx, device, group.map((s) => ({ fullUrl: s.observationFullUrl, identifier: s.observation.identifier![0]! })));
    entries.push({
      fullUrl: provenance.fullUrl,
      resource: provenance.resource,
      request: { method: 'POST', url: 'Provenance', ifNoneExist: `entity:identifier=${provenance.identifier.system}|${provenance.identifier.value}` },
    });
  }
  return { bundle: { resourceType: 'Bundle', type: 'transaction', entry: entries }, sampleAt, deviceAt };
}

function conditionalCreate(fullUrl: string, resource: NonNullable<BundleEntry['resource']>, identifier: Identifier): BundleEntry {
  return { fullUrl, resource, request: { method: 'POST', url: resource.resourceType, ifNoneExist: identifierQuery(identifier.system!, identifier.value!) } };
}

function outcomeOf(sample: ValidSample, entry: BundleEntry | undefined, update: boolean): SampleOutcome {
  const status = entry?.response?.status ?? '';
  const kind: OutcomeStatus | null = status.startsWith('201') ? 'created' : status.startsWith('200') ? (update ? 'updated' : 'already-present') : null;
  // A transaction either answers every entry or fails as a whole; anything else is a server fault.
  if (kind === null) throw new Error(`Unexpected transaction response status "${status}" for sample ${sample.index}`);
  // Built in the order the outcome has always been written in (index, id, record, part, note, status, observation).
  const outcome: SampleOutcome = { index: sample.index, id: sample.id } as SampleOutcome;
  if (sample.record !== undefined) outcome.record = sample.record;
  if (sample.part !== undefined) outcome.part = sample.part;
  if (sample.note) outcome.note = sample.note;
  outcome.status = kind;
  outcome.observation = observationOf(entry?.response?.location ?? '');
  return outcome;
}

/** `Observation/<id>` from a response location (`Observation/<id>/_history/<v>`); undefined for anything else. */
function observationOf(location: string): string | undefined {
  if (!location.startsWith('Observation/')) return undefined;
  const end = location.indexOf('/', 'Observation/'.length);
  const found = end < 0 ? location : location.slice(0, end);
  return found.length > 'Observation/'.length ? found : undefined;
}

/**
 * The samples a refused transaction names (`Bundle.entry[n]` in the OperationOutcome): the sample of
 * an Observation entry, or every sample of a Device entry. A fault that names no sample is not the
 * client's, so it propagates (→ 500) rather than being blamed on a sample.
 */
function refusedEntry(err: unknown, plan: Plan): { kind: 'observation' | 'device'; samples: ValidSample[] } | null {
  if (!(err instanceof FhirError) || err.status >= 500) return null;
  const where = err.issues.flatMap((i) => i.expression ?? []).map((e) => /^Bundle\.entry\[(\d+)\]$/.exec(e)).find((m) => m);
  if (!where) return null;
  const index = Number(where[1]);
  const sample = plan.sampleAt.get(index);
  if (sample) return { kind: 'observation', samples: [sample] };
  const group = plan.deviceAt.get(index);
  return group ? { kind: 'device', samples: group } : null;
}

function where(s: { record?: number; part?: number }): { record?: number; part?: number } {
  return { ...(s.record !== undefined ? { record: s.record } : {}), ...(s.part !== undefined ? { part: s.part } : {}) };
}

/**
 * The bridge context creates only. A Health Connect record sent again with a higher
 * clientRecordVersion must replace its Observation, so for such pushes an update is allowed when it
 * is one: an Observation the bridge context would accept as a create (same patient, bridge
 * category), replacing an Observation of the same patient that carries the same client-record identifier.
 */
function withVersionedUpdates(base: AccessContext): AccessContext {
  return Object.freeze({
    ...base,
    checkWrite(interaction: Parameters<AccessContext['checkWrite']>[0], resource: Resource, previous: Resource | undefined) {
      if (interaction !== 'update' || resource.resourceType !== 'Observation') return base.checkWrite(interaction, resource, previous);
      const next = resource as Observation;
      const old = previous as Observation | undefined;
      const key = (o: Observation | undefined) => o?.identifier?.find((i) => i.system === SID.healthConnectClientRecord)?.value;
      if (!old || old.subject?.reference !== next.subject?.reference || !key(old) || key(old) !== key(next)) {
        throw forbidden('A device bridge only replaces its own Health Connect record with a newer clientRecordVersion');
      }
      return base.checkWrite('create', resource, undefined);
    },
  });
}

/** Stored Observations (id and clientRecordVersion) of the versioned samples, found by their client-record identifier. */
async function storedVersions(processTransaction: ProcessTransaction, samples: ValidSample[], access: AccessContext): Promise<Map<string, { id: string; version: number }>> {
  const keys = [...new Set(samples.flatMap((s) => (s.version ? [s.version.identifier.value!] : [])))];
  const found = new Map<string, { id: string; version: number }>();
  const CHUNK = 50;
  for (let i = 0; i < keys.length; i += CHUNK) {
    const chunk = keys.slice(i, i + CHUNK);
    const query = `identifier=${chunk.map((k) => `${SID.healthConnectClientRecord}|${k}`).join(',')}&_count=${CHUNK * 2}`;
    const response = await processTransaction({ resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'GET', url: `Observation?${query}` } }] }, access);
    const bundle = response.entry?.[0]?.resource as Bundle | undefined;
    for (const e of bundle?.entry ?? []) {
      const o = e.resource as Observation | undefined;
      const key = o?.identifier?.find((x) => x.system === SID.healthConnectClientRecord)?.value;
      if (!o?.id || !key) continue;
      const tagged = o.identifier?.find((x) => x.system === SID.healthConnectClientRecordVersion)?.value;
      const version = tagged?.startsWith(`${key}@`) ? Number(tagged.slice(key.length + 1)) : -1;
      found.set(key, { id: o.id, version });
    }
  }
  return found;
}
