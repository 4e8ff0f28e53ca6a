/**
 * One error for "the database cannot be reached right now" (issue 17): a refused or reset
 * connection, a server shutting down or starting up, a connection-class SQLSTATE, a pool that could
 * not hand out a connection in time, or a statement past its deadline. The error renderer answers
 * it with 503 + Retry-After and a `transient` OperationOutcome, never 500, so clients retry; any
 * write that met it was not committed, so it was never acknowledged.
 */
/** Seconds a client should wait before retrying while the database is away (a restart takes a few). */
export const DATABASE_RETRY_AFTER = '5';

export class DatabaseUnavailable extends Error {
  override readonly name = 'DatabaseUnavailable';
  constructor(readonly reason: string, options?: { cause?: unknown }) {
    super(`The database is unavailable: ${reason}`, options);
  }
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);
// 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 53300 too_many_connections,
// 57014 query_canceled (our statement_timeout: the per-request deadline), class 08 (connection exceptions),
// 25P03 idle_in_transaction_session_timeout: PostgreSQL ended a session whose transaction sat idle past
// twice the deadline (pg.ts) — on a loaded machine the server's process can wait that long for a CPU
// between two statements; the FATAL reaches whichever statement goes out next (even the COMMIT), the
// transaction is rolled back, nothing was stored, and a retry will do. It answered 500 before.
const SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '57014', '25P03']);
// pg and pg-pool report lost connections and their own timeouts as plain Errors without a code.
const MESSAGES = [
  /Connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /Query read timeout/i,
  /Client has encountered a connection error/i,
  /Client was closed and is not queryable/i,
  /connection (is )?(closed|lost)/i,
];

/** The DatabaseUnavailable an error stands for, or null when it is an ordinary (e.g. SQL) error. */
export function asDatabaseUnavailable(err: unknown): DatabaseUnavailable | null {
  if (err instanceof DatabaseUnavailable) return err;
  if (!err || typeof err !== 'object') return null;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : '';
  if (NETWORK_CODES.has(code)) return new DatabaseUnavailable(`connection failed (${code})`, { cause: err });
  if (SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return new DatabaseUnavailable(code === '57014' ? 'statement deadline exceeded' : `server not accepting work (${code})`, { cause: err });
  if (MESSAGES.some((m) => m.test(message))) return new DatabaseUnavailable(message.slice(0, 120), { cause: err });
  return null;
}

/** Rethrows connection failures as DatabaseUnavailable and everything else unchanged. */
export function classified(err: unknown): unknown {
  return asDatabaseUnavailable(err) ?? err;
}
