/**
 * The end of a successful flow: the grant is stored, a single-use code issued, the parked request
 * deleted, an EHR launch consumed, and the browser sent back with `code`, the exact `state`, and
 * `iss` (RFC 9207).
 */
import type { Response } from 'express';
import type { SecurityEvents } from '../audit/security-events.js';
import type { Config } from '../config/config.js';
import type { Db } from '../db/db.js';
import type { PendingRequest } from './authorize.js';
import type { Client } from './clients.js';
import { CODE_TTL_SECONDS, createGrant, issueCode, REFRESH_TTL_SECONDS } from './grants.js';
import type { ActingOption, Person } from '../identity/people.js';
import { formatScopes, hasScope, type Scope } from '../identity/scopes.js';

/** Online refresh (`online_access`) lasts at most one working day of a login session. */
export const ONLINE_GRANT_SECONDS = 8 * 3600;

export interface Completion {
  pending: PendingRequest;
  client: Client;
  person: Pick<Person, 'sub' | 'sessionId' | 'authTime'>;
  option: Pick<ActingOption, 'patientId' | 'fhirUser' | 'needPatientBanner'>;
  granted: Scope[];
  /** `user` for a clinician's grant (default `patient`: a citizen's). */
  kind?: 'patient' | 'user';
  /** Whether the token carries the patient context (patient/ scopes, launch/patient or an EHR launch). */
  withPatient: boolean;
}

export function grantLifetime(granted: readonly Scope[], config: Config): number {
  if (hasScope(granted, 'offline_access')) return Math.min(REFRESH_TTL_SECONDS, config.offlineGrantMaxDays * 86_400);
  if (hasScope(granted, 'online_access')) return ONLINE_GRANT_SECONDS;
  return CODE_TTL_SECONDS + config.accessTokenTtl;
}

export async function completeAuthorization(deps: { config: Config; db: Db; events: SecurityEvents }, res: Response, c: Completion): Promise<void> {
  const { config, db } = deps;
  const issued = await db.transaction(async (tx) => {
    const deleted = await tx.query('DELETE FROM auth_requests WHERE request_id = $1 RETURNING request_id', [c.pending.requestId]);
    if (deleted.length === 0) return null; // completed concurrently (double submit)
    if (c.pending.params.launchId) {
      const used = await tx.query('UPDATE auth_launches SET used_at = now() WHERE launch_id = $1 AND used_at IS NULL RETURNING launch_id', [c.pending.params.launchId]);
      if (used.length === 0) return null;
    }
    const grant = await createGrant(tx, {
      clientId: c.client.clientId,
      kind: c.kind ?? 'patient',
      sub: c.person.sub,
      patientId: c.withPatient ? c.option.patientId : null,
      fhirUser: c.option.fhirUser,
      scope: formatScopes(c.granted),
      context: { ...(c.withPatient ? { need_patient_banner: c.option.needPatientBanner } : {}), ...(c.pending.params.nonce ? { nonce: c.pending.params.nonce } : {}) },
      sessionId: c.person.sessionId,
      authTime: c.person.authTime,
      ttlSeconds: grantLifetime(c.granted, config),
    });
    const code = await issueCode(tx, { grantId: grant.grantId, clientId: c.client.clientId, redirectUri: c.pending.params.redirectUri, codeChallenge: c.pending.params.codeChallenge });
    return { code, grant };
  });
  // The grant-created security event is recorded when the code is exchanged (token.ts): until
  // then the grant is not real (issue 16 §3) and never listed on the manage page.
  const code = issued?.code ?? null;
  const url = new URL(c.pending.params.redirectUri);
  if (code) url.searchParams.set('code', code);
  else {
    url.searchParams.set('error', 'access_denied');
    url.searchParams.set('error_description', 'The authorization request was already completed');
  }
  url.searchParams.set('state', c.pending.params.state);
  url.searchParams.set('iss', config.baseUrl);
  res.redirect(302, url.toString());
}
