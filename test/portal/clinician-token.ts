/** A clinician's token for the portal workflow tests: Anne Lund through the HelseID stand-in, user/ scopes. */
import { APP_REDIRECT, exchange, launch, registerApp } from '../auth/support.js';
import type { World } from '../access/world.js';

/** Reads everything clinical, writes and marks messages, attaches files (user/ scopes). */
export async function clinicianToken(w: World, scope = 'openid fhirUser user/*.rs user/Communication.cu user/Binary.c'): Promise<string> {
  const app = await registerApp(w.s, { client_name: 'Journal', redirect_uris: [APP_REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], scope });
  const t = await exchange(w.s, app.client_id, await launch(w.s, { clientId: app.client_id, pid: '', hpr: '9999001', scope }));
  if (t.status !== 200) throw new Error(`clinician token: ${JSON.stringify(t.body)}`);
  return String(t.body.access_token);
}
