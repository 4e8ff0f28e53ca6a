/**
 * An in-process helsebro on a fresh database: in-memory PGlite, or a throwaway schema on the
 * PostgreSQL server named by DATABASE_URL (CI runs the suite both ways). The app is the real
 * server (SMART authorization server, bearer-token resource server, bridges) built by
 * `buildServer`; `ctx.app` sends a real dev-system token obtained from `POST /auth/token` on every
 * request that carries no Authorization header of its own, so FHIR tests read like plain REST.
 */
import { randomBytes } from 'node:crypto';
import express, { type Express } from 'express';
import request from 'supertest';
import { testConfig, type Config } from '../../src/config/config.js';
import type { Db } from '../../src/db/db.js';
import { openDatabase } from '../../src/db/open.js';
import type { Repository } from '../../src/fhir/repository/repository.js';
import { createLogger } from '../../src/log.js';
import { buildServer, createRepository } from '../../src/server.js';

export interface TestContext {
  /** The server, with a system token added to requests that bring none. */
  app: Express;
  /** The server as a client without credentials sees it. */
  bareApp: Express;
  token: string;
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
  // A PGlite folder, as `npm start` runs it (the in-process benches: writes cost file I/O there, not in memory).
  if (url?.startsWith('pglite://') && url !== 'pglite://memory') return openDatabase({ kind: 'pglite', dataDir: url.slice('pglite://'.length) });
  return openDatabase({ kind: 'pglite', dataDir: null });
}

export async function createTestContext(overrides: Partial<Config> = {}): Promise<TestContext> {
  const config = testConfig({ accessTokenTtl: 3600, ...overrides });
  const db = await openTestDatabase();
  const logger = createLogger('silent');
  const repo = createRepository(db);
  const { app: bareApp, extraClosers } = await buildServer({ config, db, logger, repo, devIdp: false });
  const token = await systemToken(bareApp, config.devSystemClientSecret);
  const app = express();
  app.use((req, _res, next) => {
    if (!req.headers.authorization) req.headers.authorization = `Bearer ${token}`;
    next();
  });
  app.use(bareApp);
  return {
    app,
    bareApp,
    token,
    db,
    repo,
    config,
    close: async () => {
      for (const close of extraClosers) await close();
      await db.close();
    },
  };
}

async function systemToken(app: Express, secret: string): Promise<string> {
  const res = await request(app)
    .post('/auth/token')
    .auth('dev-system', secret)
    .type('form')
    .send({ grant_type: 'client_credentials', scope: 'system/*.*' });
  if (res.status !== 200) throw new Error(`dev-system token refused: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.access_token as string;
}
