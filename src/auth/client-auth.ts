/**
 * Who is calling the token, introspection or revocation endpoint. Exactly one method per request
 * (RFC 6749 §2.3): HTTP Basic (client-confidential-symmetric), client_secret_post, private_key_jwt
 * (client-confidential-asymmetric), or a bare client_id for public clients. A confidential client
 * that does not authenticate is refused; a failure after Basic is 401 with WWW-Authenticate (§5.2).
 */
import type { Request } from 'express';
import type { Queryable } from '../db/db.js';
import { ASSERTION_TYPE, verifyClientAssertion, type JwksFetcher } from './client-assertion.js';
import { getClient, matchesDigest, type AuthMethod, type Client } from './clients.js';
import { OAuthError, param } from './oauth-errors.js';

export interface AuthenticatedClient {
  client: Client;
  method: AuthMethod;
}

const BASIC_CHALLENGE = 'Basic realm="helsebro", charset="UTF-8"';

export async function authenticateClient(db: Queryable, req: Request, tokenUrl: string, jwks: JwksFetcher): Promise<AuthenticatedClient> {
  const body: unknown = req.body;
  const authorization = req.get('authorization');
  const assertionType = param(body, 'client_assertion_type');
  const assertion = param(body, 'client_assertion');
  const postedSecret = param(body, 'client_secret');
  const postedId = param(body, 'client_id');

  const used = [authorization?.startsWith('Basic ') ? 1 : 0, assertion ? 1 : 0, postedSecret ? 1 : 0].reduce((a, b) => a + b, 0);
  if (used > 1) throw new OAuthError('invalid_request', 'Use exactly one client authentication method');

  if (authorization?.startsWith('Basic ')) {
    const creds = parseBasic(authorization);
    const client = creds ? await getClient(db, creds.id) : null;
    const ok = !!client && !!creds && (client.authMethod === 'client_secret_basic' || client.authMethod === 'client_secret_post') && matchesDigest(creds.secret, client.secretHash);
    if (!ok || (postedId !== undefined && postedId !== creds!.id)) throw new OAuthError('invalid_client', 'Client authentication failed', 401, BASIC_CHALLENGE);
    return { client: client!, method: 'client_secret_basic' };
  }

  if (assertion || assertionType) {
    if (assertionType !== ASSERTION_TYPE || !assertion) throw new OAuthError('invalid_client', `client_assertion_type must be ${ASSERTION_TYPE}`);
    const client = await verifyClientAssertion(db, assertion, tokenUrl, jwks);
    if (postedId !== undefined && postedId !== client.clientId) throw new OAuthError('invalid_client', 'client_id does not match the client assertion');
    return { client, method: 'private_key_jwt' };
  }

  if (!postedId) throw new OAuthError('invalid_client', 'Client authentication is required', 401, BASIC_CHALLENGE);
  const client = await getClient(db, postedId);
  if (!client) throw new OAuthError('invalid_client', 'Unknown client');
  if (postedSecret !== undefined) {
    if (client.authMethod !== 'client_secret_post' || !matchesDigest(postedSecret, client.secretHash)) throw new OAuthError('invalid_client', 'Client authentication failed');
    return { client, method: 'client_secret_post' };
  }
  if (client.clientType !== 'public') throw new OAuthError('invalid_client', 'This client must authenticate', 401, BASIC_CHALLENGE);
  return { client, method: 'none' };
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before base64. */
function parseBasic(header: string): { id: string; secret: string } | null {
  let decoded: string;
  try {
    decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  } catch {
    return null;
  }
  const colon = decoded.indexOf(':');
  if (colon <= 0) return null;
  try {
    return { id: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')), secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')) };
  } catch {
    return null;
  }
}
