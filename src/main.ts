/** load config → open db (migrate) → seed if empty → createApp → listen; SIGTERM/SIGINT close gracefully. */
import http from 'node:http';
import { ConfigError, loadConfig } from './config/config.js';
import { openDatabase } from './db/open.js';
import { DataDirLockedError } from './db/lock.js';
import { createLogger } from './log.js';
import { isEmpty, seedDemoData } from './seed/seed.js';
import { buildServer, createRepository } from './server.js';

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
  // A stray rejection (e.g. a connection lost between two requests) is logged; it must not end a
  // server whose database comes back by itself (issue 17).
  process.on('unhandledRejection', (reason) => logger.error('unhandled rejection', { error: (reason as Error)?.message ?? String(reason) }));
  let db;
  try {
    db = await openDatabase(config.database, {
      timeoutMs: config.dbTimeoutMs,
      onIdleError: (err) => logger.warn('database connection lost; the pool will reconnect', { error: err.message }),
    });
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

  // Requests being answered; on shutdown each finishes and its connection is closed after it.
  const inFlight = new Set<http.ServerResponse>();
  let closing = false;
  const server = http.createServer((req, res) => {
    if (closing) res.setHeader('Connection', 'close');
    if (closing && req.url === '/readyz') {
      res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'shutting down' }));
      return;
    }
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
    app(req, res);
  });
  server.listen(config.port, () => logger.info('listening', { url: `${config.baseUrl}/fhir`, database: config.database.kind }));

  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    const started = Date.now();
    logger.info('shutting down', { signal, inFlight: inFlight.size });
    // Stop accepting; idle keep-alive connections close now, busy ones after their response.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
    const deadline = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), config.shutdownTimeoutMs).unref());
    if ((await Promise.race([closed.then(() => 'done' as const), deadline])) === 'timeout') {
      logger.warn('shutdown: requests still running after the deadline; closing their connections', { inFlight: inFlight.size, ms: config.shutdownTimeoutMs });
      server.closeAllConnections();
    }
    // The access-log batch is flushed (extra closers) before the database closes.
    for (const close of extraClosers) await close().catch((err: unknown) => logger.error('shutdown step failed', { error: (err as Error).message }));
    await db.close().catch((err: unknown) => logger.error('closing the database failed', { error: (err as Error).message }));
    logger.info('stopped', { ms: Date.now() - started });
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(JSON.stringify({ level: 'error', msg: 'failed to start', error: (err as Error).message }));
  process.exit(1);
});
