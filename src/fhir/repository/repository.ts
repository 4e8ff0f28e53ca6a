/**
 * The only path to stored resources. Reads AND in the request's access filters (compiled to SQL by
 * the search engine, so a hidden resource is indistinguishable from a missing one); writes are
 * validated, checked against the same access context, and stored with their history row and
 * search index rows in one database transaction.
 */
import { randomUUID } from 'node:crypto';
import type { Resource } from 'fhir/r4';
import type { AccessContext } from '../../access/access-context.js';
import { isUniqueViolation, type Db, type Queryable } from '../../db/db.js';
import { badRequest, FhirError, forbidden, gone, notFound, preconditionFailed, unprocessable } from '../errors.js';
import { isResourceType } from '../definitions/registry.js';
import { findMatchingIds } from '../search/find-ids.js';
import { validateResource } from '../validation/validate.js';
import { insertVersions } from './bulk-insert.js';
import { Prelocked } from './prelock.js';
import { storeTombstones } from './tombstone.js';
import { UnitOfWork, type CommitProbe } from './unit-of-work.js';
import { readVersion, readVersionStored } from './history.js';
import { applyJsonPatch } from './json-patch.js';
import { ID_PATTERN, readMany, readStored, visibleRow } from './reads.js';
import { RESOURCE_COLUMNS, resourceFromRow, withServerMeta, type ResourceRow } from './rows.js';
import type { StoredResource } from './stored.js';
import { afterRollbackOf, type WriteChange, type WriteRule } from './write-rules.js';

export interface WriteResult<T extends Resource = Resource> {
  resource: T;
  /** true when a new resource (or a new life after deletion) was created → 201. */
  created: boolean;
  /** false when a conditional create matched an existing resource and nothing was written. */
  written: boolean;
}

export interface UpdateOptions {
  /** `If-Match` version; a different current version → 412. */
  ifMatch?: string;
}

/** What the store holds, counted for operators (backup/restore progress, issue 17); not access-filtered, never served. */
export interface Census {
  resources: number;
  versions: number;
  auditEvents: number;
}

export const CENSUS_SQL = `SELECT (SELECT count(*) FROM resources)::int AS resources, (SELECT count(*) FROM resource_history)::int AS versions,
  (SELECT count(*) FROM access_log)::int AS "auditEvents"`;


export interface RepositoryOptions {
  /** Business rules run on every write inside its transaction (write-rules.ts). */
  rules?: readonly WriteRule[];
  /** Set when this repository is bound to an open transaction (batch/transaction bundles): a unit of work. */
  tx?: Queryable | null;
}

/** Work that runs before commit only when its probe, answered by the commit's own statement, is true (unit-of-work.ts). */
interface ProbedWork {
  probe: CommitProbe;
  work: (tx: Repository) => Promise<void>;
}

export class Repository {
  private readonly tx: Queryable | null;
  /** The transaction's unit of work: versions and before-commit inserts wait in it for one statement (unit-of-work.ts). */
  private readonly unit: UnitOfWork | null;
  private readonly rules: readonly WriteRule[];

  constructor(
    private readonly db: Db,
    opts: RepositoryOptions = {},
  ) {
    this.tx = opts.tx ?? null;
    this.unit = this.tx instanceof UnitOfWork ? this.tx : null;
    this.rules = opts.rules ?? [];
  }

  get kind(): Db['kind'] {
    return this.db.kind;
  }

  /**
   * Queryable for reads and writes: the database, or in a transaction its unit of work, which first
   * stores the buffered writes, so whatever a rule, a lookup or a later entry reads sees every earlier write.
   */
  get queryable(): Queryable {
    return this.tx ?? this.db;
  }

  /** Work registered during a transaction to run just before it commits (e.g. the access log of its writes). */
  private readonly beforeCommitWork = new Map<object, (tx: Repository) => Promise<void>>();
  private readonly probedWork = new Map<object, ProbedWork>();

  /**
   * Runs `fn` with a repository whose every operation shares one database transaction. The
   * transaction begins with the first statement that needs it; a write that needs none before its
   * commit is stored by one statement that commits by itself (unit-of-work.ts). Either way the result
   * is returned only once the commit is acknowledged.
   */
  async transaction<T>(fn: (repo: Repository) => Promise<T>): Promise<T> {
    if (this.tx) return fn(this);
    const unit = new UnitOfWork(this.db);
    const repo = new Repository(this.db, { tx: unit, rules: this.rules });
    try {
      const result = await fn(repo);
      unit.deferInserts = true;
      for (const work of repo.beforeCommitWork.values()) await work(repo);
      // The probes are settled at least once (settling stores the buffered writes); probed work
      // registered by probed work (none today) is asked about in a further round.
      const asked = new Set<object>();
      const unasked = () => [...repo.probedWork].filter(([key]) => !asked.has(key) && !repo.beforeCommitWork.has(key));
      let round = unasked();
      do {
        round.forEach(([key]) => asked.add(key));
        const answers = await unit.settle(round.map(([, p]) => p.probe));
        for (let i = 0; i < round.length; i++) if (answers[i]) await round[i]![1].work(repo);
        round = unasked();
      } while (round.length > 0);
      await unit.commit();
      return result;
    } catch (err) {
      await unit.rollback(err);
      // A rule's refusal may carry what must hold even though the write rolled back (a lost offer is
      // cancelled: write-rules.ts afterRollbackOf); it runs in a transaction of its own, then the refusal stands.
      const followUp = afterRollbackOf(err);
      if (followUp) await this.transaction(followUp);
      throw err;
    }
  }

  /**
   * The current version of a resource, its row locked until this transaction ends (SELECT … FOR
   * UPDATE), so a rule can check and change it without a concurrent writer in between.
   */
  async lockForUpdate<T extends Resource = Resource>(type: string, id: string, opts: { skipLocked?: boolean } = {}): Promise<T | undefined> {
    if (!this.tx) throw new Error('lockForUpdate needs an open transaction');
    assertType(type);
    if (!ID_PATTERN.test(id)) return undefined;
    // SKIP LOCKED: a row another transaction is writing is passed over instead of waited for.
    const row = opts.skipLocked
      ? (await this.queryable.query<ResourceRow & Record<string, unknown>>(`SELECT ${RESOURCE_COLUMNS} FROM resources r WHERE r.resource_type = $1 AND r.id = $2 FOR UPDATE SKIP LOCKED`, [type, id]))[0]
      : await this.lockCurrent(type, id);
    return row && !row.deleted ? resourceFromRow<T>(row) : undefined;
  }

  /**
   * Registers (once per key) work that runs inside the current transaction just before it commits,
   * so it commits or rolls back with the writes it describes.
   */
  beforeCommit(key: object, work: (tx: Repository) => Promise<void>): void {
    if (!this.tx) throw new Error('beforeCommit needs an open transaction');
    if (!this.beforeCommitWork.has(key)) this.beforeCommitWork.set(key, work);
  }

  /**
   * Like beforeCommit, but the work runs only if `probe` is true when the transaction commits; the
   * commit's own statement answers it, so when it is false the work costs no statement at all. The
   * same key registered with beforeCommit as well runs unconditionally.
   */
  beforeCommitIf(key: object, probe: CommitProbe, work: (tx: Repository) => Promise<void>): void {
    if (!this.tx) throw new Error('beforeCommitIf needs an open transaction');
    if (!this.probedWork.has(key)) this.probedWork.set(key, { probe, work });
  }

  async read<T extends Resource = Resource>(type: string, id: string, access: AccessContext): Promise<T> {
    const row = await this.visibleRow(type, id, access);
    if (!row) throw notFound(`${type}/${id} is not known`);
    if (row.deleted) throw gone(`${type}/${id} was deleted`);
    return resourceFromRow<T>(row);
  }

  /** Many reads of one type in one statement (reads.ts): ids unknown, hidden or deleted are absent. */
  async readMany<T extends Resource = Resource>(type: string, ids: readonly string[], access: AccessContext): Promise<Map<string, T>> {
    assertType(type);
    return readMany<T>(this.queryable, type, ids, access);
  }

  /** A read answered with the stored text, carrying the grant check when the context has one (reads.ts). */
  async readStored(type: string, id: string, access: AccessContext): Promise<StoredResource> {
    assertType(type);
    return readStored(this.queryable, type, id, access);
  }

  /** The current row (deleted or not) if it exists and the access context may see it (reads.ts). */
  async visibleRow(type: string, id: string, access: AccessContext): Promise<ResourceRow | undefined> {
    assertType(type);
    return visibleRow(this.queryable, type, id, access);
  }

  /** `vread` answered with the stored text (stored.ts). */
  async vreadStored(type: string, id: string, versionId: string, access: AccessContext): Promise<StoredResource> {
    assertType(type);
    if (!ID_PATTERN.test(id)) throw notFound(`${type}/${id} is not known`);
    return readVersionStored(this.queryable, type, id, versionId, access);
  }

  /** One version, if the caller could see it had it been current (access-spec §5.1, history.ts). */
  async vread<T extends Resource = Resource>(type: string, id: string, versionId: string, access: AccessContext): Promise<T> {
    assertType(type);
    if (!ID_PATTERN.test(id)) throw notFound(`${type}/${id} is not known`);
    return readVersion<T>(this.queryable, type, id, versionId, access);
  }

  /**
   * Create with a server-assigned id. `id` lets a transaction pre-assign the id it already used to
   * resolve `urn:uuid:` references; it is never taken from the client's resource.
   */
  async create<T extends Resource>(resource: T, access: AccessContext, opts: { ifNoneExist?: string; id?: string } = {}): Promise<WriteResult<T>> {
    return this.transaction(async (repo) => {
      const type = resource.resourceType;
      assertType(type);
      if (opts.ifNoneExist !== undefined) {
        await repo.lockConditional([`${type}?${opts.ifNoneExist}`]);
        const matches = await findMatchingIds(repo.queryable, type, opts.ifNoneExist, access, 2);
        if (matches.length > 1) throw preconditionFailed(`If-None-Exist "${opts.ifNoneExist}" matched ${matches.length} ${type} resources`);
        if (matches.length === 1) return { resource: await repo.read<T>(type, matches[0]!, access), created: false, written: false };
      }
      const stored = await repo.insertNew({ ...resource, id: opts.id ?? randomUUID() }, access, 'POST');
      return { resource: stored, created: true, written: true };
    });
  }

  /** PUT: update, or create with the client's id (update-as-create). */
  async update<T extends Resource>(resource: T, access: AccessContext, opts: UpdateOptions = {}): Promise<WriteResult<T>> {
    const type = resource.resourceType;
    assertType(type);
    const id = resource.id;
    if (!id || !ID_PATTERN.test(id)) throw badRequest('Resource id must be 1–64 characters of A-Z, a-z, 0-9, "-" and "."', `${type}.id`);
    return this.transaction(async (repo) => {
      const current = await repo.lockCurrent(type, id);
      if (opts.ifMatch !== undefined && String(current?.version_id ?? '') !== opts.ifMatch) {
        throw preconditionFailed(`If-Match version ${opts.ifMatch} does not match the current version ${current?.version_id ?? '(none)'} of ${type}/${id}`);
      }
      if (!current) {
        try {
          return { resource: await repo.insertNew(resource, access, 'PUT'), created: true, written: true };
        } catch (err) {
          // Two clients creating the same id at once: the loser is told to retry, nothing is lost.
          if (isUniqueViolation(err)) throw new FhirError(409, { code: 'conflict', diagnostics: `${type}/${id} was created concurrently; retry the request` });
          throw err;
        }
      }
      const previous = current.deleted ? undefined : resourceFromRow(current);
      // Writing over a resource the caller may not see is refused, not answered with "not found",
      // because 404 to a PUT would imply the caller may create it (access-spec §4.7).
      if (!(await repo.visibleForWrite(type, id, access))) throw forbidden(`Not allowed to update ${type}/${id}`);
      const stored = await repo.insertVersion(resource, previous, Number(current.version_id), access, 'PUT');
      return { resource: stored, created: current.deleted, written: true };
    });
  }

  /** JSON Patch (RFC 6902) applied to the current version, stored as a new version. */
  async patch<T extends Resource = Resource>(type: string, id: string, operations: unknown, access: AccessContext, opts: UpdateOptions = {}): Promise<T> {
    assertType(type);
    return this.transaction(async (repo) => {
      const current = await repo.lockCurrent(type, id);
      if (!current || !(await repo.visibleForWrite(type, id, access))) throw notFound(`${type}/${id} is not known`);
      if (current.deleted) throw gone(`${type}/${id} was deleted`);
      if (opts.ifMatch !== undefined && String(current.version_id) !== opts.ifMatch) {
        throw preconditionFailed(`If-Match version ${opts.ifMatch} does not match the current version ${current.version_id} of ${type}/${id}`);
      }
      const previous = resourceFromRow(current);
      const patched = applyJsonPatch(previous, operations) as T;
      if (patched.resourceType !== type || patched.id !== id) throw unprocessable({ code: 'invalid', diagnostics: 'A patch must not change resourceType or id', expression: [`${type}.id`] });
      return repo.insertVersion(patched, previous, Number(current.version_id), access, 'PATCH');
    });
  }

  async delete(type: string, id: string, access: AccessContext, opts: UpdateOptions = {}): Promise<{ deleted: boolean; versionId?: number }> {
    assertType(type);
    return this.transaction(async (repo) => {
      const current = await repo.lockCurrent(type, id);
      if (!current || !(await repo.visibleForWrite(type, id, access))) throw notFound(`${type}/${id} is not known`);
      if (opts.ifMatch !== undefined && String(current.version_id) !== opts.ifMatch) {
        throw preconditionFailed(`If-Match version ${opts.ifMatch} does not match the current version ${current.version_id} of ${type}/${id}`);
      }
      if (current.deleted) return { deleted: false, versionId: Number(current.version_id) };
      const previous = resourceFromRow(current);
      await access.checkWrite('delete', previous, previous);
      await repo.applyRules({ interaction: 'delete', resource: previous, previous, access });
      const versionId = Number(current.version_id) + 1;
      // The row is locked by this transaction: its deletion waits for the next flush (tombstone.ts),
      // usually the statement that stores the access log just before COMMIT.
      const tombstone = { type, id, versionId, lastUpdated: new Date().toISOString(), deletedSeq: Number(current.seq) };
      if (repo.unit) repo.unit.addTombstone(tombstone);
      else await storeTombstones(repo.queryable, [tombstone]);
      await access.recordWrite?.(repo, 'delete', previous);
      return { deleted: true, versionId };
    });
  }

  /**
   * Stores resources the server itself generated (the access log, provenance of proxy writes):
   * validated like any write, but without access checks or conditional logic, and all of them in
   * three statements however many there are, because every read of patient data writes some.
   */
  async createServerGenerated(resources: readonly Resource[]): Promise<void> {
    if (resources.length === 0) return;
    await this.transaction(async (repo) => {
      const now = new Date().toISOString();
      const prepared = resources.map((r) => prepareForWrite({ ...r, id: randomUUID() }, 1, now));
      prepared.forEach(assertInvariants);
      if (repo.unit) for (const resource of prepared) repo.unit.add({ resource, method: 'POST' });
      else await insertVersions(repo.queryable, prepared.map((resource) => ({ resource, method: 'POST' })));
    });
  }

  /** The current version of a resource for writing; the row lock serialises concurrent writers. */
  private async lockCurrent(type: string, id: string): Promise<ResourceRow | undefined> {
    const prelocked = this.prelocked.take(type, id);
    this.visibility = prelocked ? { type, id, ...prelocked } : null;
    if (prelocked) return prelocked.row;
    const rows = await this.queryable.query<ResourceRow & Record<string, unknown>>(
      `SELECT ${RESOURCE_COLUMNS} FROM resources r WHERE r.resource_type = $1 AND r.id = $2 FOR UPDATE`,
      [type, id],
    );
    return rows[0];
  }

  /** Rows locked ahead of the writes of this transaction (prelock.ts). */
  private readonly prelocked = new Prelocked();
  /** What the prelock said about the row lockCurrent just took, for the visibility check that follows it. */
  private visibility: { type: string; id: string; visible: boolean; access: AccessContext } | null = null;

  /**
   * Locks the current rows of `ids` now, in one statement, for writes later in this transaction (a
   * transaction Bundle's PUT entries): each of those writes then costs no statement before the commit.
   */
  async prelock(type: string, ids: readonly string[], access: AccessContext): Promise<void> {
    if (!this.tx) throw new Error('prelock needs an open transaction');
    assertType(type);
    await this.prelocked.lock(this.queryable, type, ids, access);
  }

  /** Whether `access` may see the row lockCurrent just locked (from the prelock when it came from there). */
  private async visibleForWrite(type: string, id: string, access: AccessContext): Promise<boolean> {
    const v = this.visibility;
    this.visibility = null;
    if (v && v.type === type && v.id === id && v.access === access) return v.visible;
    return (await this.visibleRow(type, id, access)) !== undefined;
  }

  /**
   * Serialises conditional creates with the same condition across connections (PostgreSQL; PGlite
   * has one connection). Must run inside the transaction, before the match query: the lock is held
   * until commit, and under READ COMMITTED the match after it sees what the previous holder
   * committed. Keys (`Type?query`) are locked in sorted order so two transactions locking several
   * conditions cannot deadlock each other.
   */
  async lockConditional(keys: readonly string[]): Promise<void> {
    if (this.kind !== 'postgres' || keys.length === 0) return;
    if (!this.tx) throw new Error('lockConditional needs an open transaction');
    const sorted = [...new Set(keys)].sort();
    await this.queryable.query('SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest($1::text[]) AS k ORDER BY 1) s', [sorted]);
  }

  private async applyRules(change: WriteChange): Promise<void> {
    for (const rule of this.rules) await rule(change, this);
  }

  private async insertNew<T extends Resource>(resource: T, access: AccessContext, method: string): Promise<T> {
    const prepared = prepareForWrite(resource, 1);
    await access.checkWrite('create', prepared, undefined);
    await this.applyRules({ interaction: 'create', resource: prepared, previous: undefined, access });
    assertInvariants(prepared);
    if (this.unit) {
      // A server-assigned id cannot collide, so the row can wait for the next flush (one statement
      // for the whole transaction); a client-chosen id (PUT) is stored now, where a concurrent
      // create of the same id is answered 409 (update above).
      this.unit.add({ resource: prepared, method });
      if (method !== 'POST') await this.unit.flushNow();
    } else {
      await insertVersions(this.queryable, [{ resource: prepared, method }]);
    }
    await access.recordWrite?.(this, 'create', prepared);
    return prepared;
  }

  private async insertVersion<T extends Resource>(resource: T, previous: Resource | undefined, currentVersion: number, access: AccessContext, method: string): Promise<T> {
    const versionId = currentVersion + 1;
    const prepared = prepareForWrite(resource, versionId);
    await access.checkWrite(previous ? 'update' : 'create', prepared, previous);
    await this.applyRules({ interaction: previous ? (method === 'PATCH' ? 'patch' : 'update') : 'create', resource: prepared, previous, access });
    assertInvariants(prepared);
    // The row is locked by this transaction (lockCurrent), so the new version can wait for the next
    // flush: a transaction Bundle's updates are stored together, by one statement (bulk-insert.ts).
    // The previous version keeps its index rows for vread/_history.
    const version = { resource: prepared, method, update: true };
    if (this.unit) this.unit.add(version);
    else await insertVersions(this.queryable, [version]);
    await access.recordWrite?.(this, previous ? 'update' : 'create', prepared);
    return prepared;
  }
}

/** Validates and stamps the server-owned meta; throws 422 with every problem found. */
const isError = (i: { severity?: string }) => (i.severity ?? 'error') === 'error' || i.severity === 'fatal';

/**
 * Validates and stamps the server-owned meta; throws 422 with every problem found. Invariant
 * failures alone are held back (`recheck`): write rules fill in what the server owns (a booking
 * copies the slot's start and end, app-3), so invariants are judged again on the resource as it will
 * be stored (`assertInvariants`, after the rules). Structural errors stop the write here.
 */
function prepareForWrite<T extends Resource>(resource: T, versionId: number, lastUpdated = new Date().toISOString()): T {
  const errors = validateResource(resource).filter(isError);
  if (errors.some((i) => i.code !== 'invariant')) throw unprocessable(errors);
  const prepared = withServerMeta(resource, versionId, lastUpdated);
  if (errors.length > 0) invariantsToRecheck.add(prepared);
  return prepared;
}

const invariantsToRecheck = new WeakSet<Resource>();

function assertInvariants(resource: Resource): void {
  if (!invariantsToRecheck.has(resource)) return;
  invariantsToRecheck.delete(resource);
  const errors = validateResource(resource).filter(isError);
  if (errors.length > 0) throw unprocessable(errors);
}

function assertType(type: string): void {
  if (!isResourceType(type)) throw notFound(`Unknown resource type "${type}"`);
}
