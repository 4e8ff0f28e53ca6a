/** load config → open db (migrate) → seed if empty → createApp → listen; SIGTERM/SIGINT close gracefully. */
import http from 'node:http';
import { ConfigError, loadConfig } from './config/config.js';
import { openDatabase } from './db/open.js';
import { DataDirLockedError } from './db/lock.js';
import { createLogger } from './log.js';
import { isClusterWorker, superviseWorkers } from './cluster.js';
import { logStartBanner } from './start-banner.js';
import { trackConnections } from './http/graceful.js';

/** Milliseconds since the process started, at the end of each startup phase (logged once listening). */
const phases: Record<string, number> = {};
const mark = (phase: string) => (phases[phase] = Math.round(performance.now()));

async function main(): Promise<void> {
  mark('boot');
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
  // The server's modules load while the database opens (PGlite reads its folder and compiles its
  // WebAssembly partly off the main thread), so a restart after a crash is ready sooner (issue 17:
  // ≤ 5 s). They start loading once the folder lock is held: a second server on a PGlite folder in
  // use is refused (exit 3) before seconds of loading.
  let modules: Promise<[typeof import('./server.js'), typeof import('./seed/seed.js')]> | undefined;
  const loadModules = () => {
    if (!modules) {
      modules = Promise.all([import('./server.js'), import('./seed/seed.js')]);
      modules.catch(() => undefined); // awaited below; a failure surfaces there
    }
    return modules;
  };
  const opening = openDatabase(
    config.database,
    {
      timeoutMs: config.dbTimeoutMs,
      onIdleError: (err) => logger.warn('database connection lost; the pool will reconnect', { error: err.message }),
    },
    () => void loadModules(),
  );
  let db;
  try {
    db = await opening;
  } catch (err) {
    if (err instanceof DataDirLockedError) {
      console.error(err.message);
      process.exit(3);
    }
    throw err;
  }
  mark('database');
  const [{ buildServer, createRepository, startStandIns }, { seedIfEmpty }] = await loadModules();
  mark('modules');
  const repo = createRepository(db, config);
  if (!isClusterWorker() && !config.production) {
    const n = await seedIfEmpty(repo, logger, config.fhirBase);
    if (n > 0) logger.info('demo data loaded', { resources: n });
  }
  mark('seed');
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
  mark('app');

  // Requests begun before SIGTERM are answered, not reset; idle keep-alive connections are kept 2 s
  // beyond the announced 5 s, so a late client does not meet a close (src/http/graceful.ts).
  const server = http.createServer();
  const drain = trackConnections(server);
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    drain.handle(req, res);
    if (drain.closing && req.url === '/readyz') {
      res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'shutting down' }));
      return;
    }
    app(req, res);
  });
  server.listen(config.port, () => {
    mark('listening');
    logStartBanner(logger, config);
    logger.info('startup phases (ms since the process started)', phases);
  });

  const shutdown = async (signal: string) => {
    if (drain.closing) return;
    const started = Date.now();
    logger.info('shutting down', { signal, connections: drain.connections });
    // Whatever hangs (a database that does not answer a close), the process ends.
    setTimeout(() => process.exit(1), config.shutdownTimeoutMs + 5000).unref();
    // The last second of SHUTDOWN_TIMEOUT_MS is kept for the access-log flush and the database close.
    const drained = await drain.drain(Math.max(0, config.shutdownTimeoutMs - 1000));
    if (!drained) logger.warn('shutdown: requests still running after the deadline; their connections were closed', { ms: config.shutdownTimeoutMs });
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
