/**
 * SMART App Launch 2.2 standalone launch for a public browser client: discovery from the FHIR
 * base's /.well-known/smart-configuration, authorization code with PKCE S256 (crypto.subtle) and
 * `state`, the code exchanged at the token endpoint. The token lives in sessionStorage only (gone
 * when the tab closes); the portal asks for no refresh token (no offline_access).
 */
/* global window, crypto, sessionStorage, fetch, TextEncoder, URL, URLSearchParams, atob, location, history */

const PENDING = 'helsebro-portal-pending';
const SESSION = 'helsebro-portal-session';

/** Read-only access to the record, the person's identity (fhirUser) and the picker (launch/patient). */
export const PORTAL_REQUEST_SCOPE = 'openid fhirUser launch/patient patient/*.rs';

function base64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return window.btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(n = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

async function s256(verifier) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

export async function loadSettings() {
  const res = await fetch('/portal/settings.json', { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`settings: ${res.status}`);
  return res.json();
}

export async function discover(fhirBase) {
  const res = await fetch(`${fhirBase}/.well-known/smart-configuration`, { headers: { accept: 'application/json' } });
  if (!res.ok) {
    const err = new Error(`discovery: ${res.status}`);
    err.status = res.status;
    throw err;
  }
  return res.json();
}

/** Sends the browser to the authorization endpoint; the picker there chooses whom the token is for. */
export async function startLaunch(settings, ui) {
  const smart = await discover(settings.fhirBase);
  if (!(smart.code_challenge_methods_supported ?? []).includes('S256')) throw new Error('the server does not offer PKCE S256');
  const verifier = randomString(48);
  const state = randomString(24);
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, tokenEndpoint: smart.token_endpoint }));
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: settings.clientId,
    redirect_uri: settings.redirectUri,
    scope: PORTAL_REQUEST_SCOPE,
    state,
    aud: settings.fhirBase,
    code_challenge: await s256(verifier),
    code_challenge_method: 'S256',
    ui_locales: ui,
  });
  location.assign(`${smart.authorization_endpoint}?${params}`);
}

/** Decodes a JWT's claims without verifying it: used only for the id_token just received from the token endpoint over this origin's connection (OIDC Core §3.1.3.7 item 6), for display. */
function claimsOf(jwt) {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(Array.from(atob(part), (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''));
    return JSON.parse(json);
  } catch {
    return {};
  }
}

/**
 * On /portal/callback: checks `state`, exchanges the code with the PKCE verifier and stores the
 * session. Returns `{ session }`, `{ error, description }`, or null when this is not a callback.
 */
export async function completeLaunch(settings) {
  const url = new URL(location.href);
  if (!url.pathname.endsWith('/portal/callback')) return null;
  const params = url.searchParams;
  history.replaceState(null, '', '/portal');
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null');
  sessionStorage.removeItem(PENDING);
  if (params.get('error')) return { error: params.get('error'), description: params.get('error_description') ?? '' };
  if (!pending || !params.get('code') || params.get('state') !== pending.state) return { error: 'state_mismatch', description: '' };
  const res = await fetch(pending.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: params.get('code'),
      redirect_uri: settings.redirectUri,
      client_id: settings.clientId,
      code_verifier: pending.verifier,
    }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok || !body.access_token) return { error: body.error ?? `http_${res.status}`, description: body.error_description ?? '' };
  const idClaims = body.id_token ? claimsOf(body.id_token) : {};
  const session = {
    accessToken: body.access_token,
    expiresAt: Date.now() + (Number(body.expires_in) || 300) * 1000,
    scope: body.scope ?? '',
    patient: body.patient ?? null,
    fhirUser: idClaims.fhirUser ?? null,
    needPatientBanner: body.need_patient_banner === true,
  };
  sessionStorage.setItem(SESSION, JSON.stringify(session));
  return { session };
}

export function currentSession() {
  return JSON.parse(sessionStorage.getItem(SESSION) ?? 'null');
}

/** Remembers display facts (names) with the session, so a reload during an outage still says whom it is for. */
export function rememberInSession(patch) {
  const session = currentSession();
  if (session) sessionStorage.setItem(SESSION, JSON.stringify({ ...session, ...patch }));
}

export function endSession() {
  sessionStorage.removeItem(SESSION);
  sessionStorage.removeItem(PENDING);
}
