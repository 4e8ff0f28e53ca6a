/**
 * The login stand-in must not change what the API beside it costs. oidc-provider keeps each of its
 * requests' context in an AsyncLocalStorage; on Node 20 the first `run` of one installs an async
 * hook that stays on for the process's life, and from then on every promise of every request —
 * reads by id included — pays for copying the store (V8 promise hooks). In development and in the
 * bench (which takes its citizen tokens through this stand-in in the server's process) a read cost
 * ~5–8 % more CPU once anyone had logged in (docs/bench.md "Read latency and cost per request").
 * So the storage is disabled whenever no request of the provider is in flight; its next request's
 * `run` enables it again. The count covers the provider's whole handling (Koa resolves its promise
 * after the response is written or has failed), so no request of it loses its context.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import als from 'oidc-provider/lib/helpers/als.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => unknown;

let inFlight = 0;

/** `handler` (the provider's Koa callback) with the provider's context storage released between requests. */
export function releasingContext(handler: Handler): Handler {
  return (req, res) => {
    inFlight++;
    const done = () => {
      if (--inFlight === 0) als.disable();
    };
    let result: unknown;
    try {
      result = handler(req, res);
    } catch (err) {
      done();
      throw err;
    }
    return Promise.resolve(result).finally(done);
  };
}
