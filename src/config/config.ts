/**
 * The only reader of process.env. Every setting is declared once here with its default and its
 * documentation; `loadConfig` validates all of them and reports every problem at once.
 */
import os from 'node:os';
import path from 'node:path';

export type DatabaseTarget =
  | { kind: 'pglite'; dataDir: string | null } // null = in memory
  | { kind: 'postgres'; url: string };

export interface Config {
  port: number;
  /** Public URL of the server, without trailing slash; the FHIR base is `${baseUrl}/fhir`. */
  baseUrl: string;
  fhirBase: string;
  database: DatabaseTarget;
  production: boolean;
  logLevel: LogLevel;
  /** Maximum accepted request body in bytes. */
  bodyLimit: number;
  /** Largest total of attachment bytes in one message (issue 13) → 413 above it. */
  messageMaxBytes: number;
  /** Default and maximum page size of searches. */
  searchDefaultCount: number;
  searchMaxCount: number;
  /** The Terms of Use in force (issue 14): a newer version makes every citizen accept again. */
  termsVersion: string;
  termsUrl: string;
  /** Port of the development ID-porten stand-in (never started in production). */
  devIdpPort: number;
  /** Issuer of the citizen login (ID-porten); in development the stand-in. */
  idportenIssuer: string;
  idportenClientId: string;
  idportenClientSecret: string;
  idportenAcrValues: string;
  /** Issuer of the clinician login (HelseID); in development the second stand-in; null = clinician login off. */
  helseidIssuer: string | null;
  helseidClientId: string;
  helseidClientSecret: string;
  /** Seconds an access token lives. */
  accessTokenTtl: number;
  devSystemClientSecret: string;
  /** Initial access token guarding dynamic client registration in production. */
  registrationToken: string | null;
  /** Secret used to sign the portal's session cookies. */
  sessionSecret: string;
  /** Server processes over one PostgreSQL (cluster.ts); always 1 on PGlite. */
  workers: number;
  /** Browser origins allowed by CORS besides those of registered redirect URIs (the portal's). */
  corsOrigins: string[];
  /** Absolute lifetime of an offline grant (refresh tokens), in days from the login. */
  offlineGrantMaxDays: number;
  /** Development only: allow a non-loopback BASE_URL (the API is then reachable from the network). */
  allowDevOnNetwork: boolean;
  // Operating (issue 17): the per-request database deadline and the graceful-shutdown bound, in ms.
  dbTimeoutMs: number;
  shutdownTimeoutMs: number;
  /** Where the development SMS and e-mail senders write their messages (issue 14; never the network). */
  notifyOutboxDir: string;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

type Env = Record<string, string | undefined>;

/** Documentation of every variable, printed by the README and by `--help`. */
export const CONFIG_DOCS: ReadonlyArray<[string, string, string]> = [
  ['PORT', '8080', 'TCP port the HTTP server listens on'],
  ['BASE_URL', 'http://localhost:$PORT', 'public URL; the FHIR base is BASE_URL/fhir'],
  ['DATABASE_URL', 'pglite://./data', 'postgres://user:pass@host:port/db, pglite://<folder> or pglite://memory'],
  ['NODE_ENV', 'development', '`production` switches off demo data, development clients and the development login'],
  ['LOG_LEVEL', 'info', 'debug | info | warn | error | silent'],
  ['TERMS_VERSION', '2024-04-03', 'version of the Terms of Use in force; a newer one makes every citizen accept again before using the service'],
  ['TERMS_URL', 'https://helsebro.no/vilkar/$TERMS_VERSION', 'where the text of that version is published (stored in the acceptance Consent)'],
  ['BODY_LIMIT', '10mb', 'largest accepted request body (bytes, or with kb/mb suffix) → 413 above it'],
  ['MESSAGE_MAX_BYTES', '10mb', 'largest total size of the attachments of one message (inline data and Binaries; bytes, or with kb/mb suffix) → 413 above it'],
  ['SEARCH_DEFAULT_COUNT', '20', 'page size when _count is absent'],
  ['SEARCH_MAX_COUNT', '1000', 'largest page size a client may ask for'],
  ['DEV_IDP_PORT', '$PORT+1', 'port of the ID-porten stand-in started in development (login host +1; the HelseID stand-in on +2 and +3)'],
  ['IDPORTEN_ISSUER', 'http://localhost:$DEV_IDP_PORT', 'issuer of the citizen login (https://idporten.no in production)'],
  ['IDPORTEN_CLIENT_ID', 'helsebro', 'our client id at ID-porten'],
  ['IDPORTEN_CLIENT_SECRET', 'dev-idporten-secret', 'our client secret at ID-porten (required in production)'],
  ['IDPORTEN_ACR_VALUES', 'idporten-loa-high', 'minimum level of assurance requested and enforced'],
  ['HELSEID_ISSUER', 'http://localhost:$DEV_IDP_PORT+2', 'issuer of the clinician login (https://helseid-sts.nhn.no in production; unset there = no clinician login)'],
  ['HELSEID_CLIENT_ID', 'helsebro', 'our client id at HelseID'],
  ['HELSEID_CLIENT_SECRET', 'dev-helseid-secret', 'our client secret at HelseID (required in production when HELSEID_ISSUER is set)'],
  ['ACCESS_TOKEN_TTL', '300', 'access token lifetime in seconds'],
  ['DEV_SYSTEM_CLIENT_SECRET', 'dev-system-secret', 'secret of the development system client `dev-system`'],
  ['REGISTRATION_TOKEN', '(none)', 'initial access token for dynamic client registration; required in production'],
  ['SESSION_SECRET', '(random in development)', 'secret for login session cookies; required in production'],
  ['WORKERS', '(number of CPUs)', 'server processes sharing the port over one PostgreSQL; PGlite always runs one'],
  ['CORS_ORIGINS', '(none)', 'comma-separated browser origins (e.g. https://portal.example) allowed by CORS besides the origins of registered redirect URIs and BASE_URL'],
  ['OFFLINE_GRANT_MAX_DAYS', '365', 'absolute lifetime in days of an offline grant (refresh tokens); refreshing never extends it'],
  ['NOTIFY_OUTBOX_DIR', '<data folder>/notify-outbox', 'folder where the development SMS and e-mail senders append their messages (sms.ndjson, email.ndjson); nothing is sent over the network'],
  ['ALLOW_DEV_ON_NETWORK', '(unset)', '`1` lets a development server (NODE_ENV not production) use a non-loopback BASE_URL; refused otherwise'],
  ['DB_TIMEOUT_MS', '5000', 'PostgreSQL: longest wait for a connection and longest statement; past it the request answers 503 + Retry-After'],
  ['SHUTDOWN_TIMEOUT_MS', '10000', 'on SIGTERM/SIGINT: how long in-flight requests may take to finish before their connections are closed'],
];

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const production = env.NODE_ENV === 'production';

  const port = parsePort(env.PORT ?? '8080', 'PORT', problems);
  const baseUrl = trimSlash(env.BASE_URL ?? `http://localhost:${port}`);
  if (!/^https?:\/\/[^\s/]+(\/\S*)?$/.test(baseUrl)) problems.push(`BASE_URL must be an http(s) URL, got "${baseUrl}"`);

  const database = parseDatabase(env.DATABASE_URL ?? 'pglite://./data', problems);

  const logLevel = (env.LOG_LEVEL ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${env.LOG_LEVEL}"`);

  const bodyLimit = parseSize(env.BODY_LIMIT ?? '10mb', 'BODY_LIMIT', problems);
  const messageMaxBytes = parseSize(env.MESSAGE_MAX_BYTES ?? '10mb', 'MESSAGE_MAX_BYTES', problems);
  const searchDefaultCount = parseInteger(env.SEARCH_DEFAULT_COUNT ?? '20', 'SEARCH_DEFAULT_COUNT', 1, 10000, problems);
  const searchMaxCount = parseInteger(env.SEARCH_MAX_COUNT ?? '1000', 'SEARCH_MAX_COUNT', 1, 100000, problems);
  const termsVersion = env.TERMS_VERSION ?? '2024-04-03';
  if (!/^[A-Za-z0-9.-]{1,64}$/.test(termsVersion)) problems.push(`TERMS_VERSION must be letters, digits, dots and dashes (e.g. 2026-12-01), got "${termsVersion}"`);
  const devIdpPort = parsePort(env.DEV_IDP_PORT ?? String(port === 0 ? 0 : port + 1), 'DEV_IDP_PORT', problems);
  const accessTokenTtl = parseInteger(env.ACCESS_TOKEN_TTL ?? '300', 'ACCESS_TOKEN_TTL', 10, 3600, problems);
  const dbTimeoutMs = parseInteger(env.DB_TIMEOUT_MS ?? '5000', 'DB_TIMEOUT_MS', 100, 600_000, problems);
  const shutdownTimeoutMs = parseInteger(env.SHUTDOWN_TIMEOUT_MS ?? '10000', 'SHUTDOWN_TIMEOUT_MS', 0, 600_000, problems);

  const sessionSecret = env.SESSION_SECRET ?? (production ? '' : cryptoRandom());
  if (production && !env.SESSION_SECRET) problems.push('SESSION_SECRET is required when NODE_ENV=production');
  if (production && !env.IDPORTEN_ISSUER) problems.push('IDPORTEN_ISSUER is required when NODE_ENV=production (e.g. https://idporten.no)');
  if (production && !env.IDPORTEN_CLIENT_SECRET) problems.push('IDPORTEN_CLIENT_SECRET is required when NODE_ENV=production');
  if (production && env.HELSEID_ISSUER && !env.HELSEID_CLIENT_SECRET) problems.push('HELSEID_CLIENT_SECRET is required when NODE_ENV=production and HELSEID_ISSUER is set');
  const corsOrigins = parseOrigins(env.CORS_ORIGINS ?? '', problems);
  const offlineGrantMaxDays = parseInteger(env.OFFLINE_GRANT_MAX_DAYS ?? '365', 'OFFLINE_GRANT_MAX_DAYS', 1, 3650, problems);
  const allowDevOnNetwork = env.ALLOW_DEV_ON_NETWORK === '1';
  if (env.ALLOW_DEV_ON_NETWORK !== undefined && !['0', '1', ''].includes(env.ALLOW_DEV_ON_NETWORK)) problems.push(`ALLOW_DEV_ON_NETWORK must be 1 or unset, got "${env.ALLOW_DEV_ON_NETWORK}"`);
  // Development mode has a known system-client secret and open registration: keep it on this
  // machine unless explicitly allowed (issue 10 hole 11).
  if (!production && !allowDevOnNetwork && !isLoopbackUrl(baseUrl)) {
    problems.push(`BASE_URL "${baseUrl}" is not a loopback address, but NODE_ENV is not production: development mode has a known system-client secret and open registration; set NODE_ENV=production, or ALLOW_DEV_ON_NETWORK=1 to expose development mode on purpose`);
  }
  const helseidDefault = production ? null : `http://localhost:${devIdpPort === 0 ? 0 : devIdpPort + 2}`;

  const cpus = Math.max(1, os.availableParallelism());
  const workers = database.kind === 'pglite' ? 1 : parseInteger(env.WORKERS ?? String(cpus), 'WORKERS', 1, 256, problems);

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    port,
    baseUrl,
    fhirBase: `${baseUrl}/fhir`,
    database,
    production,
    logLevel,
    bodyLimit,
    messageMaxBytes,
    searchDefaultCount,
    searchMaxCount,
    termsVersion,
    termsUrl: env.TERMS_URL ?? `https://helsebro.no/vilkar/${termsVersion}`,
    devIdpPort,
    idportenIssuer: trimSlash(env.IDPORTEN_ISSUER ?? `http://localhost:${devIdpPort}`),
    idportenClientId: env.IDPORTEN_CLIENT_ID ?? 'helsebro',
    idportenClientSecret: env.IDPORTEN_CLIENT_SECRET ?? 'dev-idporten-secret',
    idportenAcrValues: env.IDPORTEN_ACR_VALUES ?? 'idporten-loa-high',
    helseidIssuer: env.HELSEID_ISSUER ? trimSlash(env.HELSEID_ISSUER) : helseidDefault,
    helseidClientId: env.HELSEID_CLIENT_ID ?? 'helsebro',
    helseidClientSecret: env.HELSEID_CLIENT_SECRET ?? 'dev-helseid-secret',
    accessTokenTtl,
    devSystemClientSecret: env.DEV_SYSTEM_CLIENT_SECRET ?? 'dev-system-secret',
    registrationToken: env.REGISTRATION_TOKEN ?? null,
    sessionSecret,
    workers,
    corsOrigins,
    offlineGrantMaxDays,
    allowDevOnNetwork,
    dbTimeoutMs,
    shutdownTimeoutMs,
    notifyOutboxDir: path.resolve(env.NOTIFY_OUTBOX_DIR ?? defaultNotifyDir(database)),
  };
}

/** Beside the data: in the PGlite folder, else ./data (an in-memory database writes to the temp folder). */
function defaultNotifyDir(database: DatabaseTarget): string {
  if (database.kind === 'pglite') return database.dataDir ? path.join(database.dataDir, 'notify-outbox') : path.join(os.tmpdir(), 'helsebro-notify-outbox');
  return path.join('data', 'notify-outbox');
}

/** True for http(s) URLs on localhost, 127.0.0.0/8 or [::1]. */
export function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false;
  }
  return host === 'localhost' || host.endsWith('.localhost') || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '[::1]';
}

/** The warning development mode prints at start (issue 10 hole 11). */
export function developmentModeWarning(config: Config): string | null {
  if (config.production) return null;
  return `DEVELOPMENT MODE (NODE_ENV is not production): the system client "dev-system" has a known secret, client registration is open and the login stand-ins accept any test identity; never use this with real data${config.allowDevOnNetwork ? ' — and ALLOW_DEV_ON_NETWORK=1 exposes it beyond this machine' : ''}`;
}

function parseOrigins(value: string, problems: string[]): string[] {
  const out: string[] = [];
  for (const raw of value.split(',').map((v) => v.trim()).filter(Boolean)) {
    let origin: string | null = null;
    try {
      const u = new URL(raw);
      if ((u.protocol === 'http:' || u.protocol === 'https:') && u.origin === raw.replace(/\/+$/, '')) origin = u.origin;
    } catch {
      origin = null;
    }
    if (origin) out.push(origin);
    else problems.push(`CORS_ORIGINS entries must be origins like https://portal.example (scheme, host, optional port), got "${raw}"`);
  }
  return out;
}

/** A configuration for tests and tools: in-memory database, quiet logs, overrides on top. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  const base = loadConfig({ DATABASE_URL: 'pglite://memory', LOG_LEVEL: 'silent', PORT: '0', BASE_URL: 'http://localhost:8080' });
  return { ...base, ...overrides };
}

function parseDatabase(url: string, problems: string[]): DatabaseTarget {
  if (url === 'pglite://memory') return { kind: 'pglite', dataDir: null };
  if (url.startsWith('pglite://')) {
    const folder = url.slice('pglite://'.length);
    if (!folder) problems.push('DATABASE_URL pglite://<folder> needs a folder');
    return { kind: 'pglite', dataDir: path.resolve(folder) };
  }
  if (/^postgres(ql)?:\/\//.test(url)) return { kind: 'postgres', url };
  problems.push(`DATABASE_URL must start with postgres://, postgresql:// or pglite://, got "${url.replace(/:[^:@/]*@/, ':***@')}"`);
  return { kind: 'pglite', dataDir: null };
}

function parsePort(value: string, name: string, problems: string[]): number {
  return parseInteger(value, name, 0, 65535, problems);
}

function parseInteger(value: string, name: string, min: number, max: number, problems: string[]): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    problems.push(`${name} must be an integer between ${min} and ${max}, got "${value}"`);
    return min;
  }
  return n;
}

function parseSize(value: string, name: string, problems: string[]): number {
  const m = /^(\d+)\s*(b|kb|mb)?$/i.exec(value.trim());
  if (!m) {
    problems.push(`${name} must be a size such as 10mb or 500kb, got "${value}"`);
    return 10 * 1024 * 1024;
  }
  const unit = (m[2] ?? 'b').toLowerCase();
  return Number(m[1]) * (unit === 'mb' ? 1024 * 1024 : unit === 'kb' ? 1024 : 1);
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

function cryptoRandom(): string {
  return globalThis.crypto.randomUUID() + globalThis.crypto.randomUUID();
}
