/**
 * Batch and transaction Bundles at `POST [base]`. A transaction runs in one database transaction:
 * every entry succeeds or nothing is stored, and the error names the failing entry. A batch answers
 * every entry on its own. See: https://hl7.org/fhir/R4/http.html#transaction
 */
import { afterRollbackOf, withFollowUp } from '../repository/write-rules.js';
import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, Resource } from 'fhir/r4';
import type { AccessContext } from '../../access/access-context.js';
import { badRequest, FhirError, operationOutcome, preconditionFailed } from '../errors.js';
import type { Repository } from '../repository/repository.js';
import { findMatchingIds, findTokenMatches } from '../search/find-ids.js';
import { processingRank, parseBundleRequest, type ParsedEntry } from './entries.js';
import { executeEntry, type EntryContext } from './execute-entry.js';
import { isConditionalReference, rewriteReferences } from './references.js';

export interface BundleDeps {
  repo: Repository;
  fhirBase: string;
  defaultCount: number;
  maxCount: number;
}

export async function processBundle(deps: BundleDeps, body: unknown, access: AccessContext): Promise<Bundle> {
  const { type, entries } = parseBundleRequest(body);
  return type === 'transaction' ? processTransaction(deps, entries, access) : processBatch(deps, entries, access);
}

async function processBatch(deps: BundleDeps, entries: ParsedEntry[], access: AccessContext): Promise<Bundle> {
  const responses: BundleEntry[] = [];
  for (const entry of entries) {
    try {
      responses.push(await executeEntry({ ...deps, access, repo: deps.repo }, entry, entry.resource));
    } catch (err) {
      if (!(err instanceof FhirError)) throw err;
      responses.push({ response: { status: String(err.status), outcome: operationOutcome(err.issues.map((i) => ({ ...i, expression: [`Bundle.entry[${entry.index}]`, ...(i.expression ?? [])] }))) } });
    }
  }
  return { resourceType: 'Bundle', type: 'batch-response', entry: responses };
}

async function processTransaction(deps: BundleDeps, entries: ParsedEntry[], access: AccessContext): Promise<Bundle> {
  const duplicates = findDuplicateFullUrls(entries);
  if (duplicates) throw badRequest(`Bundle.entry[${duplicates}].fullUrl appears twice in the transaction`, `Bundle.entry[${duplicates}].fullUrl`);
  return deps.repo.transaction(async (repo) => {
    const ctx: EntryContext = { ...deps, repo, access };
    const idFor = new Map<string, string>(); // fullUrl → Type/id
    const preassigned = new Map<number, string>(); // entry index → id for POST
    const skipped = new Set<number>(); // conditional creates that matched

    // Conditional creates take the same advisory locks as a plain POST with If-None-Exist, all of
    // them before the first match query, so 50 identical Bundles at once create one resource
    // (issue 10 hole 7); the locks are held until this transaction commits.
    await repo.lockConditional(entries.filter((e) => e.method === 'POST' && e.ifNoneExist).map((e) => `${e.type}?${conditionQuery(e.ifNoneExist!)}`));

    // Conditions of the common `identifier=system|value` shape are looked up together, in one
    // statement per type and parameter; the others one by one below. No entry has been written yet,
    // so every lookup sees the same state either way.
    const conditional = entries.filter((e) => e.method === 'POST' && e.ifNoneExist);
    const batched = await findTokenMatches(repo.queryable, conditional.map((e) => ({ type: e.type, query: conditionQuery(e.ifNoneExist!) })), access, 2);
    const matchesOf = new Map(conditional.map((e, i) => [e.index, batched.get(i)]));

    // Ids first, so references resolve whatever order entries are processed in. An entry whose
    // step needs no statement is handled synchronously: a push of a thousand samples would otherwise
    // make thousands of promises here (issue 11, HealthKit push).
    for (const e of entries) {
      if (e.method === 'POST') {
        const ids = e.ifNoneExist ? (matchesOf.get(e.index) ?? (await withEntry(e, () => findMatchingIds(repo.queryable, e.type, conditionQuery(e.ifNoneExist!), access, 2)))) : null;
        withEntrySync(e, () => {
          if (ids) {
            if (ids.length > 1) throw preconditionFailed(`ifNoneExist matched ${ids.length} ${e.type} resources`);
            if (ids.length === 1) {
              skipped.add(e.index);
              preassigned.set(e.index, ids[0]!);
              if (e.fullUrl) idFor.set(e.fullUrl, `${e.type}/${ids[0]}`);
              return;
            }
          }
          const id = randomUUID();
          preassigned.set(e.index, id);
          if (e.fullUrl) idFor.set(e.fullUrl, `${e.type}/${id}`);
        });
      } else if (e.method === 'PUT' && e.fullUrl) {
        if (e.id) idFor.set(e.fullUrl, `${e.type}/${e.id}`);
        else if (e.query) {
          await withEntry(e, async () => {
            const ids = await findMatchingIds(repo.queryable, e.type, e.query!, access, 2);
            if (ids.length > 1) throw preconditionFailed(`Conditional update matched ${ids.length} ${e.type} resources`);
            const id = ids[0] ?? e.resource?.id ?? randomUUID();
            e.id = id;
            e.query = undefined;
            idFor.set(e.fullUrl!, `${e.type}/${id}`);
          });
        }
      }
    }

    // The rows the PUT entries write, locked together (one statement per type), so each PUT costs no
    // statement of its own and their new versions are stored together at commit (repository/prelock.ts).
    const puts = new Map<string, string[]>();
    for (const e of entries) if (e.method === 'PUT' && e.id) puts.set(e.type, [...(puts.get(e.type) ?? []), e.id]);
    for (const [type, ids] of [...puts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) await withTypeOf(entries, type, () => repo.prelock(type, ids, access));

    const resolveConditional = async (reference: string, where: string): Promise<string> => {
      const [type, query] = [reference.slice(0, reference.indexOf('?')), reference.slice(reference.indexOf('?') + 1)];
      const ids = await findMatchingIds(repo.queryable, type, query, access, 2);
      if (ids.length !== 1) throw preconditionFailed(`${where}: conditional reference "${reference}" matched ${ids.length} resources (needs exactly one)`);
      return `${type}/${ids[0]}`;
    };

    const prepared = new Map<number, Resource | undefined>();
    for (const e of entries) {
      if (!e.resource) continue;
      // One walk over the resource in the common case; a second only when it holds conditional references.
      const found: string[] = [];
      const rewritten = rewriteReferences(e.resource, (ref) => {
        const id = idFor.get(ref);
        if (id) return id;
        if (isConditionalReference(ref)) found.push(ref);
        return ref;
      });
      if (found.length === 0) {
        prepared.set(e.index, rewritten);
        continue;
      }
      await withEntry(e, async () => {
        const conditional = new Map<string, string>();
        for (const ref of found) if (!conditional.has(ref)) conditional.set(ref, await resolveConditional(ref, `Bundle.entry[${e.index}]`));
        prepared.set(
          e.index,
          rewriteReferences(e.resource!, (ref) => idFor.get(ref) ?? conditional.get(ref) ?? ref),
        );
      });
    }

    // The resources that matched conditional creates are read together, one statement per type, when
    // the first of them is answered: after every DELETE entry (processing order), as one read each was.
    const matched = new Map<string, Map<string, Resource>>();
    const matchedResource = async (type: string, id: string): Promise<Resource> => {
      if (!matched.has(type)) matched.set(type, await repo.readMany(type, entries.filter((x) => skipped.has(x.index) && x.type === type).map((x) => preassigned.get(x.index)!), access));
      // Absent only if an earlier entry of this transaction deleted it: read alone, which answers 404/410 as before.
      return matched.get(type)!.get(id) ?? repo.read(type, id, access);
    };

    const order = [...entries].sort((a, b) => processingRank(a.method) - processingRank(b.method) || a.index - b.index);
    const responses = new Array<BundleEntry>(entries.length);
    for (const e of order) {
      try {
        if (skipped.has(e.index)) {
          const existing = await matchedResource(e.type, preassigned.get(e.index)!);
          responses[e.index] = { fullUrl: `${deps.fhirBase}/${e.type}/${existing.id}`, resource: existing, response: { status: '200 OK', location: `${e.type}/${existing.id}/_history/${existing.meta?.versionId}`, etag: `W/"${existing.meta?.versionId}"`, lastModified: existing.meta?.lastUpdated } };
        } else {
          responses[e.index] = await executeEntry(ctx, e.ifNoneExist === undefined ? e : { ...e, ifNoneExist: undefined }, prepared.get(e.index), preassigned.get(e.index));
        }
      } catch (err) {
        throw named(e, err);
      }
    }
    return { resourceType: 'Bundle', type: 'transaction-response', entry: responses };
  });
}

/** Runs one entry's step; a failure names the entry, and the whole transaction rolls back. */
async function withEntry<T>(e: ParsedEntry, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw named(e, err);
  }
}

/** `withEntry` for a step that needs no statement. */
function withEntrySync<T>(e: ParsedEntry, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw named(e, err);
  }
}

/** A FhirError renamed to the entry it came from (its follow-up kept); any other error as it was. */
function named(e: ParsedEntry, err: unknown): unknown {
  if (!(err instanceof FhirError)) return err;
  const where = `Bundle.entry[${e.index}]`;
  const followUp = afterRollbackOf(err);
  const renamed = new FhirError(
    err.status,
    err.issues.map((i) => ({ ...i, diagnostics: `${where} (${e.method} ${e.url}): ${i.diagnostics}`, expression: [where, ...(i.expression ?? [])] })),
  );
  return followUp ? withFollowUp(renamed, followUp) : renamed;
}

/** A prelock's failure (an unknown type) names the first entry of that type, as the entry itself would have. */
async function withTypeOf(entries: ParsedEntry[], type: string, fn: () => Promise<void>): Promise<void> {
  const first = entries.find((e) => e.method === 'PUT' && e.type === type);
  return first ? withEntry(first, fn) : fn();
}

/** `ifNoneExist` may repeat the type (`Observation?identifier=…`); the condition is the query. */
export function conditionQuery(ifNoneExist: string): string {
  return ifNoneExist.replace(/^[A-Za-z]+\?/, '');
}

function findDuplicateFullUrls(entries: ParsedEntry[]): number | null {
  const seen = new Set<string>();
  for (const e of entries) {
    if (!e.fullUrl || !e.fullUrl.startsWith('urn:')) continue;
    if (seen.has(e.fullUrl)) return e.index;
    seen.add(e.fullUrl);
  }
  return null;
}
