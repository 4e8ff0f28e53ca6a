/**
 * `npm run client:add -- --name "My app" --type public --redirect-uri https://app.example/cb`
 * Registers a SMART client in the configured database (the same metadata rules as dynamic
 * registration) and prints its client_id, and its secret for symmetric clients (shown once).
 * While a server holds the embedded database (its folder lock), the client is registered through
 * that server's registration endpoint instead (RFC 7591, `POST BASE_URL/auth/register`, with
 * REGISTRATION_TOKEN as the initial access token when set): the server stays the only writer of
 * its folder, and the same checks apply.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config.js';
import { openDatabase } from '../db/open.js';
import { DataDirLockedError } from '../db/lock.js';
import { randomToken, saveClient } from '../auth/clients.js';
import { parseMetadata } from '../auth/registration.js';
import { OAuthError } from '../auth/oauth-errors.js';

const USAGE = `Usage: npm run client:add -- --name NAME --type public|symmetric|asymmetric|backend [options]
  --redirect-uri URI     (repeatable) exact redirect URI of a user-facing app
  --launch-uri URI       where the portal sends EHR launches
  --scope "SCOPES"       the client's ceiling (default: read access for apps, system/*.rs for backends)
  --jwks-uri URI         JWKS URL for asymmetric/backend clients (preferred)
  --jwks-file FILE       inline JWKS (public keys) for asymmetric/backend clients
  --client-id ID         choose the client id instead of a random one`;

const METHOD = { public: 'none', symmetric: 'client_secret_basic', asymmetric: 'private_key_jwt', backend: 'private_key_jwt' } as const;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      name: { type: 'string' },
      type: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      'launch-uri': { type: 'string' },
      scope: { type: 'string' },
      'jwks-uri': { type: 'string' },
      'jwks-file': { type: 'string' },
      'client-id': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  const type = values.type as keyof typeof METHOD | undefined;
  if (values.help || !values.name || !type || !(type in METHOD)) {
    console.log(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  const config = loadConfig();
  const backend = type === 'backend';
  const metadata = {
    client_name: values.name,
    token_endpoint_auth_method: METHOD[type],
    grant_types: backend ? ['client_credentials'] : ['authorization_code', 'refresh_token'],
    redirect_uris: values['redirect-uri'] ?? [],
    ...(values['launch-uri'] ? { launch_uri: values['launch-uri'] } : {}),
    ...(values.scope ? { scope: values.scope } : {}),
    ...(values['jwks-uri'] ? { jwks_uri: values['jwks-uri'] } : {}),
    ...(values['jwks-file'] ? { jwks: JSON.parse(fs.readFileSync(values['jwks-file'], 'utf8')) as unknown } : {}),
  };
  let client;
  try {
    client = parseMetadata(metadata, config);
  } catch (err) {
    if (err instanceof OAuthError) {
      console.error(`${err.code}: ${err.description}`);
      process.exit(2);
    }
    throw err;
  }
  if (values['client-id']) client.clientId = values['client-id'];
  const secret = client.clientType === 'confidential-symmetric' ? randomToken(32) : undefined;
  let db;
  try {
    db = await openDatabase(config.database);
  } catch (err) {
    if (!(err instanceof DataDirLockedError)) throw err;
    if (values['client-id']) {
      console.error('The server is running and holds the database; it chooses client ids itself. Leave out --client-id, or stop the server.');
      process.exit(2);
    }
    console.log(JSON.stringify(await registerThroughServer(config.baseUrl, metadata, config.registrationToken ?? undefined), null, 2));
    return;
  }
  try {
    await saveClient(db, { ...client, secret });
  } finally {
    await db.close();
  }
  console.log(JSON.stringify({ client_id: client.clientId, ...(secret ? { client_secret: secret } : {}), token_endpoint_auth_method: client.authMethod, scope: client.scope, redirect_uris: client.redirectUris }, null, 2));
}

/** RFC 7591 registration at the running server; prints what `client:add` prints offline. */
async function registerThroughServer(baseUrl: string, metadata: Record<string, unknown>, token?: string): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetch(`${baseUrl}/auth/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(metadata),
    });
  } catch (err) {
    throw new Error(`The database is in use by a server, but ${baseUrl}/auth/register did not answer (${(err as Error).message}). Is BASE_URL (or PORT) the running server's?`, { cause: err });
  }
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (res.status !== 201) throw new Error(`${baseUrl}/auth/register answered ${res.status}: ${String(body.error ?? '')} ${String(body.error_description ?? '')}`.trim());
  const { client_id, client_secret, token_endpoint_auth_method, scope, redirect_uris } = body;
  return { client_id, ...(client_secret ? { client_secret } : {}), token_endpoint_auth_method, scope, redirect_uris, registered_through: `${baseUrl}/auth/register` };
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exit(1);
});
