/** load config → open db (migrate) → seed if empty → createApp → listen; SIGTERM/SIGINT close gracefully. */
import http from 'node:http';
import net, { type Socket } from 'node:net';
import { ConfigError, loadConfig } from './config/config.js';
import { openDatabase } from './db/open.js';
import { DataDirLockedError } from './db/lock.js';
import { createLogger } from './log.js';
import { isClusterWorker, superviseWorkers } from './cluster.js';
import { logStartBanner } from './start-banner.js';

/** A keep-alive connection idle this long during shutdown carries no request of before SIGTERM. */
const IDLE_GRACE_MS = 1500;

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
  // The server's modules load after the database (and its folder lock) are taken, so a second
  // server on a PGlite folder in use is refused at once rather than after seconds of loading.
  const { buildServer, createRepository, startStandIns } = await import('./server.js');
  const { seedIfEmpty } = await import('./seed/seed.js');
  const repo = createRepository(db, { production: config.production });
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

  // Connections and whether they carry a request; on shutdown each busy one is closed after its
  // response, and an idle one only after a grace period: a keep-alive request sent just before
  // SIGTERM may not have been read yet, and closing its socket would reset it.
  const sockets = new Map<Socket, { busy: number; idleSince: number }>();
  let closing = false;
  const server = http.createServer((req, res) => {
    const state = sockets.get(req.socket);
    if (state) state.busy++;
    res.once('close', () => {
      if (state) {
        state.busy--;
        state.idleSince = Date.now();
      }
    });
    if (closing) res.setHeader('Connection', 'close');
    if (closing && req.url === '/readyz') {
      res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'shutting down' }));
      return;
    }
    app(req, res);
  });
  server.on('connection', (socket: Socket) => {
    sockets.set(socket, { busy: 0, idleSince: Date.now() });
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(config.port, () => logStartBanner(logger, config));

  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    const started = Date.now();
    logger.info('shutting down', { signal, connections: sockets.size });
    // Whatever hangs (a database that does not answer a close), the process ends.
    setTimeout(() => process.exit(1), config.shutdownTimeoutMs + 5000).unref();
    // Stop accepting new connections only (http.Server.close would also cut idle keep-alive ones at once).
    const listenerClosed = new Promise<void>((resolve) => server.listening ? server.once('close', () => resolve()) : resolve());
    if (server.listening) net.Server.prototype.close.call(server);
    for (;;) {
      const now = Date.now();
      for (const [socket, state] of sockets) if (state.busy === 0 && now - Math.max(state.idleSince, started) >= IDLE_GRACE_MS) socket.destroySoon();
      if (sockets.size === 0) break;
      // The last second of SHUTDOWN_TIMEOUT_MS is kept for the access-log flush and the database close.
      if (now - started >= Math.max(0, config.shutdownTimeoutMs - 1000)) {
        logger.warn('shutdown: requests still running after the deadline; closing their connections', { connections: sockets.size, ms: config.shutdownTimeoutMs });
        for (const socket of sockets.keys()) socket.destroy();
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await listenerClosed;
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
