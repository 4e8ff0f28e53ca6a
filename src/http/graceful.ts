/**
 * Graceful shutdown of the HTTP listener (issue 17 §2): requests that reached the server before
 * SIGTERM get their answer, not a reset.
 *
 * What makes it hold, step by step:
 * 1. From the signal on, every response the server has not started yet carries `Connection: close`,
 *    also those of requests already in flight, so no client sends another request on a connection
 *    the server is about to close (a request racing a server-side close is what gets reset).
 * 2. The listener stops only after one full turn of the event loop's I/O phase: connections the
 *    kernel had completed before the signal are accepted and requests already in the socket buffers
 *    are parsed (closing a listener resets the connections still in its accept queue).
 * 3. A connection is closed by the server only when it carries no request, judged right after an
 *    I/O phase (in a `setImmediate`), so a request already in its socket buffer is read first (after
 *    a blocked event loop, timers run before I/O). An idle keep-alive connection is closed only once
 *    it has been idle for the keep-alive timeout the server announced in each response
 *    (`Keep-Alive: timeout=5`) plus a margin (below). A connection idle for longer than that before
 *    the signal is closed at once.
 * 4. Whatever is still running at the deadline is cut, so shutdown stays bounded.
 *
 * Keep-alive in normal operation (issue 17, resets under ordinary load): a client may reuse an idle
 * connection until the announced `Keep-Alive: timeout` has passed, counted from when it *read* the
 * last response; undici stops 1–2 s before. Node closes an idle connection `keepAliveTimeout` + 1 s
 * (its internal buffer) after it *wrote* that response and announces `keepAliveTimeout`. A client
 * whose event loop runs more than that second late (a test client waiting seconds for a CPU) sends
 * its next request as the server closes the connection, and the server's kernel answers it with a
 * reset (ECONNRESET, "socket hang up", "other side closed"). So the server announces `keepAliveMs`
 * and keeps an idle connection `marginMs` longer (plus Node's second); test/operations/keep-alive.test.ts.
 */
import type http from 'node:http';
import net, { type Socket } from 'node:net';
import { setImmediate as nextCheck } from 'node:timers/promises';

export interface Drain {
  /** True from the signal on; the request handler then answers `/readyz` with 503. */
  readonly closing: boolean;
  /** Number of open connections (for the shutdown log). */
  readonly connections: number;
  /** Stops accepting and resolves when every connection is closed or `deadlineMs` has passed (false then). */
  drain(deadlineMs: number): Promise<boolean>;
}

/**
 * Tracks the server's connections and in-flight responses; call `handle(req, res)` first in the
 * request listener (it sets `Connection: close` during shutdown).
 */
export interface KeepAlive {
  /** The idle time announced in `Keep-Alive: timeout=…` (whole seconds; default 5 s, Node's own). */
  keepAliveMs?: number;
  /** How much longer than announced an idle connection is kept open (default 2 s). */
  marginMs?: number;
}

export function trackConnections(server: http.Server, { keepAliveMs = 5000, marginMs = 2000 }: KeepAlive = {}): Drain & { handle(req: http.IncomingMessage, res: http.ServerResponse): void } {
  const announced = `timeout=${Math.max(1, Math.floor(keepAliveMs / 1000))}`;
  server.keepAliveTimeout = keepAliveMs + marginMs;
  // The headers of the next request on a kept-alive connection may arrive at any time within it.
  server.headersTimeout = Math.max(server.headersTimeout, server.keepAliveTimeout + 1000);
  const sockets = new Map<Socket, { busy: number; idleSince: number }>();
  const inFlight = new Set<http.ServerResponse>();
  let closing = false;

  server.on('connection', (socket: Socket) => {
    sockets.set(socket, { busy: 0, idleSince: Date.now() });
    socket.once('close', () => sockets.delete(socket));
  });

  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const state = sockets.get(req.socket);
    if (state) state.busy++;
    inFlight.add(res);
    res.once('close', () => {
      inFlight.delete(res);
      if (state) {
        state.busy--;
        state.idleSince = Date.now();
      }
    });
    // A Keep-Alive header set here replaces Node's own (which would announce keepAliveTimeout, the margin included).
    if (closing) res.setHeader('Connection', 'close');
    else res.setHeader('Keep-Alive', announced);
  };

  const drain = async (deadlineMs: number): Promise<boolean> => {
    closing = true;
    const started = Date.now();
    // 1. In-flight responses not yet begun end their connection once sent.
    for (const res of inFlight) {
      if (res.headersSent) continue;
      res.setHeader('Connection', 'close');
      res.removeHeader('Keep-Alive');
    }
    // 2. One full I/O phase after the signal: accept what the kernel completed, parse what arrived.
    await nextCheck();
    await nextCheck();
    // Stop accepting new connections only (http.Server.close would also cut idle keep-alive ones at once).
    const listenerClosed = new Promise<void>((resolve) => (server.listening ? server.once('close', () => resolve()) : resolve()));
    if (server.listening) net.Server.prototype.close.call(server);
    // 3. Close connections as they fall idle, judged right after an I/O phase.
    for (;;) {
      const now = Date.now();
      for (const [socket, state] of sockets) {
        if (state.busy > 0) continue;
        // A connection whose last response said `Connection: close` is closed by Node itself.
        if (now - state.idleSince >= server.keepAliveTimeout) socket.destroySoon();
      }
      if (sockets.size === 0) break;
      // 4. The deadline.
      if (now - started >= deadlineMs) {
        for (const socket of sockets.keys()) socket.destroy();
        await listenerClosed;
        return false;
      }
      await new Promise((r) => setTimeout(r, 50));
      await nextCheck();
    }
    await listenerClosed;
    return true;
  };

  return {
    handle,
    drain,
    get closing() {
      return closing;
    },
    get connections() {
      return sockets.size;
    },
  };
}
