/**
 * Citizen login through ID-porten, with express-openid-connect as the relying party: code flow
 * with PKCE, state and nonce, `acr_values` from configuration, and the returned `acr` checked
 * against it ("The client MUST check that acr is high enough", access-spec §2). The `pid` claim
 * identifies the person; we map ID-porten's pairwise `sub` to our own stable subject.
 */
import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { auth, type ConfigParams } from 'express-openid-connect';

type Session = Parameters<NonNullable<ConfigParams['afterCallback']>>[2];
import type { SecurityEvents } from '../audit/security-events.js';
import type { Config } from '../config/config.js';
import type { Queryable } from '../db/db.js';
import { hasValidCheckDigits } from '../fhir/validation/fnr.js';
import { findPatientByPid, type Person } from '../identity/people.js';

const ACR_ORDER = ['idporten-loa-substantial', 'idporten-loa-high'];

/** A login ID-porten (or HelseID) completed but we refuse; `reason` names the refusal page (src/auth/refusals.ts). */
export class LoginRejected extends Error {
  constructor(message: string, readonly reason: 'acr-too-low' | 'no-person' | 'clinician-acr-too-low' | 'no-hpr') {
    super(message);
  }
}

/** True when the asserted level is at least the configured minimum. */
export function acrSatisfies(asserted: unknown, required: string): boolean {
  const min = ACR_ORDER.indexOf(required.split(' ')[0] ?? '');
  const got = typeof asserted === 'string' ? ACR_ORDER.indexOf(asserted) : -1;
  return got >= 0 && got >= Math.max(min, 0);
}

interface SessionExtras {
  helsebro_sid?: string;
  helsebro_csrf?: string;
}

/**
 * What both our logins (ID-porten for citizens, HelseID for clinicians) share as an OIDC relying
 * party: code flow with PKCE, state and nonce, RS256 id_tokens, a rolling session cookie.
 */
export function relyingPartyParams(config: Config, rp: { issuer: string; basePath: string; clientId: string; clientSecret: string; acrValues: string; sessionName?: string }): ConfigParams {
  return {
    issuerBaseURL: rp.issuer,
    baseURL: `${config.baseUrl}${rp.basePath}`,
    clientID: rp.clientId,
    clientSecret: rp.clientSecret,
    secret: config.sessionSecret,
    authRequired: false,
    auth0Logout: false,
    idpLogout: true,
    enableTelemetry: false,
    clientAuthMethod: 'client_secret_basic',
    idTokenSigningAlg: 'RS256',
    routes: { login: false, logout: false, callback: '/callback', postLogoutRedirect: '/logged-out' },
    authorizationParams: { response_type: 'code', scope: 'openid profile', acr_values: rp.acrValues, ui_locales: 'nb' },
    session: { ...(rp.sessionName ? { name: rp.sessionName } : {}), rolling: true, rollingDuration: 30 * 60, absoluteDuration: 8 * 3600, cookie: { sameSite: 'Lax', httpOnly: true } },
  };
}

export function citizenLoginMiddleware(config: Config, db: Queryable, events: SecurityEvents): RequestHandler {
  const params: ConfigParams = {
    ...relyingPartyParams(config, { issuer: config.idportenIssuer, basePath: '/auth', clientId: config.idportenClientId, clientSecret: config.idportenClientSecret, acrValues: config.idportenAcrValues }),
    afterCallback: async (_req, _res, session: Session): Promise<Session> => {
      const claims = decodeClaims(String(session.id_token ?? ''));
      const pid = typeof claims.pid === 'string' && hasValidCheckDigits(claims.pid) ? claims.pid : null;
      // The security log names the person's own Patient (never the fødselsnummer).
      const patientId = pid ? await findPatientByPid(db, pid) : null;
      const who = patientId ? { patientId, actor: `Patient/${patientId}` } : {};
      if (!acrSatisfies(claims.acr, config.idportenAcrValues)) {
        await events.record({ kind: 'login-failed', ...who, reason: 'ID-porten level of assurance too low' });
        throw new LoginRejected('The login level of assurance is too low', 'acr-too-low');
      }
      if (!pid) {
        await events.record({ kind: 'login-failed', reason: 'ID-porten login without a valid pid' });
        throw new LoginRejected('The login did not identify a person (pid)', 'no-person');
      }
      await events.record({ kind: 'login', ...who, reason: 'ID-porten' });
      // Our own session id (ID-porten only sends `sid` to clients registered for front-channel logout).
      return { ...session, helsebro_sid: randomUUID(), helsebro_csrf: randomUUID() };
    },
  };
  return auth(params);
}

/** The claims of an id_token the login middleware has already verified (no second verification). */
export function decodeClaims(idToken: string): Record<string, unknown> {
  const payload = idToken.split('.')[1];
  if (!payload) return {};
  try {
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

export function isLoggedIn(req: Request): boolean {
  return !!req.oidc?.isAuthenticated();
}

export function sessionExtras(req: Request): SessionExtras {
  return ((req as unknown as { appSession?: SessionExtras }).appSession ?? {}) as SessionExtras;
}

/** The logged-in person, or null. The acr is re-checked so an old session cannot skip the policy. */
export async function currentPerson(req: Request, db: Queryable, config: Config): Promise<Person | null> {
  if (!isLoggedIn(req)) return null;
  const claims = req.oidc.idTokenClaims as Record<string, unknown> | undefined;
  if (!claims || typeof claims.pid !== 'string' || typeof claims.sub !== 'string') return null;
  if (!acrSatisfies(claims.acr, config.idportenAcrValues)) return null;
  const issuer = typeof claims.iss === 'string' ? claims.iss : config.idportenIssuer;
  const sub = await subjectFor(db, issuer, claims.sub);
  return {
    sub,
    pid: claims.pid,
    selfPatientId: await findPatientByPid(db, claims.pid),
    sessionId: sessionExtras(req).helsebro_sid ?? null,
    authTime: typeof claims.auth_time === 'number' ? new Date(claims.auth_time * 1000) : null,
  };
}

/** Our stable subject for an ID-porten (issuer, pairwise sub); created on first login. */
export async function subjectFor(db: Queryable, issuer: string, idpSub: string): Promise<string> {
  await db.query('INSERT INTO auth_subjects (sub, idp_issuer, idp_sub) VALUES ($1, $2, $3) ON CONFLICT (idp_issuer, idp_sub) DO NOTHING', [randomUUID(), issuer, idpSub]);
  const rows = await db.query<{ sub: string; [k: string]: unknown }>('SELECT sub FROM auth_subjects WHERE idp_issuer = $1 AND idp_sub = $2', [issuer, idpSub]);
  return rows[0]!.sub;
}
