/**
 * The database side of one repository transaction (issue 11 "create"): a plain `POST [type]` used to
 * cost BEGIN, the insert, a Subscription search, the access-log insert and COMMIT — five round trips
 * for one resource. Here:
 * - The transaction is begun lazily, by the first statement that needs it (a read, a lock, a rule's
 *   lookup). Versions are buffered (`add`) and stored by one statement (bulk-insert.ts) before the
 *   next statement or at commit; plain INSERTs issued by before-commit work (the access log, outbox
 *   rows) are deferred and joined to that statement as CTEs.
 * - Questions asked at commit (`CommitProbe`: "does an active Subscription watch these types?") are
 *   answered by the same statement, so work that only matters when the answer is yes costs nothing
 *   otherwise.
 * - A write that needed no statement before its commit and whose probes are expected to be false is
 *   ONE statement without BEGIN/COMMIT: atomic by itself, and acknowledged only once PostgreSQL has
 *   committed it (synchronous_commit=on, pg.ts). Its probes become a guard (`write_guard`, migration
 *   012): if one is true after all (a Subscription created by another process a moment ago), the
 *   statement fails as a whole, nothing is stored, and the same writes go through a transaction in
 *   which the probes are answered and their work done. The answers only steer which path is tried
 *   first (per-process hints); correctness never depends on them.
 */
import type { Db, Queryable, QueryOptions, Row } from '../../db/db.js';
import { drawSeqs, versionCtes, type NewVersion } from './bulk-insert.js';
import { tombstoneCtes, type Tombstone } from './tombstone.js';

/** A yes/no question answered at commit, in the commit's own statement. */
export interface CommitProbe {
  /** A boolean SQL expression; binds its values into `params`. */
  sql(params: unknown[]): string;
  /** What it asks, as a key for the per-process hint of its last answer. */
  readonly hint: string;
}

/** The SQLSTATE `write_guard` raises (migration 012). */
export const WRITE_GUARD_REFUSED = 'HB001';

/** Last answers of probes, by hint: true sends the next write with that probe straight to a transaction. */
const hints = new Map<string, boolean>();
const HINTS_MAX = 10_000;
function remember(hint: string, answer: boolean): void {
  if (hints.size >= HINTS_MAX && !hints.has(hint)) hints.clear();
  hints.set(hint, answer);
}

/** A plain `INSERT INTO … ` whose result nobody reads (no RETURNING): it can wait and join the commit statement. */
const DEFERRABLE = /^\s*INSERT\s+INTO\s/i;
const READS_RESULT = /\bRETURNING\b/i;

export class UnitOfWork implements Queryable {
  private readonly lazy: LazyTransaction;
  private versions: NewVersion[] = [];
  private tombstones: Tombstone[] = [];
  /** Whether a tombstone was buffered before the first buffered version (their history seqs keep that order). */
  private tombstonesFirst = false;
  private deferred: Deferred[] = [];
  /** Set for the commit phase: plain INSERTs of before-commit work are deferred (joined to the commit statement). */
  deferInserts = false;
  /** Serialises the flushes, so a statement never overtakes the writes buffered before it. */
  private flushing: Promise<void> = Promise.resolve();
  /** The writes were committed by one statement of their own (no transaction was begun). */
  private committedAlone = false;

  constructor(db: Db) {
    this.lazy = new LazyTransaction(db);
  }

  get db(): Db {
    return this.lazy.db;
  }

  async query<T extends Row = Row>(text: string, params?: readonly unknown[], opts?: QueryOptions): Promise<T[]> {
    if (this.deferInserts && DEFERRABLE.test(text) && !READS_RESULT.test(text)) {
      this.deferred.push({ text, params: params ?? [] });
      return [];
    }
    const tx = await this.begin();
    await this.flush(tx);
    return tx.query<T>(text, params, opts);
  }

  async exec(script: string): Promise<void> {
    const tx = await this.begin();
    await this.flush(tx);
    await tx.exec(script);
  }

  /** Buffers a version to be stored by the next flush (one statement for all of them). */
  add(version: NewVersion): void {
    if (this.committedAlone) throw new Error('the unit of work has committed');
    if (this.versions.length === 0) this.tombstonesFirst = this.tombstones.length > 0;
    this.versions.push(version);
  }

  /** Buffers a deletion (its row locked by this transaction) to be stored by the next flush (tombstone.ts). */
  addTombstone(tombstone: Tombstone): void {
    if (this.committedAlone) throw new Error('the unit of work has committed');
    this.tombstones.push(tombstone);
  }

  private get buffered(): number {
    return this.versions.length + this.tombstones.length + this.deferred.length;
  }

  /**
   * Stores everything buffered and answers `probes` (in order). Outside a transaction, when no probe
   * is expected to be true, this is the whole write: one statement that commits by itself.
   */
  async settle(probes: readonly CommitProbe[]): Promise<boolean[]> {
    // Nothing to store and nothing to ask: no statement (commit() ends a begun transaction).
    if (this.buffered === 0 && probes.length === 0) return [];
    let seqs: number[] | undefined;
    if (!this.lazy.begun && !probes.some((p) => hints.get(p.hint) === true)) {
      const buffered = this.peek();
      const n = seqsNeeded(buffered);
      seqs = n > 0 ? await drawSeqs(this.db, n) : undefined; // a sequence is not transactional
      const params: unknown[] = [];
      const ctes = writeCtes(buffered, params, seqs);
      const guard = probes.length > 0 ? `write_guard(NOT (${probes.map((p) => `(${p.sql(params)})`).join(' OR ')}))` : '1';
      try {
        await this.db.query(ctes.length > 0 ? `WITH ${ctes.join(', ')} SELECT ${guard}` : `SELECT ${guard}`, params, preparing(buffered));
        this.take();
        this.committedAlone = true;
        for (const p of probes) remember(p.hint, false);
        return probes.map(() => false);
      } catch (err) {
        if ((err as { code?: string } | null)?.code !== WRITE_GUARD_REFUSED) throw err;
        // A probe is true after all: nothing was stored; the same writes go through a transaction below.
        for (const p of probes) remember(p.hint, true);
      }
    }
    const tx = await this.begin();
    await this.flushing;
    const buffered = this.take();
    const n = seqsNeeded(buffered);
    const params: unknown[] = [];
    const ctes = writeCtes(buffered, params, seqs ?? (n > 0 ? await drawSeqs(tx, n) : undefined));
    const answers = probes.map((p, i) => `(${p.sql(params)}) AS a${i}`);
    const select = answers.length > 0 ? answers.join(', ') : '1';
    const [row] = await tx.query<Record<string, boolean>>(ctes.length > 0 ? `WITH ${ctes.join(', ')} SELECT ${select}` : `SELECT ${select}`, params, preparing(buffered));
    return probes.map((p, i) => {
      const answer = row?.[`a${i}`] === true;
      remember(p.hint, answer);
      return answer;
    });
  }

  /** Stores what is still buffered and commits, if a transaction was begun; resolves once the commit is acknowledged. */
  async commit(): Promise<void> {
    if (this.committedAlone && this.buffered === 0) return;
    if (!this.lazy.begun && this.buffered === 0) return;
    await this.flush(await this.begin());
    await this.lazy.commit();
  }

  /** Rolls back a begun transaction (after which the caller rethrows `err`). */
  async rollback(err: unknown): Promise<void> {
    await this.lazy.rollback(err);
  }

  /** Stores what is buffered now, in the transaction (a client-chosen id's create, whose conflict must surface here). */
  async flushNow(): Promise<void> {
    await this.flush(await this.begin());
  }

  private begin(): Promise<Queryable> {
    if (this.committedAlone) throw new Error('the unit of work has committed');
    return this.lazy.open();
  }

  private flush(tx: Queryable): Promise<void> {
    const run = this.flushing.then(async () => {
      const buffered = this.take();
      if (buffered.versions.length + buffered.tombstones.length + buffered.deferred.length === 0) return;
      const n = seqsNeeded(buffered);
      const params: unknown[] = [];
      const ctes = writeCtes(buffered, params, n > 0 ? await drawSeqs(tx, n) : undefined);
      await tx.query(`WITH ${ctes.join(', ')} SELECT 1`, params, preparing(buffered));
    });
    this.flushing = run.catch(() => undefined);
    return run;
  }

  private peek(): Buffered {
    return { versions: this.versions, tombstones: this.tombstones, tombstonesFirst: this.tombstonesFirst, deferred: this.deferred };
  }

  private take(): Buffered {
    const taken = this.peek();
    this.versions = [];
    this.tombstones = [];
    this.tombstonesFirst = false;
    this.deferred = [];
    return taken;
  }
}

interface Deferred {
  text: string;
  params: readonly unknown[];
}

interface Buffered {
  versions: readonly NewVersion[];
  tombstones: readonly Tombstone[];
  /** A tombstone was buffered before the first version: it gets the lower sequence number. */
  tombstonesFirst: boolean;
  deferred: readonly Deferred[];
}

/**
 * How many sequence numbers must be drawn before the statement: several versions (bulk-insert.ts), or
 * versions and deletions together, whose history must keep the order they were made in.
 */
function seqsNeeded(b: Buffered): number {
  const v = b.versions.length;
  const t = b.tombstones.length;
  return v > 1 || (v > 0 && t > 0) ? v + t : 0;
}

/**
 * The everyday statements — one create, update or delete with its access-log and outbox inserts —
 * have a text that depends only on their shape (which index tables, which inserts), so they are kept
 * prepared: PostgreSQL (and PGlite, in this process) then parses and plans each shape once per
 * connection instead of on every write (issue 11 "create"). Larger combinations run unprepared, so
 * Bundles of varying make-up do not fill the bounded set of prepared texts (pg.ts).
 */
function preparing(b: Buffered): { prepare: boolean } {
  return { prepare: b.versions.length <= 1 && b.tombstones.length <= 1 && b.deferred.length <= 2 };
}

/** Buffered writes and deferred inserts as the CTEs of one statement; `seqs` as seqsNeeded asked for. */
function writeCtes(b: Buffered, params: unknown[], seqs: readonly number[] | undefined): string[] {
  let versionSeqs = seqs;
  let tombstoneSeqs: readonly number[] | undefined;
  if (seqs && b.tombstones.length > 0) {
    const t = b.tombstones.length;
    tombstoneSeqs = b.tombstonesFirst ? seqs.slice(0, t) : seqs.slice(seqs.length - t);
    versionSeqs = b.tombstonesFirst ? seqs.slice(t) : seqs.slice(0, seqs.length - t);
  }
  const ctes = [...versionCtes(b.versions, params, versionSeqs), ...tombstoneCtes(b.tombstones, params, tombstoneSeqs)];
  b.deferred.forEach((d, i) => {
    ctes.push(`w${i} AS (${shifted(d.text, params.length)})`);
    params.push(...d.params);
  });
  return ctes;
}

/**
 * shiftPlaceholders of the few texts every write defers (the access log, outbox rows), each worked out
 * once per offset. Keyed by the text itself, then the offset: a text is the same string on every call
 * (a literal of its module), whose hash V8 keeps, so a lookup builds no key.
 */
const shiftedTexts = new Map<string, Map<number, string>>();
function shifted(text: string, offset: number): string {
  let byOffset = shiftedTexts.get(text);
  if (!byOffset) {
    if (shiftedTexts.size >= 64) shiftedTexts.clear();
    shiftedTexts.set(text, (byOffset = new Map()));
  }
  let out = byOffset.get(offset);
  if (out === undefined) byOffset.set(offset, (out = shiftPlaceholders(text, offset)));
  return out;
}

/**
 * `$n` → `$(n + offset)` outside quoted text, so a statement's parameters can follow others in one
 * statement. Single-quoted literals, quoted identifiers and comments are copied as they are; a
 * dollar-quoted body (`$tag$…$tag$`) is refused, as the deferred INSERTs never carry one.
 */
export function shiftPlaceholders(text: string, offset: number): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "'" || c === '"') {
      const end = closing(text, i, c);
      out += text.slice(i, end);
      i = end;
    } else if (c === '-' && text[i + 1] === '-') {
      const end = text.indexOf('\n', i);
      const stop = end < 0 ? text.length : end;
      out += text.slice(i, stop);
      i = stop;
    } else if (c === '$') {
      const m = /^\$(\d+)/.exec(text.slice(i, i + 12));
      if (!m) throw new Error('dollar-quoted text cannot be renumbered');
      out += `$${Number(m[1]) + offset}`;
      i += m[0].length;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Index just past the quote closing the one at `start` (a doubled quote is an escaped one). */
function closing(text: string, start: number, quote: string): number {
  let i = start + 1;
  for (;;) {
    const j = text.indexOf(quote, i);
    if (j < 0) return text.length;
    if (text[j + 1] === quote) i = j + 2;
    else return j + 1;
  }
}

/**
 * `Db.transaction` (a callback) turned into a transaction that begins when first asked for and ends
 * when told: the callback waits on `ended`, which `commit` resolves and `rollback` rejects.
 */
class LazyTransaction {
  private tx: Promise<Queryable> | null = null;
  private settled: Promise<void> = Promise.resolve();
  private end: { ok: () => void; fail: (err: unknown) => void } = { ok: () => undefined, fail: () => undefined };

  constructor(readonly db: Db) {}

  get begun(): boolean {
    return this.tx !== null;
  }

  open(): Promise<Queryable> {
    if (!this.tx) {
      const ended = new Promise<void>((ok, fail) => (this.end = { ok, fail }));
      ended.catch(() => undefined); // awaited by the callback; this only keeps an unstarted one from being "unhandled"
      this.tx = new Promise<Queryable>((resolve, reject) => {
        this.settled = this.db.transaction(async (tx) => {
          resolve(tx);
          await ended;
        });
        this.settled.catch(reject);
      });
    }
    return this.tx;
  }

  /** Only a COMMIT that returned acknowledges the write: its failure rejects here. */
  async commit(): Promise<void> {
    if (!this.tx) return;
    this.end.ok();
    await this.settled;
  }

  async rollback(err: unknown): Promise<void> {
    if (!this.tx) return;
    this.end.fail(err);
    await this.settled.catch(() => undefined);
  }
}
