/**
 * Composes the whole server: the SMART authorization server, the bearer-token resource server in
 * front of the FHIR API, the device bridges, and (outside production) the ID-porten and HelseID
 * stand-ins.
 * main.ts, the benchmarks and end-to-end tests all start helsebro through this one function.
 */
import type { Express } from 'express';
import { createAccessEngine, type AccessEngine } from './access/engine.js';
import { PORTAL_CLIENT_ID } from './auth/clients.js';
import { createApp } from './app.js';
import { endAppGrantsOnDeactivation } from './auth/account-grants.js';
import { createAuthRouter, createSecurityEvents } from './auth/router.js';
import { authenticateFhir } from './auth/resource-server.js';
import { KeyStore } from './auth/keys.js';
import { registeredOrigins } from './auth/clients.js';
import { bridgesRouter } from './bridges/wiring.js';
import { developmentModeWarning, type Config } from './config/config.js';
import type { Db } from './db/db.js';
import { startDevIdp } from './dev-idp/start.js';
import { Repository } from './fhir/repository/repository.js';
import { authorFieldsRule } from './access/authorship.js';
import { confineToPatientRule } from './access/confine.js';
import { proxyGrantRule } from './access/grant-rules.js';
import { serverOwnedFieldsRule } from './access/server-owned.js';
import { uniqueNationalIdRule } from './access/unique-national-id.js';
import { auditEventIsReadOnly } from './audit/write-rule.js';
import type { WriteRule } from './fhir/repository/write-rules.js';
import { bookingRules } from './portal/booking/booking-rules.js';
import { startOfferExpiry } from './portal/booking/offer-expiry.js';
import { requestRules } from './portal/requests/request-rules.js';
import { messageRules } from './portal/messages/message-rule.js';
import { eventsSinceRouter } from './portal/messages/events-router.js';
import type { Logger } from './log.js';
import { accountRecordRule } from './notify/account-records.js';
import { notificationOutboxRule } from './notify/outbox-rule.js';
import { startNotifications } from './notify/start.js';
import { subscriptionRule } from './notify/subscriptions/subscription-rule.js';

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

/**
 * The business rules every write passes, in order, inside its transaction (access-spec §5.2; grant
 * rules S3): register fields and labels stay the server's, the author comes from the token (filled
 * in before confinement looks at the result), patient-side writes stay in the token's patient's
 * record, one Patient per national identifier, and the proxy-grant rules.
 */
export function writeRules(config: Partial<Pick<Config, 'messageMaxBytes' | 'fhirBase' | 'production'>> = {}): WriteRule[] {
  const production = config.production ?? process.env.NODE_ENV === 'production';
  return [
    auditEventIsReadOnly, serverOwnedFieldsRule, authorFieldsRule, confineToPatientRule, uniqueNationalIdRule, proxyGrantRule, ...bookingRules(),
    ...requestRules(), ...messageRules({ maxBytes: config.messageMaxBytes, fhirBase: config.fhirBase }),
    // Issue 14: account records' shape; then, last, so they see the write as it will be stored, the
    // notification events and Subscription matches, into the outbox in the write's own transaction.
    accountRecordRule, subscriptionRule({ production }), notificationOutboxRule,
  ];
}

/** The repository as the server uses it: the only path to data, with every write rule installed. */
export function createRepository(db: Db, config?: Partial<Pick<Config, 'messageMaxBytes' | 'fhirBase' | 'production'>>): Repository {
  return new Repository(db, { rules: writeRules(config) });
}

/**
 * Starts the ID-porten and HelseID stand-ins (development only) and returns the configuration that
 * points at them. In a multi-process server the primary runs them once for every worker (cluster.ts).
 */
export async function startStandIns(config: Config, logger: Logger): Promise<{ config: Config; closers: Array<() => Promise<void>> }> {
  const closers: Array<() => Promise<void>> = [];
  const idp = await startDevIdp(config);
  // On port 0 the stand-in's address is known only now; the login must talk to that issuer.
  config = { ...config, idportenIssuer: idp.issuer };
  closers.push(() => idp.close());
  logger.info('ID-porten stand-in started', { issuer: idp.issuer, login: idp.loginOrigin });
  if (config.helseidIssuer) {
    // The clinicians' login (HelseID stand-in): a separate issuer with an HPR login form.
    const helseid = await startDevIdp(config, { flavour: 'helseid' });
    config = { ...config, helseidIssuer: helseid.issuer };
    closers.push(() => helseid.close());
    logger.info('HelseID stand-in started', { issuer: helseid.issuer, login: helseid.loginOrigin });
  }
  return { config, closers };
}

/** The access engine as the server uses it (tests that assemble their own app use this too). */
export function createServerAccessEngine(db: Db, repo: Repository, logger: Logger): AccessEngine {
  return createAccessEngine(db, repo, logger, { firstPartyClientId: PORTAL_CLIENT_ID });
}

export async function buildServer(opts: BuildOptions): Promise<ServerParts> {
  let { config } = opts;
  const { db, logger, repo } = opts;
  const extraClosers: Array<() => Promise<void>> = [];
  const devWarning = developmentModeWarning(config);
  if (devWarning) logger.warn(devWarning, { mode: 'development', baseUrl: config.baseUrl });
  if (!config.production && (opts.devIdp ?? true)) {
    const standIns = await startStandIns(config, logger);
    config = standIns.config;
    extraClosers.push(...standIns.closers);
  }
  const offerExpiry = startOfferExpiry(repo, logger);
  extraClosers.push(async () => offerExpiry.stop());
  // Notifications and Subscriptions: one outbox worker per process (src/notify; issue 14).
  const notifications = startNotifications({ config, db, repo, logger });
  extraClosers.push(() => notifications.stop());
  const keys = new KeyStore(db);
  // The one access decision point: gates, policy and access log for every FHIR request,
  // the refresh gate and the patient picker (src/access).
  const access = createServerAccessEngine(db, repo, logger);
  // Graceful shutdown: the access-log batch is flushed before the database closes (issue 17).
  extraClosers.push(() => access.accessLog.flush());
  const authenticate = authenticateFhir({ config, db, logger, repo, keys, toAccess: access.toAccess });
  // Security events go to the log and, as AuditEvents, to the patient's access log.
  const events = createSecurityEvents(db, logger, access.accessLog);
  const app = createApp({
    config,
    db,
    logger,
    repo,
    authenticate,
    routers: [createAuthRouter({ config, db, logger, repo, keys, gate: access.gate, actingOptions: access.actingOptions, events }), bridgesRouter({ config, repo, logger, authenticate }),
      eventsSinceRouter({ config, repo, authenticate, engine: access, portalClientId: PORTAL_CLIENT_ID })],
    onAccountChange: endAppGrantsOnDeactivation({ db, events }),
    registeredOrigins: () => registeredOrigins(db),
  });
  return { app, config, extraClosers };
}
