/**
 * Loads the demo population (fixtures/demo-*.json transaction Bundles) through the same write path
 * as any client: validation, indexing and history included.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SYSTEM_ACCESS } from '../access/access-context.js';
import type { Queryable } from '../db/db.js';
import { waitForXactLock } from '../db/advisory-lock.js';
import { processBundle } from '../fhir/bundle/transaction.js';
import type { Repository } from '../fhir/repository/repository.js';
import type { Logger } from '../log.js';
import { FIXTURES_DIR } from '../paths.js';

export function demoBundleFiles(dir = FIXTURES_DIR): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => /^demo-.*\.json$/.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

export async function isEmpty(db: Queryable): Promise<boolean> {
  const rows = await db.query('SELECT 1 FROM resources LIMIT 1');
  return rows.length === 0;
}

export async function seedDemoData(repo: Repository, logger: Logger, fhirBase: string): Promise<number> {
  let count = 0;
  const files = demoBundleFiles();
  for (const [i, file] of files.entries()) {
    const bundle = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    const result = await processBundle({ repo, fhirBase, defaultCount: 20, maxCount: 1000 }, bundle, SYSTEM_ACCESS);
    count += result.entry?.length ?? 0;
    logger.info('seed progress', { file: path.basename(file), done: i + 1, of: files.length, resources: count });
  }
  return count;
}

const SEED_LOCK = 724_201_2;

/**
 * Seeds the demo population once, whichever of several processes starting on one empty PostgreSQL
 * gets there first: the check and the load share one transaction under an advisory lock, so the
 * others wait and then find the data there. Returns the number of resources loaded (0 if none).
 */
export async function seedIfEmpty(repo: Repository, logger: Logger, fhirBase: string): Promise<number> {
  return repo.transaction(async (tx) => {
    if (tx.kind === 'postgres') {
      // Loading the demo data takes longer than a request's deadline, and its validation between
      // statements may leave the transaction idle longer than the idle deadline on a busy machine.
      await tx.queryable.query('SET LOCAL statement_timeout = 0');
      await tx.queryable.query('SET LOCAL idle_in_transaction_session_timeout = 0');
      await waitForXactLock(tx.queryable, SEED_LOCK);
    }
    if (!(await isEmpty(tx.queryable))) return 0;
    return seedDemoData(tx, logger, fhirBase);
  });
}
