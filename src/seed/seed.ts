/**
 * Loads the demo population (fixtures/demo-*.json transaction Bundles) through the same write path
 * as any client: validation, indexing and history included.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SYSTEM_ACCESS } from '../access/access-context.js';
import type { Db } from '../db/db.js';
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

export async function isEmpty(db: Db): Promise<boolean> {
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
