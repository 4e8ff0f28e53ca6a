/**
 * Clinician login through HelseID, with a second express-openid-connect relying party mounted at
 * `/auth/helseid` (its own callback, session cookie and transaction cookie, so it never touches
 * the citizen's ID-porten session). The id_token's `helseid://claims/hpr/hpr_number` identifies
 * the health professional; `acr` must be `Level4`. The professional is matched to a Practitioner
 * by HPR identifier on every step (a Practitioner removed later stops the flow).
 */
import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { auth, type ConfigParams } from 'express-openid-connect';
import { SYSTEM_ACCESS } from '../access/access-context.js';
import type { SecurityEvents } from '../audit/security-events.js';
import type { Config } from '../config/config.js';
import type { Queryable } from '../db/db.js';
import { findMatchingIds } from '../fhir/search/find-ids.js';
import { decodeClaims, LoginRejected, relyingPartyParams, subjectFor } from './citizen-login.js';

type Session = Parameters<NonNullable<ConfigParams['afterCallback']>>[2];

/** HelseID's level of assurance for a login with a high-level eID (`acr_values=Level4`). */
export const HELSEID_ACR = 'Level4';
/** The HelseID claim carrying the HPR number (Helsepersonellregisteret). */
export const HPR_CLAIM = 'helseid://claims/hpr/hpr_number';
/** Identifier system of HPR numbers on Practitioner. */
export const HPR_SYSTEM = 'urn:oid:2.16.578.1.12.4.1.4.4';
/** Where the clinician's relying party and flow live. */
export const HELSEID_PATH = '/auth/helseid';
const SESSION_NAME = 'helseidSession';
const HPR = /^[0-9]{7,9}$/;

export interface Clinician {
  /** Our own stable subject (auth_subjects, keyed by the HelseID issuer and sub). */
  sub: string;
  hpr: string;
  /** The matched Practitioner id, or null when the HPR number is not in our directory. */
  practitionerId: string | null;
  sessionId: string | null;
  authTime: Date | null;
}

export function clinicianLoginMiddleware(config: Config, issuer: string, db: Queryable, events: SecurityEvents): RequestHandler {
  const params: ConfigParams = {
    ...relyingPartyParams(config, { issuer, basePath: HELSEID_PATH, clientId: config.helseidClientId, clientSecret: config.helseidClientSecret, acrValues: HELSEID_ACR, sessionName: SESSION_NAME }),
    transactionCookie: { name: 'helseid_verification' },
    afterCallback: async (_req, _res, session: Session): Promise<Session> => {
      const claims = decodeClaims(String(session.id_token ?? ''));
      const hpr = typeof claims[HPR_CLAIM] === 'string' && HPR.test(claims[HPR_CLAIM]) ? claims[HPR_CLAIM] : null;
      const practitionerId = hpr ? await findPractitionerByHpr(db, hpr) : null;
      const actor = practitionerId ? `Practitioner/${practitionerId}` : null;
      if (claims.acr !== HELSEID_ACR) {
        await events.record({ kind: 'login-failed', actor, reason: 'HelseID level of assurance too low' });
        throw new LoginRejected('The login level of assurance is too low', 'clinician-acr-too-low');
      }
      if (!hpr) {
        await events.record({ kind: 'login-failed', reason: 'HelseID login without an HPR number' });
        throw new LoginRejected('The login did not identify a health professional (HPR number)', 'no-hpr');
      }
      await events.record({ kind: 'login', actor, reason: practitionerId ? 'HelseID' : 'HelseID, HPR number not in the directory' });
      return { ...session, helsebro_sid: randomUUID(), helsebro_csrf: randomUUID() };
    },
  };
  return auth(params);
}

export function isClinicianLoggedIn(req: Request): boolean {
  return !!req.oidc?.isAuthenticated();
}

/** The logged-in clinician (only meaningful under HELSEID_PATH), or null. */
export async function currentClinician(req: Request, db: Queryable, issuer: string): Promise<Clinician | null> {
  if (!isClinicianLoggedIn(req)) return null;
  const claims = req.oidc.idTokenClaims as Record<string, unknown> | undefined;
  const hpr = claims?.[HPR_CLAIM];
  if (!claims || typeof hpr !== 'string' || !HPR.test(hpr) || typeof claims.sub !== 'string') return null;
  if (claims.acr !== HELSEID_ACR) return null;
  const session = (req as unknown as Record<string, { helsebro_sid?: string } | undefined>)[SESSION_NAME];
  return {
    sub: await subjectFor(db, typeof claims.iss === 'string' ? claims.iss : issuer, claims.sub),
    hpr,
    practitionerId: await findPractitionerByHpr(db, hpr),
    sessionId: session?.helsebro_sid ?? null,
    authTime: typeof claims.auth_time === 'number' ? new Date(claims.auth_time * 1000) : null,
  };
}

/** The active Practitioner with this HPR number; null when none or more than one (a data error: refuse). */
export async function findPractitionerByHpr(db: Queryable, hpr: string): Promise<string | null> {
  const ids = await findMatchingIds(db, 'Practitioner', `identifier=${HPR_SYSTEM}|${hpr}&active:not=false`, SYSTEM_ACCESS, 2);
  return ids.length === 1 ? ids[0]! : null;
}
