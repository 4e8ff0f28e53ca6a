/** load config → open db (migrate) → seed if empty → createApp → listen; SIGTERM/SIGINT close gracefully. */
import type { Server } from 'node:http';
import { ConfigError, loadConfig } from './config/config.js';
import { openDatabase } from './db/open.js';
import { DataDirLockedError } from './db/lock.js';
import { createLogger } from './log.js';
import { isEmpty, seedDemoData } from './seed/seed.js';
import { buildServer, createRepository } from './server.js';
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
  if (!config.production && (await isEmpty(db))) {
    const n = await seedDemoData(repo, logger, config.fhirBase);
    logger.info('demo data loaded', { resources: n });
  }
  const { app, extraClosers } = await buildServer({ config, db, logger, repo });
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
