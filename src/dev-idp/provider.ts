/**
 * oidc-provider configured to behave like ID-porten for our relying party (access-spec §2, stand-in
 * requirements 1–5): code flow only, PKCE S256, state and nonce mandatory, single-use codes living
 * 60 s, `iss` in the authorization response, id_tokens with `pid`, pairwise `sub`, `acr`,
 * `amr: ["TestID"]`, `locale`, `auth_time`, RS256-signed (`sid`, as at ID-porten, only for
 * clients registered for front-channel logout). The `helseid` flavour imitates HelseID for the
 * clinician login instead: the account is an HPR number, the id_token carries
 * `helseid://claims/hpr/hpr_number`, and `acr` is `Level4`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider, { type KoaContext, type OidcContext } from 'oidc-provider';
import { HELSEID_ACR, HPR_CLAIM } from '../auth/clinician-login.js';
import { memoryAdapter } from './memory-adapter.js';

export const ACR_LEVELS = ['idporten-loa-substantial', 'idporten-loa-high'] as const;

/** Which real provider a stand-in imitates: ID-porten (citizens) or HelseID (clinicians). */
export type Flavour = 'idporten' | 'helseid';
export { HELSEID_ACR, HPR_CLAIM };

export interface DevIdpClient {
  client_id: string;
  client_secret?: string;
  redirect_uris: string[];
  post_logout_redirect_uris?: string[];
  token_endpoint_auth_method?: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none';
  grant_types?: string[];
  jwks?: { keys: JWK[] };
  /** ID-porten's self-service downgrade (`code_challenge_method=none` on the client): PKCE not required. */
  pkceOptional?: boolean;
}

export interface ProviderOptions {
  issuer: string;
  /** Origin of the separate login host (authorize + login pages), access-spec §2 stand-in item 1. */
  loginOrigin: string;
  clients: DevIdpClient[];
  /** Returns true while the stand-in publishes a JWKS whose kids do not match its signing key. */
  wrongKid: () => boolean;
  /** Default `idporten`. */
  flavour?: Flavour;
}

/** A stable pairwise subject per (client sector, person), like ID-porten's per-client `sub`. */
function pairwise(sector: string, accountId: string): string {
  return createHash('sha256').update(`helsebro-dev-idp|${sector}|${accountId}`).digest('base64url');
}

export async function createProvider(opts: ProviderOptions): Promise<Provider> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  const signingJwk = { ...(await exportJWK(privateKey)), kid: `dev-idp-${randomBytes(4).toString('hex')}`, alg: 'RS256', use: 'sig' };
  const pkceOptional = new Set(opts.clients.filter((c) => c.pkceOptional).map((c) => c.client_id));
  const helseid = opts.flavour === 'helseid';
  // HelseID: the account id is the HPR number; the id_token carries it under HelseID's claim name.
  const idClaims = helseid ? [HPR_CLAIM] : ['pid', 'locale'];
  const name = helseid ? 'HelseID' : 'ID-porten';

  const configuration: Record<string, unknown> = {
    adapter: memoryAdapter(),
    clients: opts.clients.map(({ pkceOptional: _p, ...c }) => ({
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
      subject_type: 'pairwise',
      ...c,
    })),
    jwks: { keys: [signingJwk] },
    // Both stand-ins run on localhost, and cookies ignore ports: the HelseID one needs its own names.
    cookies: {
      keys: [randomBytes(32).toString('hex')],
      ...(helseid ? { names: { session: '_helseid_session', interaction: '_helseid_interaction', resume: '_helseid_interaction_resume' } } : {}),
    },
    routes: {
      authorization: '/authorize',
      token: '/token',
      jwks: '/jwks.json',
      userinfo: '/userinfo',
      end_session: '/logout',
      pushed_authorization_request: '/par',
      revocation: '/revoke',
      introspection: '/introspect',
    },
    responseTypes: ['code'],
    scopes: ['openid', 'profile'],
    claims: { openid: ['sub', 'acr', 'amr', 'auth_time', ...idClaims], profile: idClaims },
    // ID-porten puts `pid` (HelseID the HPR number) in the id_token itself, not only behind userinfo.
    conformIdTokenClaims: false,
    acrValues: helseid ? [HELSEID_ACR] : [...ACR_LEVELS],
    subjectTypes: ['public', 'pairwise'],
    pairwiseIdentifier: (_ctx: unknown, accountId: string, client: { sectorIdentifier: string }) => pairwise(client.sectorIdentifier, accountId),
    pkce: { required: (_ctx: unknown, client: { clientId: string }) => !pkceOptional.has(client.clientId) },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx: KoaContext, form: string) => {
          ctx.type = 'html';
          ctx.body = `<!doctype html><html lang="nb"><meta charset="utf-8"><title>Logg ut – ${name} (test)</title><h1>Logg ut? <span lang="en">/ Log out?</span></h1>${form}<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Logg ut / Log out</button></html>`;
        },
        postLogoutSuccessSource: (ctx: KoaContext) => {
          ctx.type = 'html';
          ctx.body = '<!doctype html><html lang="nb"><meta charset="utf-8"><title>Logget ut</title><h1>Du er logget ut <span lang="en">/ You are logged out</span></h1></html>';
        },
      },
      pushedAuthorizationRequests: { enabled: true },
      revocation: { enabled: true },
    },
    ttl: { AuthorizationCode: 60, AccessToken: 599, IdToken: 599, Interaction: 600, Session: 3600, Grant: 3600 },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    findAccount: (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: () => (helseid ? { sub: id, [HPR_CLAIM]: id } : { sub: id, pid: id, locale: 'nb' }),
    }),
    // ID-porten asks for no consent to log in; grant openid/profile straight away.
    loadExistingGrant: async (ctx: OidcContext) => {
      const { client, session, result, provider } = ctx.oidc;
      if (!client || !session?.accountId) return undefined;
      const existing = result?.consent?.grantId ?? session.grantIdFor(client.clientId);
      if (existing) return provider.Grant.find(existing);
      const grant = new provider.Grant({ accountId: session.accountId, clientId: client.clientId });
      grant.addOIDCScope('openid profile');
      grant.addOIDCClaims(idClaims);
      await grant.save();
      return grant;
    },
    renderError: (ctx: KoaContext, out: Record<string, string>) => {
      ctx.type = 'html';
      ctx.body = `<!doctype html><html lang="en"><meta charset="utf-8"><title>${name} (dev) error</title><h1>${escape(out.error ?? 'error')}</h1><p>${escape(out.error_description ?? '')}</p></html>`;
    },
  };

  const provider = new Provider(opts.issuer, configuration);
  provider.use(async (ctx, next) => {
    // The new ID-porten forces state and nonce (access-spec §2 /authorize behaviour).
    if (ctx.path === '/authorize' && ctx.method === 'GET' && (!ctx.query.state || !ctx.query.nonce)) {
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = '<!doctype html><html lang="en"><meta charset="utf-8"><title>invalid_request</title><h1>invalid_request</h1><p>state and nonce are required</p></html>';
      return;
    }
    await next();
    if (ctx.path === '/.well-known/openid-configuration' && ctx.body && typeof ctx.body === 'object') {
      // The real ID-porten serves /authorize from another host (login.idporten.no).
      (ctx.body as Record<string, unknown>).authorization_endpoint = `${opts.loginOrigin}/authorize`;
    }
    if (ctx.path === '/jwks.json' && opts.wrongKid() && ctx.body && typeof ctx.body === 'object') {
      const body = ctx.body as { keys: Array<Record<string, unknown>> };
      ctx.body = { keys: body.keys.map((k) => ({ ...k, kid: `${String(k.kid)}-rotated-away` })) };
    }
  });
  return provider;
}

function escape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
