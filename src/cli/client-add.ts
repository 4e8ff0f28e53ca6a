/**
 * `npm run client:add -- --name "My app" --type public --redirect-uri https://app.example/cb`
 * Registers a SMART client in the configured database (the same metadata rules as dynamic
 * registration) and prints its client_id, and its secret for symmetric clients (shown once).
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config.js';
import { openDatabase } from '../db/open.js';
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
  const db = await openDatabase(config.database);
  try {
    await saveClient(db, { ...client, secret });
  } finally {
    await db.close();
  }
  console.log(JSON.stringify({ client_id: client.clientId, ...(secret ? { client_secret: secret } : {}), token_endpoint_auth_method: client.authMethod, scope: client.scope, redirect_uris: client.redirectUris }, null, 2));
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exit(1);
});
