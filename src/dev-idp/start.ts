/**
 * Starts the ID-porten stand-in (development and tests only; never in production): the issuer
 * (discovery, token, JWKS, userinfo, logout) on `config.devIdpPort` and the login host (authorize
 * and the login page) on a second port, so code that assumes one host fails here as it would
 * against login.idporten.no. Both listen on the loopback interface only (issue 10 hole 11): the
 * stand-ins accept any test identity, so nothing beyond this machine may reach them, even with
 * ALLOW_DEV_ON_NETWORK=1 (which exposes the API, not the login stand-ins).
 */
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Config } from '../config/config.js';
import type { DevIdpClient, Flavour } from './provider.js';
import { releasingContext } from './release-context.js';
import { designAssetsRouter } from '../http/design-assets.js';

export interface DevIdp {
  /** The issuer identifier; point `idportenIssuer` at it. */
  issuer: string;
  loginOrigin: string;
  /** Negative tests: publish a JWKS whose kids no longer match the id_token signing key. */
  setWrongKid(on: boolean): void;
  close(): Promise<void>;
}

export interface DevIdpOptions {
  /** Further relying parties besides helsebro itself (tests). */
  extraClients?: DevIdpClient[];
  /** `helseid`: the clinician login's stand-in, on `devIdpPort + 2` (login host + 3), for `helseidClientId`. */
  flavour?: Flavour;
}

export async function startDevIdp(config: Config, opts: DevIdpOptions = {}): Promise<DevIdp> {
  if (config.production) throw new Error('the development login stand-ins must not run in production');
  const issuerServer = http.createServer();
  const loginServer = http.createServer();
  const helseid = opts.flavour === 'helseid';
  const port = config.devIdpPort === 0 ? 0 : config.devIdpPort + (helseid ? 2 : 0);
  const issuerPort = await listen(issuerServer, port);
  const loginPort = await listen(loginServer, port === 0 ? 0 : port + 1).catch(async (err: unknown) => {
    await close(issuerServer);
    throw err;
  });
  const issuer = `http://localhost:${issuerPort}`;
  const loginOrigin = `http://localhost:${loginPort}`;
  let wrongKid = false;

  // The provider (oidc-provider and its signing keys, about half a second of CPU) is built in the
  // background: the issuer's address is known once the ports listen, so the server need not wait for
  // it to be ready (issue 17: ready ≤ 5 s after a crash); a request that comes first waits for it.
  const handlers = (async () => {
    const [{ createProvider }, { loginRouter }] = await Promise.all([import('./provider.js'), import('./login.js')]);
    const provider = await createProvider({
      issuer,
      loginOrigin,
      wrongKid: () => wrongKid,
      flavour: opts.flavour ?? 'idporten',
      clients: [
        helseid
          ? {
              client_id: config.helseidClientId,
              client_secret: config.helseidClientSecret,
              redirect_uris: [`${config.baseUrl}/auth/helseid/callback`],
              post_logout_redirect_uris: [`${config.baseUrl}/auth/helseid/logged-out`],
            }
          : {
              client_id: config.idportenClientId,
              client_secret: config.idportenClientSecret,
              redirect_uris: [`${config.baseUrl}/auth/callback`],
              post_logout_redirect_uris: [`${config.baseUrl}/auth/logged-out`],
            },
        ...(opts.extraClients ?? []),
      ],
    });
    const callback = releasingContext(provider.callback());
    const login = express();
    login.disable('x-powered-by');
    // The login page uses the design system like helsebro's own pages, served from this origin.
    login.use(designAssetsRouter());
    login.use(loginRouter(provider, opts.flavour));
    login.use((req, res) => callback(req, res));
    return { callback, login };
  })();
  // Failing to start is answered per request (503) and is not an unhandled rejection.
  handlers.catch(() => undefined);
  const failed = (res: http.ServerResponse, err: unknown) => {
    res.writeHead(503, { 'content-type': 'text/plain' }).end(`The login stand-in failed to start: ${(err as Error).message}`);
  };
  issuerServer.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    void handlers.then(({ callback }) => callback(req, res), (err: unknown) => failed(res, err));
  });
  loginServer.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    void handlers.then(({ login }) => login(req, res), (err: unknown) => failed(res, err));
  });

  return {
    issuer,
    loginOrigin,
    setWrongKid: (on) => {
      wrongKid = on;
    },
    close: async () => {
      await Promise.all([close(issuerServer), close(loginServer)]);
    },
  };
}

/** The stand-ins' only interface; `localhost` in their URLs resolves here. */
export const DEV_IDP_HOST = '127.0.0.1';

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, DEV_IDP_HOST, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
