/**
 * Grants and the artefacts issued under them: authorization codes (single use, ~60 s; app-launch
 * §obtain-authorization-code) and refresh tokens (bound to the client, rotated for public clients,
 * reuse revokes the whole grant: RFC 9700 §2.2.2, OAuth 2.1 §6.1). Every consuming step is one
 * conditional UPDATE, so two concurrent redemptions cannot both succeed.
 */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/db.js';
import { digest, randomToken } from './clients.js';

export const CODE_TTL_SECONDS = 60;
export const REFRESH_TTL_SECONDS = 90 * 24 * 3600;

export interface Grant {
  grantId: string;
  clientId: string;
  kind: 'patient' | 'user' | 'system';
  sub: string | null;
  patientId: string | null;
  fhirUser: string | null;
  scope: string;
  context: GrantContext;
  sessionId: string | null;
  authTime: Date | null;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}

/** Launch context returned with every token of the grant (scopes §launch context). */
export interface GrantContext {
  need_patient_banner?: boolean;
  smart_style_url?: string;
  /** The id_token nonce from the authorize request. */
  nonce?: string;
}

interface GrantRow {
  grant_id: string;
  client_id: string;
  kind: Grant['kind'];
  sub: string | null;
  patient_id: string | null;
  fhir_user: string | null;
  scope: string;
  context: GrantContext;
  session_id: string | null;
  auth_time: Date | string | null;
  created_at: Date | string;
  expires_at: Date | string;
  revoked_at: Date | string | null;
  [k: string]: unknown;
}

const toDate = (v: Date | string | null): Date | null => (v === null ? null : new Date(v));

function fromRow(r: GrantRow): Grant {
  return {
    grantId: r.grant_id,
    clientId: r.client_id,
    kind: r.kind,
    sub: r.sub,
    patientId: r.patient_id,
    fhirUser: r.fhir_user,
    scope: r.scope,
    context: r.context ?? {},
    sessionId: r.session_id,
    authTime: toDate(r.auth_time),
    createdAt: new Date(r.created_at),
    expiresAt: new Date(r.expires_at),
    revokedAt: toDate(r.revoked_at),
  };
}

export type NewGrant = Omit<Grant, 'grantId' | 'revokedAt' | 'expiresAt' | 'createdAt'> & { ttlSeconds: number };

export async function createGrant(db: Queryable, g: NewGrant): Promise<Grant> {
  const grantId = randomUUID();
  const rows = await db.query<GrantRow>(
    `INSERT INTO auth_grants (grant_id, client_id, kind, sub, patient_id, fhir_user, scope, context, session_id, auth_time, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now() + make_interval(secs => $11)) RETURNING *`,
    [grantId, g.clientId, g.kind, g.sub, g.patientId, g.fhirUser, g.scope, JSON.stringify(g.context), g.sessionId, g.authTime, g.ttlSeconds],
  );
  return fromRow(rows[0]!);
}

export async function getGrant(db: Queryable, grantId: string): Promise<Grant | null> {
  const rows = await db.query<GrantRow>('SELECT * FROM auth_grants WHERE grant_id = $1', [grantId]);
  return rows[0] ? fromRow(rows[0]) : null;
}

/**
 * The access version of the subject a grant row `g` acts through (migration 010; 0 when nothing was
 * ever written about it): the subject is the one `accessSubjectOf` names (access/relation-cache.ts).
 */
const ACCESS_VERSION_OF_G = `COALESCE((SELECT v.version FROM access_versions v WHERE v.subject = CASE
               WHEN g.kind = 'user' AND g.fhir_user LIKE 'Practitioner/%' THEN g.fhir_user
               WHEN g.kind = 'patient' AND g.patient_id IS NOT NULL THEN 'Patient/' || g.patient_id END), 0)`;

/** "Still allowed?": the grant not revoked or expired and this token not revoked on its own (SQL condition on `auth_grants g`). */
const LIVE_G = (grant: string, jti: string): string =>
  `g.grant_id = ${grant} AND g.revoked_at IS NULL AND g.expires_at > now()
        AND NOT EXISTS (SELECT 1 FROM auth_revoked_tokens t WHERE t.jti = ${jti})`;

/**
 * The grant behind an access token if it is still live and that token was not revoked on its own,
 * with the access version of the subject whose relation facts it acts through: one statement decides
 * "still allowed?" and "may the cached relation be used?" (access/relation-cache.ts).
 */
export async function liveGrantForToken(db: Queryable, grantId: string, jti: string): Promise<(Grant & { accessVersion: number }) | null> {
  const rows = await db.query<GrantRow & { access_version: number | string | null }>(
    // Prepared (db.ts): the same text on every request. Columns named, not g.*: a prepared plan must
    // keep its result shape.
    `SELECT g.grant_id, g.client_id, g.kind, g.sub, g.patient_id, g.fhir_user, g.scope, g.context, g.session_id, g.auth_time, g.created_at, g.expires_at, g.revoked_at,
            ${ACCESS_VERSION_OF_G} AS access_version
       FROM auth_grants g
      WHERE ${LIVE_G('$1', '$2')}`,
    [grantId, jti],
    { prepare: true },
  );
  return rows[0] ? { ...fromRow(rows[0]), accessVersion: Number(rows[0].access_version) } : null;
}

/**
 * The same check as a scalar subquery another statement carries (the read by id, issue 11 §2): the
 * subject's access version while the grant of `clientId` is live and the token `jti` not revoked,
 * NULL otherwise. Binds its three values into `params`.
 */
export function liveGrantVersionSql(params: unknown[], grantId: string, jti: string, clientId: string): string {
  params.push(grantId, jti, clientId);
  const n = params.length;
  return `(SELECT ${ACCESS_VERSION_OF_G} FROM auth_grants g WHERE ${LIVE_G(`$${n - 2}`, `$${n - 1}`)} AND g.client_id = $${n})`;
}

export function isLive(g: Grant | null): g is Grant {
  return !!g && g.revokedAt === null && g.expiresAt.getTime() > Date.now();
}

/** Ends a grant; returns it when this call ended it (null when it was already ended or unknown). */
export async function revokeGrant(db: Queryable, grantId: string, reason: string): Promise<Grant | null> {
  const rows = await db.query<GrantRow>('UPDATE auth_grants SET revoked_at = now(), revoked_reason = $2 WHERE grant_id = $1 AND revoked_at IS NULL RETURNING *', [grantId, reason]);
  return rows[0] ? fromRow(rows[0]) : null;
}

/**
 * Deactivation ends the citizen's app grants (S13 "the services will immediately become
 * unavailable"; issue 10 hole 10): every live grant for this patient except the first-party
 * portal's, which keeps the one door a deactivated patient has, `$reactivate` (S14).
 */
export async function revokePatientAppGrants(db: Queryable, patientId: string, exceptClientId: string, reason: string): Promise<Grant[]> {
  const rows = await db.query<GrantRow>(
    `UPDATE auth_grants SET revoked_at = now(), revoked_reason = $3
      WHERE patient_id = $1 AND client_id <> $2 AND revoked_at IS NULL RETURNING *`,
    [patientId, exceptClientId, reason],
  );
  return rows.map(fromRow);
}

/**
 * Logout ends the grants that live only as long as the login session (no offline_access); a
 * clinician's logout (`all`) ends every grant of the session, offline ones included.
 */
export async function revokeSessionGrants(db: Queryable, sessionId: string, opts: { all?: boolean } = {}): Promise<Grant[]> {
  const rows = await db.query<GrantRow>(
    `UPDATE auth_grants SET revoked_at = now(), revoked_reason = 'logout'
      WHERE session_id = $1 AND revoked_at IS NULL AND ($2 OR position(' offline_access ' in ' ' || scope || ' ') = 0) RETURNING *`,
    [sessionId, opts.all ?? false],
  );
  return rows.map(fromRow);
}

export async function revokeAccessToken(db: Queryable, jti: string, exp: number): Promise<void> {
  await db.query('INSERT INTO auth_revoked_tokens (jti, expires_at) VALUES ($1, to_timestamp($2)) ON CONFLICT (jti) DO NOTHING', [jti, exp]);
}

/**
 * Extends an offline grant's life when its refresh token is used (sliding window), never beyond
 * its absolute lifetime counted from creation (OFFLINE_GRANT_MAX_DAYS; issue 10 hole 10).
 */
export async function extendGrant(db: Queryable, grantId: string, ttlSeconds: number, maxDays: number): Promise<void> {
  await db.query(
    `UPDATE auth_grants SET expires_at = LEAST(now() + make_interval(secs => $2), created_at + make_interval(days => $3))
      WHERE grant_id = $1 AND revoked_at IS NULL`,
    [grantId, ttlSeconds, maxDays],
  );
}

// ---- authorization codes ----

export interface CodeRecord {
  grantId: string;
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
}

export async function issueCode(db: Queryable, rec: CodeRecord): Promise<string> {
  const code = randomToken();
  await db.query(
    `INSERT INTO auth_codes (code_hash, grant_id, client_id, redirect_uri, code_challenge, expires_at)
     VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))`,
    [digest(code), rec.grantId, rec.clientId, rec.redirectUri, rec.codeChallenge, CODE_TTL_SECONDS],
  );
  return code;
}

export type CodeRedemption = { ok: true; record: CodeRecord } | { ok: false; replayOfGrant?: string };

/** Marks the code used; a second redemption reports the grant so the caller can revoke it (RFC 6749 §4.1.2). */
export async function redeemCode(db: Queryable, code: string): Promise<CodeRedemption> {
  const hash = digest(code);
  const rows = await db.query<{ grant_id: string; client_id: string; redirect_uri: string; code_challenge: string; [k: string]: unknown }>(
    `UPDATE auth_codes SET used_at = now() WHERE code_hash = $1 AND used_at IS NULL AND expires_at > now()
     RETURNING grant_id, client_id, redirect_uri, code_challenge`,
    [hash],
  );
  const r = rows[0];
  if (r) return { ok: true, record: { grantId: r.grant_id, clientId: r.client_id, redirectUri: r.redirect_uri, codeChallenge: r.code_challenge } };
  const used = await db.query<{ grant_id: string; [k: string]: unknown }>('SELECT grant_id FROM auth_codes WHERE code_hash = $1 AND used_at IS NOT NULL', [hash]);
  return used[0] ? { ok: false, replayOfGrant: used[0].grant_id } : { ok: false };
}

// ---- refresh tokens ----

export async function issueRefreshToken(db: Queryable, grantId: string, clientId: string, scope: string): Promise<string> {
  const token = randomToken();
  await db.query(
    `INSERT INTO auth_refresh_tokens (token_hash, grant_id, client_id, scope, expires_at)
     VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))`,
    [digest(token), grantId, clientId, scope, REFRESH_TTL_SECONDS],
  );
  return token;
}

export interface RefreshRecord {
  grantId: string;
  clientId: string;
  scope: string;
}

export type RefreshUse = { ok: true; record: RefreshRecord } | { ok: false; reuseOfGrant?: string };

/**
 * Spends a refresh token (rotation) atomically; presenting an already rotated token reports its
 * grant so the caller can revoke the family.
 */
export async function useRefreshToken(db: Queryable, token: string): Promise<RefreshUse> {
  const hash = digest(token);
  const rows = await db.query<{ grant_id: string; client_id: string; scope: string; [k: string]: unknown }>(
    'UPDATE auth_refresh_tokens SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING grant_id, client_id, scope',
    [hash],
  );
  const r = rows[0];
  if (r) return { ok: true, record: { grantId: r.grant_id, clientId: r.client_id, scope: r.scope } };
  const used = await db.query<{ grant_id: string; [k: string]: unknown }>('SELECT grant_id FROM auth_refresh_tokens WHERE token_hash = $1 AND used_at IS NOT NULL', [hash]);
  return used[0] ? { ok: false, reuseOfGrant: used[0].grant_id } : { ok: false };
}

export async function findRefreshToken(db: Queryable, token: string): Promise<(RefreshRecord & { used: boolean }) | null> {
  const rows = await db.query<{ grant_id: string; client_id: string; scope: string; used_at: unknown; [k: string]: unknown }>(
    'SELECT grant_id, client_id, scope, used_at FROM auth_refresh_tokens WHERE token_hash = $1 AND expires_at > now()',
    [digest(token)],
  );
  const r = rows[0];
  return r ? { grantId: r.grant_id, clientId: r.client_id, scope: r.scope, used: r.used_at !== null } : null;
}

/**
 * A grant is real once one of its codes was exchanged (issue 16 §3: "no grant until a code is
 * exchanged"): consent stores the grant with its code, but until the app redeems the code it is not
 * shown on the manage page. SQL condition on `auth_grants g`.
 */
export const EXCHANGED = 'EXISTS (SELECT 1 FROM auth_codes x WHERE x.grant_id = g.grant_id AND x.used_at IS NOT NULL)';

/** The citizen's live, exchanged grants to other apps than the first-party portal (the manage page). */
export async function liveAppGrantsOf(db: Queryable, sub: string): Promise<Array<Grant & { clientName: string }>> {
  const rows = await db.query<GrantRow & { client_name: string }>(
    `SELECT g.*, c.client_name FROM auth_grants g JOIN auth_clients c ON c.client_id = g.client_id
      WHERE g.sub = $1 AND g.kind = 'patient' AND g.revoked_at IS NULL AND g.expires_at > now() AND NOT c.first_party AND ${EXCHANGED}
      ORDER BY c.client_name, g.created_at`,
    [sub],
  );
  return rows.map((r) => ({ ...fromRow(r), clientName: r.client_name }));
}

/**
 * The grants among `grants` whose code was exchanged: only those are reported as ended (security log,
 * the patient's access log); a consent whose code the app never redeemed was never a grant to the person.
 */
export async function exchangedOnly(db: Queryable, grants: Grant[]): Promise<Grant[]> {
  if (grants.length === 0) return grants;
  const ids = grants.map((g) => g.grantId);
  const rows = await db.query<{ grant_id: string; [k: string]: unknown }>(
    `SELECT DISTINCT grant_id FROM auth_codes WHERE used_at IS NOT NULL AND grant_id IN (${ids.map((_, i) => `$${i + 1}`).join(', ')})`,
    ids,
  );
  const exchanged = new Set(rows.map((r) => r.grant_id));
  return grants.filter((g) => g.kind === 'system' || exchanged.has(g.grantId));
}

/** Ends every live grant of one app for one person (withdrawal on the manage page); returns those it ended. */
export async function revokeClientGrantsOf(db: Queryable, sub: string, clientId: string, reason: string): Promise<Grant[]> {
  const rows = await db.query<GrantRow>(
    'UPDATE auth_grants SET revoked_at = now(), revoked_reason = $3 WHERE sub = $1 AND client_id = $2 AND revoked_at IS NULL RETURNING *',
    [sub, clientId, reason],
  );
  return rows.map(fromRow);
}

/**
 * Housekeeping: forget expired codes, assertion jtis and individually revoked tokens. A redeemed code
 * is kept while its grant lives: it is what makes the grant an exchanged one (EXCHANGED).
 */
export async function purgeExpired(db: Queryable): Promise<void> {
  await db.query(
    `DELETE FROM auth_codes c WHERE c.expires_at < now() - interval '1 day'
      AND (c.used_at IS NULL OR NOT EXISTS (SELECT 1 FROM auth_grants g WHERE g.grant_id = c.grant_id AND g.revoked_at IS NULL AND g.expires_at > now()))`,
  );
  await db.query('DELETE FROM auth_assertion_jtis WHERE expires_at < now()');
  await db.query('DELETE FROM auth_revoked_tokens WHERE expires_at < now()');
  await db.query('DELETE FROM auth_requests WHERE expires_at < now()');
}
