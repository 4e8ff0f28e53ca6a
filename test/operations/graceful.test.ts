/**
 * Graceful shutdown's connection handling (issue 17 §2, src/http/graceful.ts) on a real HTTP server
 * on a loopback port 0 and raw keep-alive connections: every request that reached the server before
 * the drain began is answered, with `Connection: close`, even when the event loop was blocked
 * (a long synchronous PGlite statement) while the request waited in the socket buffer.
 */
import { expect } from 'chai';
import http from 'node:http';
import net from 'node:net';
import { trackConnections } from '../../src/http/graceful.js';
import { connectRaw as connect } from '../support/raw-socket.js';

const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n`;
const statusLines = (text: string) => text.match(/^HTTP\/1\.1 \d+/gm) ?? [];

describe('graceful shutdown: connections', () => {
  let server: http.Server;
  let drain: ReturnType<typeof trackConnections>;
  let port: number;
  let received: string[];

  beforeEach(async () => {
    server = http.createServer();
    // Announces 1 s and keeps an idle connection 1.5 s (the margin, src/http/graceful.ts).
    drain = trackConnections(server, { keepAliveMs: 1000, marginMs: 500 });
    received = [];
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      drain.handle(req, res);
      received.push(req.url ?? '');
      // A slow request takes 300 ms, like a database round trip under load.
      setTimeout(() => res.end(`answered ${req.url}\n`), req.url === '/slow' ? 300 : 0);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    port = (server.address() as net.AddressInfo).port;
  });

  afterEach(() => {
    server.closeAllConnections();
    if (server.listening) server.close();
  });

  it('answers the request in flight and the one waiting unread behind a blocked event loop; both say Connection: close', async () => {
    const inFlight = await connect(port);
    const idle = await connect(port);
    // The idle connection has served one request and is an ordinary idle keep-alive connection.
    idle.socket.write(get('/first'));
    while (statusLines(idle.text()).length < 1) await new Promise((r) => setTimeout(r, 5));
    inFlight.socket.write(get('/slow'));
    while (!received.includes('/slow')) await new Promise((r) => setTimeout(r, 5));

    const drained = drain.drain(5000);
    // A request reaches the idle connection, then the event loop is blocked for longer than the idle
    // grace: when it runs again, its timers come before the read of that request.
    idle.socket.write(get('/second'));
    const until = Date.now() + 2000;
    while (Date.now() < until) {
      // busy: the event loop is blocked, as by a long synchronous statement
    }
    expect(await drained).to.equal(true);

    expect(await inFlight.closed).to.equal('end');
    expect(await idle.closed).to.equal('end');
    expect(statusLines(inFlight.text())).to.deep.equal(['HTTP/1.1 200']);
    expect(inFlight.text()).to.match(/^Connection: close\r$/im).and.to.contain('answered /slow');
    expect(statusLines(idle.text())).to.deep.equal(['HTTP/1.1 200', 'HTTP/1.1 200']);
    expect(idle.text()).to.contain('answered /second');
    expect(idle.text().split('answered /first')[1]).to.match(/^Connection: close\r$/im);
  });

  it('closes an idle keep-alive connection only after the keep-alive timeout it announced and the margin, stops accepting, refuses new connections', async () => {
    const idle = await connect(port);
    idle.socket.write(get('/only'));
    while (statusLines(idle.text()).length < 1) await new Promise((r) => setTimeout(r, 5));
    const answered = Date.now();
    expect(idle.text()).to.match(/^Keep-Alive: timeout=1\r$/im);
    expect(await drain.drain(5000)).to.equal(true);
    expect(Date.now() - answered).to.be.at.least(1400);
    expect(await idle.closed).to.equal('end');
    expect(server.listening).to.equal(false);
    const refused = await connect(port).then(
      (r) => (r.socket.destroy(), 'connected'),
      (err: NodeJS.ErrnoException) => err.code,
    );
    expect(refused).to.equal('ECONNREFUSED');
  });

  it('cuts what still runs at the deadline and says so', async () => {
    const hung = await connect(port);
    server.removeAllListeners('request');
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => drain.handle(req, res)); // never answers
    hung.socket.write(get('/hangs'));
    while (drain.connections < 1) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 100));
    expect(await drain.drain(300)).to.equal(false);
    expect(await hung.closed).to.be.oneOf(['end', 'reset']);
  });
});
