/**
 * The rows a transaction is about to write, locked together (issue 11 §4: a transaction Bundle's PUT
 * entries). Each PUT used to send its own `SELECT … FOR UPDATE` and visibility check, and each such
 * read stored the update before it, so a Bundle of a hundred PUTs cost three hundred statements. Here
 * one statement per resource type locks every target row in id order (two transactions locking
 * overlapping sets cannot deadlock) and one more says which the access context may see; each write then takes
 * its row from here once (repository.ts lockCurrent), and the version writes wait for one statement.
 * The rows cannot change under us until commit (they are locked); an entry of the same transaction
 * that writes one of them (a DELETE before the PUT, a second PUT) takes it out, and the next write of
 * that resource reads it afresh.
 */
import type { AccessContext } from '../../access/access-context.js';
import type { Queryable } from '../../db/db.js';
import { visibleVersionsFrom } from './history.js';
import { ID_PATTERN } from './reads.js';
import { RESOURCE_COLUMNS, type ResourceRow } from './rows.js';

interface Entry {
  /** The current row, or undefined: no such resource (a PUT creates it). */
  row: ResourceRow | undefined;
  /** Whether `access` may see the current row. */
  visible: boolean;
  access: AccessContext;
}

export class Prelocked {
  private readonly entries = new Map<string, Entry>();

  /** Locks the current rows of `ids` and notes what `access` may see of them: one statement. */
  async lock(q: Queryable, type: string, ids: readonly string[], access: AccessContext): Promise<void> {
    const wanted = [...new Set(ids)].filter((id) => ID_PATTERN.test(id) && !this.entries.has(`${type}/${id}`)).sort();
    if (wanted.length === 0) return;
    const rows = await q.query<ResourceRow & Record<string, unknown>>(
      `SELECT ${RESOURCE_COLUMNS} FROM resources r WHERE r.resource_type = $1 AND r.id = ANY($2::text[]) ORDER BY r.id FOR UPDATE`,
      [type, wanted],
    );
    // Judged by a statement of its own, after the lock: a lock that waited for another transaction
    // returns the row it committed, whose history row a snapshot taken before that commit does not
    // hold, so one statement joining both would find a concurrently updated row invisible (→ 403).
    const params: unknown[] = [type, rows.map((r) => r.id)];
    const visible = rows.length === 0 ? [] : await q.query<{ id: string }>(
      `SELECT r.id FROM resources r JOIN ${visibleVersionsFrom(type, access, params)} ON h.seq = r.seq WHERE r.resource_type = $1 AND r.id = ANY($2::text[])`,
      params,
    );
    const seen = new Set(visible.map((v) => v.id));
    const found = new Map(rows.map((r) => [r.id, r]));
    for (const id of wanted) {
      const row = found.get(id);
      this.entries.set(`${type}/${id}`, { row, visible: row !== undefined && seen.has(id), access });
    }
  }

  /** The locked row of a resource, taken out (undefined entry: not prelocked, read it yourself). */
  take(type: string, id: string): Entry | undefined {
    const key = `${type}/${id}`;
    const entry = this.entries.get(key);
    if (entry) this.entries.delete(key);
    return entry;
  }
}
