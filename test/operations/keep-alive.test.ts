/**
 * Keep-alive without resets (issue 17: connections reset under ordinary load). The server announces
 * `Keep-Alive: timeout=N`; a client may reuse an idle connection until N seconds after it *read* the
 * last response. Node alone closes the connection 1 s after the announced time, counted from when it
 * *wrote* that response, so a client whose event loop ran more than about a second late (a loaded
 * machine) meets a closed connection and gets a reset. The listener (src/http/graceful.ts) keeps idle connections open for a
 * margin beyond what it announces. Raw keep-alive sockets against the real app on a loopback port 0.
 */
import { expect } from 'chai';
import http from 'node:http';
import net from 'node:net';
import { trackConnections } from '../../src/http/graceful.js';
import { connectRaw as connect, type RawConnection as Raw } from '../support/raw-socket.js';
import { createTestContext, type TestContext } from '../support/app.js';


const get = (path: string, token: string) => `GET ${path} HTTP/1.1\r\nHost: localhost\r\nAccept: application/fhir+json\r\nAuthorization: Bearer ${token}\r\nConnection: keep-alive\r\n\r\n`;
// A JSON body has no line end, so the next status line follows it directly.
const statusLines = (text: string) => text.match(/HTTP\/1\.1 \d{3}(?= )/g) ?? [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function answers(raw: Raw, n: number): Promise<void> {
  for (const until = Date.now() + 10_000; statusLines(raw.text()).length < n && Date.now() < until; ) await sleep(5);
}

describe('keep-alive: an idle connection stays open as long as the server announced (no reset under load)', () => {
  let ctx: TestContext;
  let server: http.Server;
  let port: number;

  before(async () => {
    ctx = await createTestContext();
  });
  after(async () => {
    await ctx.close();
  });

  const listen = async (opts: Parameters<typeof trackConnections>[1]) => {
    server = http.createServer();
    const drain = trackConnections(server, opts);
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      drain.handle(req, res);
      ctx.bareApp(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    port = (server.address() as net.AddressInfo).port;
  };
  afterEach(() => {
    server.closeAllConnections();
    if (server.listening) server.close();
  });

  // The client below reuses the connection 1.5 s after the announced time: its event loop ran late,
  // as a test client's does when it waits seconds for a CPU. Node by itself keeps the connection 1 s
  // beyond what it announces (HTTP_SERVER_KEEP_ALIVE_TIMEOUT_BUFFER in Node 20); the margin adds 2 s.
  const lateMs = 1500;
  const reuseLate = async () => {
    const raw = await connect(port);
    raw.socket.write(get('/fhir/Patient?_count=1', ctx.token));
    await answers(raw, 1);
    const read = Date.now();
    const announced = Number(/^Keep-Alive: timeout=(\d+)\r$/im.exec(raw.text())?.[1]);
    await sleep(announced * 1000 + lateMs - (Date.now() - read));
    raw.socket.write(get('/fhir/Patient?_count=2', ctx.token));
    await Promise.race([answers(raw, 2), raw.closed]);
    return { raw, announced };
  };

  it('answers a request sent on an idle connection well after the announced timeout, and closes it cleanly after the margin', async () => {
    await listen({ keepAliveMs: 1000, marginMs: 2000 });
    const { raw, announced } = await reuseLate();
    // The announcement is the promise; the margin is not announced.
    expect(announced).to.equal(1);
    expect(raw.text()).to.match(/^Connection: keep-alive\r$/im);
    expect(statusLines(raw.text())).to.deep.equal(['HTTP/1.1 200', 'HTTP/1.1 200']);
    // Left idle, it is closed by the server with a FIN, not a reset, after announced time and margin.
    const second = Date.now();
    expect(await raw.closed).to.equal('end');
    expect(Date.now() - second).to.be.at.least(2900);
  });

  it('without the margin the same late client gets no answer (the control: the test above can fail)', async () => {
    await listen({ keepAliveMs: 1000, marginMs: 0 });
    const { raw } = await reuseLate();
    expect(await raw.closed).to.be.oneOf(['end', 'reset']);
    expect(statusLines(raw.text())).to.deep.equal(['HTTP/1.1 200']);
  });
});
