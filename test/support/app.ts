/**
 * An in-process helsebro on a fresh database: in-memory PGlite, or a throwaway schema on the
 * PostgreSQL server named by DATABASE_URL (CI runs the suite both ways).
 */
import { randomBytes } from 'node:crypto';
import type { Express } from 'express';
import { createApp, type AppDeps } from '../../src/app.js';
import { testConfig, type Config } from '../../src/config/config.js';
import type { Db } from '../../src/db/db.js';
import { openDatabase } from '../../src/db/open.js';
import { Repository } from '../../src/fhir/repository/repository.js';
import { createLogger } from '../../src/log.js';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';

export interface TestContext {
  app: Express;
  db: Db;
  repo: Repository;
  config: Config;
  close(): Promise<void>;
}

export async function openTestDatabase(): Promise<Db> {
  const url = process.env.DATABASE_URL;
  if (url && /^postgres(ql)?:\/\//.test(url)) {
    return openDatabase({ kind: 'postgres', url }, { schema: `t_${randomBytes(6).toString('hex')}`, max: 5 });
  }
  return openDatabase({ kind: 'pglite', dataDir: null });
}

export async function createTestContext(overrides: Partial<Config> = {}, appDeps: Partial<AppDeps> = {}): Promise<TestContext> {
  const config = testConfig(overrides);
  const db = await openTestDatabase();
  const logger = createLogger('silent');
  const repo = new Repository(db);
  const app = createApp({
    config,
    db,
    logger,
    repo,
    authenticate: (_req, res, next) => {
      res.locals.access = SYSTEM_ACCESS;
      next();
    },
    ...appDeps,
  });
  return { app, db, repo, config, close: () => db.close() };
}
