/**
 * Composes the whole server: the SMART authorization server, the bearer-token resource server in
 * front of the FHIR API, the device bridges, and (outside production) the ID-porten and HelseID
 * stand-ins.
 * main.ts, the benchmarks and end-to-end tests all start helsebro through this one function.
 */
import type { Express } from 'express';
import { createAccessEngine } from './access/engine.js';
import { createApp } from './app.js';
import { createAuthRouter } from './auth/router.js';
import { authenticateFhir } from './auth/resource-server.js';
import { KeyStore } from './auth/keys.js';
import { bridgesRouter } from './bridges/wiring.js';
import type { Config } from './config/config.js';
import type { Db } from './db/db.js';
import { startDevIdp } from './dev-idp/start.js';
import { Repository } from './fhir/repository/repository.js';
import { proxyGrantRule } from './access/grant-rules.js';
import type { WriteRule } from './fhir/repository/write-rules.js';
import type { Logger } from './log.js';

export interface ServerParts {
  app: Express;
  config: Config;
  /** Closers for what the server started besides the HTTP listener (the stand-in OP). */
  extraClosers: Array<() => Promise<void>>;
}

export interface BuildOptions {
  config: Config;
  db: Db;
  logger: Logger;
  repo: Repository;
  /** Start the ID-porten stand-in (default: whenever not in production). */
  devIdp?: boolean;
}

/** The business rules every write passes, in order (access-spec §5.2; grant rules S3). */
export function writeRules(): WriteRule[] {
  return [proxyGrantRule];
}

/** The repository as the server uses it: the only path to data, with every write rule installed. */
export function createRepository(db: Db): Repository {
  return new Repository(db, { rules: writeRules() });
}

export async function buildServer(opts: BuildOptions): Promise<ServerParts> {
  let { config } = opts;
  const { db, logger, repo } = opts;
  const extraClosers: Array<() => Promise<void>> = [];
  if (!config.production && (opts.devIdp ?? true)) {
    const idp = await startDevIdp(config);
    // On port 0 the stand-in's address is known only now; the login must talk to that issuer.
    config = { ...config, idportenIssuer: idp.issuer };
    extraClosers.push(() => idp.close());
    logger.info('ID-porten stand-in started', { issuer: idp.issuer, login: idp.loginOrigin });
    if (config.helseidIssuer) {
      // The clinicians' login (HelseID stand-in): a separate issuer with an HPR login form.
      const helseid = await startDevIdp(config, { flavour: 'helseid' });
      config = { ...config, helseidIssuer: helseid.issuer };
      extraClosers.push(() => helseid.close());
      logger.info('HelseID stand-in started', { issuer: helseid.issuer, login: helseid.loginOrigin });
    }
  }
  const keys = new KeyStore(db);
  // The one access decision point: gates, policy and access log for every FHIR request,
  // the refresh gate and the patient picker (src/access).
  const access = createAccessEngine(db, repo, logger);
  // Graceful shutdown: the access-log batch is flushed before the database closes (issue 17).
  extraClosers.push(() => access.accessLog.flush());
  const authenticate = authenticateFhir({ config, db, logger, repo, keys, toAccess: access.toAccess });
  const app = createApp({
    config,
    db,
    logger,
    repo,
    authenticate,
    routers: [createAuthRouter({ config, db, logger, repo, keys, gate: access.gate, actingOptions: access.actingOptions }), bridgesRouter({ config, repo, logger, authenticate })],
  });
  return { app, config, extraClosers };
}
