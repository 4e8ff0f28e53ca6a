import type { Queryable } from '../../db/db.js';

/**
 * "Could an active rest-hook Subscription watch one of these resource types?" as an SQL condition the
 * commit's own statement evaluates (notify/subscriptions/subscription-rule.ts, repository beforeCommitIf;
 * issue 11 "create"). It lives in the search engine because only the repository and the search engine
 * read the resource tables (test/access/architecture.test.ts). It reads Subscriptions — a backend
 * client's configuration, not patient data — and yields one boolean, never content.
 *
 * A superset of what the match looks for: `criteria` is `Type` or `Type?…` (criteria.ts), so its part
 * before the first `?` is the type whenever the criteria parse.
 */
export function restHookWatchCondition(types: readonly string[], params: unknown[]): string {
  params.push([...types]);
  return `EXISTS (SELECT 1 FROM resources s WHERE s.resource_type = 'Subscription' AND NOT s.deleted AND s.content->>'status' IN ('active', 'error')
        AND s.content->'channel'->>'type' = 'rest-hook' AND split_part(s.content->>'criteria', '?', 1) = ANY($${params.length}::text[]))`;
}

/**
 * The same question asked now, by a statement of its own (a deletion must be matched before it is
 * stored, while the search engine still sees the deleted version): one indexed EXISTS instead of the
 * Subscription search, which then runs only when the answer is yes (issue 11).
 */
export async function restHookWatched(q: Queryable, types: readonly string[]): Promise<boolean> {
  const params: unknown[] = [];
  const rows = await q.query<{ watched: boolean }>(`SELECT ${restHookWatchCondition(types, params)} AS watched`, params, { prepare: true });
  return rows[0]?.watched === true;
}
