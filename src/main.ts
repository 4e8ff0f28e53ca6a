/** load config → open db (migrate) → seed if empty → createApp → listen; SIGTERM/SIGINT close gracefully. */
import type { Server } from 'node:http';
import { ConfigError, loadConfig } from './config/config.js';
import { openDatabase } from './db/open.js';
import { DataDirLockedError } from './db/lock.js';
import { createLogger } from './log.js';
import { seedIfEmpty } from './seed/seed.js';
import { isClusterWorker, superviseWorkers } from './cluster.js';
import { buildServer, createRepository, startStandIns } from './server.js';
import { logStartBanner } from './start-banner.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel, { service: 'helsebro' });
  let db;
  try {
    db = await openDatabase(config.database);
  } catch (err) {
    if (err instanceof DataDirLockedError) {
      console.error(err.message);
      process.exit(3);
    }
    throw err;
  }
  const repo = createRepository(db);
  if (!isClusterWorker() && !config.production) {
    const n = await seedIfEmpty(repo, logger, config.fhirBase);
    if (n > 0) logger.info('demo data loaded', { resources: n });
  }
  if (config.workers > 1 && !isClusterWorker()) {
    // The primary only supervises: it has migrated and seeded; workers share the port.
    await db.close();
    const standIns = config.production ? { config, closers: [] } : await startStandIns(config, logger);
    const env: Record<string, string> = { SESSION_SECRET: config.sessionSecret, IDPORTEN_ISSUER: standIns.config.idportenIssuer };
    if (standIns.config.helseidIssuer) env.HELSEID_ISSUER = standIns.config.helseidIssuer;
    superviseWorkers({
      count: config.workers,
      env,
      logger,
      onStopped: async () => {
        for (const close of standIns.closers) await close().catch(() => undefined);
      },
    });
    return;
  }
  // A worker's login stand-ins run in the primary (cluster.ts).
  const { app, extraClosers } = await buildServer({ config, db, logger, repo, devIdp: !isClusterWorker() });
  const server: Server = app.listen(config.port, () => logStartBanner(logger, config));

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info('shutting down', { signal });
    // close() stops accepting and waits for in-flight requests, so acknowledged writes finish.
    server.close(async () => {
      for (const close of extraClosers) await close().catch(() => undefined);
      await db.close();
      logger.info('stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
    setTimeout(() => process.exit(1), 15_000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(JSON.stringify({ level: 'error', msg: 'failed to start', error: (err as Error).message }));
  process.exit(1);
});
