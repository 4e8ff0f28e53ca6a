/**
 * /auth/authorize (GET and POST, `authorize-post`): validates the request in the order the error
 * catalogue needs (access-spec §1.12). Client and redirect URI problems are shown as a page and
 * never redirected (RFC 6749 §4.1.2.1); everything after that redirects `error=…&state=…` to the
 * app. A valid request is parked in `auth_requests` and the browser continues to the login flow.
 */
import type { Request, Response } from 'express';
import type { Config } from '../config/config.js';
import type { Queryable } from '../db/db.js';
import { getClient, randomToken, type Client } from './clients.js';
import { OAuthError, param } from './oauth-errors.js';
import { formatScopes, hasScope, intersectScopes, parseScopes } from '../identity/scopes.js';
import { errorPage } from './pages/error-page.js';
import { HELSEID_PATH } from './clinician-login.js';
import { hasUserScopes } from './policy.js';
import type { RefusalReason } from './refusals.js';

export const REQUEST_TTL_SECONDS = 15 * 60;

/** The validated request, as stored until the code is issued. */
export interface PendingParams {
  redirectUri: string;
  state: string;
  /** requested ∩ client policy; the person's ceiling is applied after the picker. */
  scope: string;
  codeChallenge: string;
  nonce: string | null;
  /** EHR launch: the launch id and the patient it fixes. */
  launchId: string | null;
  launchPatientId: string | null;
  /** Who the portal issued the launch for: only that person may complete it. */
  launchSub: string | null;
  /** `helseid`: a clinician's request (user/ scopes), logged in through HelseID, not ID-porten. */
  login?: 'helseid';
  /** Set when the flow refused: the refusal page is shown until the person returns to the app. */
  refusal?: RefusalReason;
}

export interface PendingRequest {
  requestId: string;
  clientId: string;
  params: PendingParams;
  csrf: string;
  sub: string | null;
  patientId: string | null;
}

/** The page for a request we cannot answer to the app (its client or redirect URI is wrong). */
const INVALID_REQUEST = {
  title: { nb: 'Appen sendte en ugyldig forespørsel', en: 'The app sent an invalid request' },
  body: {
    nb: 'Vi kan ikke sende deg trygt tilbake til appen, fordi appen ikke er registrert eller oppga en adresse som ikke er registrert. Lukk siden og kontakt den som lager appen hvis feilen gjentar seg.',
    en: 'We cannot send you safely back to the app, because the app is not registered or gave an address that is not registered. Close this page and contact the app’s maker if it happens again.',
  },
};

/** Raised for problems that must not redirect (unknown client, bad redirect URI). */
export class AuthorizePageError extends Error {}

const PKCE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/; // base64url SHA-256 without padding (RFC 7636 §4.2)

export async function handleAuthorize(db: Queryable, config: Config, req: Request, res: Response): Promise<void> {
  const source: unknown = req.method === 'POST' ? req.body : req.query;
  let client: Client;
  let redirectUri: string;
  let state: string | undefined;
  try {
    ({ client, redirectUri } = await clientAndRedirect(db, source));
    state = param(source, 'state');
  } catch (err) {
    if (err instanceof AuthorizePageError || err instanceof OAuthError) {
      res.status(400);
      errorPage(req, res, INVALID_REQUEST.title, INVALID_REQUEST.body, err instanceof OAuthError ? err.description : err.message);
      return;
    }
    throw err;
  }
  try {
    const params = await validateRest(db, config, client, redirectUri, source);
    const requestId = randomToken(24);
    await db.query(
      `INSERT INTO auth_requests (request_id, client_id, params, csrf, expires_at) VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))`,
      [requestId, client.clientId, JSON.stringify(params), randomToken(24), REQUEST_TTL_SECONDS],
    );
    res.redirect(303, flowUrl(config, requestId, params));
  } catch (err) {
    if (err instanceof OAuthError) {
      redirectWithError(res, config, redirectUri, err.code, err.description, state);
      return;
    }
    throw err;
  }
}

async function clientAndRedirect(db: Queryable, source: unknown): Promise<{ client: Client; redirectUri: string }> {
  const clientId = param(source, 'client_id');
  if (!clientId) throw new AuthorizePageError('client_id is missing');
  const client = await getClient(db, clientId);
  if (!client) throw new AuthorizePageError('The client_id is not registered');
  const redirectUri = param(source, 'redirect_uri');
  if (!redirectUri) throw new AuthorizePageError('redirect_uri is missing');
  // Exact string match (RFC 9700 §2.1): no prefix, no normalisation.
  if (!client.redirectUris.includes(redirectUri)) throw new AuthorizePageError('redirect_uri is not registered for this client');
  return { client, redirectUri };
}

async function validateRest(db: Queryable, config: Config, client: Client, redirectUri: string, source: unknown): Promise<PendingParams> {
  const responseType = param(source, 'response_type');
  if (responseType !== 'code') throw new OAuthError('unsupported_response_type', 'Only response_type=code is supported');
  if (!client.grantTypes.includes('authorization_code')) throw new OAuthError('unauthorized_client', 'This client may not use the authorization code grant');
  const state = param(source, 'state');
  if (!state) throw new OAuthError('invalid_request', 'state is required');
  const aud = param(source, 'aud') ?? param(source, 'resource');
  if (!aud) throw new OAuthError('invalid_request', 'aud is required');
  if (aud.replace(/\/+$/, '') !== config.fhirBase) throw new OAuthError('invalid_request', 'aud is not the FHIR base URL of this server');
  const challenge = param(source, 'code_challenge');
  const method = param(source, 'code_challenge_method');
  if (!challenge || !method) throw new OAuthError('invalid_request', 'PKCE code_challenge and code_challenge_method are required');
  if (method !== 'S256') throw new OAuthError('invalid_request', 'Only code_challenge_method=S256 is supported');
  if (!PKCE_CHALLENGE.test(challenge)) throw new OAuthError('invalid_request', 'code_challenge must be a base64url SHA-256 value');

  const launch = param(source, 'launch');
  let launchPatientId: string | null = null;
  let launchSub: string | null = null;
  if (launch !== undefined) {
    const rows = await db.query<{ patient_id: string; sub: string; [k: string]: unknown }>(
      'SELECT patient_id, sub FROM auth_launches WHERE launch_id = $1 AND client_id = $2 AND expires_at > now() AND used_at IS NULL',
      [launch, client.clientId],
    );
    if (!rows[0]) throw new OAuthError('invalid_request', 'launch is unknown, expired or for another app');
    launchPatientId = rows[0].patient_id;
    launchSub = rows[0].sub;
  }

  let requested = parseScopes(param(source, 'scope'));
  // online_access is for EHR launches only (scopes §online_access).
  if (launch === undefined) requested = requested.filter((s) => !(s.kind === 'named' && s.name === 'online_access'));
  const allowed = intersectScopes(requested, parseScopes(client.scope));
  if (allowed.length === 0) throw new OAuthError('invalid_scope', 'None of the requested scopes can be granted to this client');
  if (launch !== undefined && !hasScope(requested, 'launch')) throw new OAuthError('invalid_scope', 'An EHR launch needs the launch scope');
  // user/ scopes make it a clinician's request (HelseID); without a configured HelseID the citizen
  // flow cuts them (citizens never receive user/ scopes).
  const clinician = !!config.helseidIssuer && hasUserScopes(allowed);
  if (clinician && launch !== undefined) throw new OAuthError('invalid_request', 'An EHR launch from the portal is for citizens; it cannot carry user/ scopes');

  return {
    redirectUri,
    state,
    scope: formatScopes(allowed),
    codeChallenge: challenge,
    nonce: param(source, 'nonce') ?? null,
    launchId: launch ?? null,
    launchPatientId,
    launchSub,
    ...(clinician ? { login: 'helseid' as const } : {}),
  };
}

/** The login flow a parked request continues in: the citizen's (ID-porten) or the clinician's (HelseID). */
export function flowUrl(config: Config, requestId: string, params: PendingParams): string {
  return params.login === 'helseid' ? `${config.baseUrl}${HELSEID_PATH}/flow/${requestId}` : `${config.baseUrl}/auth/flow/${requestId}`;
}

/** The app's redirect URI carrying an OAuth error, the exact `state` and `iss` (RFC 6749 §4.1.2.1, RFC 9207). */
export function errorRedirectUrl(config: Config, redirectUri: string, error: string, description: string, state: string | undefined): string {
  const url = new URL(redirectUri);
  url.searchParams.set('error', error);
  url.searchParams.set('error_description', description);
  if (state !== undefined) url.searchParams.set('state', state);
  url.searchParams.set('iss', config.baseUrl);
  return url.toString();
}

export function redirectWithError(res: Response, config: Config, redirectUri: string, error: string, description: string, state: string | undefined): void {
  res.redirect(302, errorRedirectUrl(config, redirectUri, error, description, state));
}

export async function loadPending(db: Queryable, requestId: string): Promise<PendingRequest | null> {
  if (!/^[A-Za-z0-9_-]{20,64}$/.test(requestId)) return null;
  const rows = await db.query<{ request_id: string; client_id: string; params: PendingParams; csrf: string; sub: string | null; patient_id: string | null; [k: string]: unknown }>(
    'SELECT request_id, client_id, params, csrf, sub, patient_id FROM auth_requests WHERE request_id = $1 AND expires_at > now()',
    [requestId],
  );
  const r = rows[0];
  return r ? { requestId: r.request_id, clientId: r.client_id, params: r.params, csrf: r.csrf, sub: r.sub, patientId: r.patient_id } : null;
}
