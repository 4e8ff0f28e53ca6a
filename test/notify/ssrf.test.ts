/**
 * Where a Subscription may send (issue 14; ssrf.ts), as plain functions: address classes in
 * production and development, endpoint URLs, and resolution that refuses a name with any forbidden
 * address. The delivery connects to the address the check resolved, never resolving again.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { postNotification } from '../../src/notify/subscriptions/rest-hook.js';
import { addressVerdict, EndpointRefused, endpointVerdict, resolveEndpoint } from '../../src/notify/subscriptions/ssrf.js';

const PROD = { production: true };
const DEV = { production: false };

describe('Subscription endpoints are SSRF-safe (issue 14)', () => {
  it('production refuses private, loopback, link-local, CGNAT, multicast, unspecified and IPv6 ULA/link-local addresses', () => {
    for (const ip of ['10.1.2.3', '172.16.0.1', '192.168.1.1', '127.0.0.1', '127.8.8.8', '169.254.169.254', '100.64.0.1', '224.0.0.1', '0.0.0.0', '255.255.255.255',
      '::1', '::', 'fe80::1', 'fd00::1', 'fc00::1', 'ff02::1', '::ffff:10.0.0.1', '::ffff:127.0.0.1', '64:ff9b::a00:1', '2002:a00:1::1']) {
      const v = addressVerdict(ip, PROD);
      expect(v.ok, ip).to.equal(false);
    }
    for (const ip of ['8.8.8.8', '151.101.1.140', '2001:4860:4860::8888', '::ffff:8.8.8.8']) expect(addressVerdict(ip, PROD).ok, ip).to.equal(true);
  });

  it('development mode allows loopback, and nothing else that production refuses', () => {
    for (const ip of ['127.0.0.1', '::1']) expect(addressVerdict(ip, DEV).ok, ip).to.equal(true);
    for (const ip of ['10.0.0.1', '192.168.0.10', '169.254.169.254', 'fd00::1']) expect(addressVerdict(ip, DEV).ok, ip).to.equal(false);
  });

  it('endpoint URLs: https only (http to loopback in development), no credentials, literal addresses judged at once', () => {
    expect(endpointVerdict('https://hooks.example.no/fhir', PROD).ok).to.equal(true);
    expect(endpointVerdict('http://hooks.example.no/fhir', PROD).ok).to.equal(false);
    expect(endpointVerdict('http://127.0.0.1:9000/hook', PROD).ok).to.equal(false);
    expect(endpointVerdict('https://localhost/hook', PROD).ok).to.equal(false);
    expect(endpointVerdict('http://127.0.0.1:9000/hook', DEV).ok).to.equal(true);
    expect(endpointVerdict('http://localhost:9000/hook', DEV).ok).to.equal(true);
    expect(endpointVerdict('http://hooks.example.no/hook', DEV).ok).to.equal(false);
    expect(endpointVerdict('https://user:pw@hooks.example.no/', PROD).ok).to.equal(false);
    expect(endpointVerdict('https://10.0.0.5/hook', PROD).ok).to.equal(false);
    expect(endpointVerdict('https://[fd00::5]/hook', DEV).ok).to.equal(false);
    expect(endpointVerdict('https://169.254.169.254/latest/meta-data', DEV).ok).to.equal(false);
    expect(endpointVerdict('ftp://hooks.example.no/', PROD).ok).to.equal(false);
    expect(endpointVerdict('not a url', PROD).ok).to.equal(false);
  });

  it('a name is judged by every address it resolves to: one private address refuses it', async () => {
    const lookup = (answers: string[]) => async () => answers.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    const ok = await resolveEndpoint('https://hooks.example.no/x', PROD, lookup(['151.101.1.140']));
    expect(ok.address).to.equal('151.101.1.140');
    for (const answers of [['151.101.1.140', '10.0.0.7'], ['127.0.0.1'], ['fd12::1'], ['::ffff:192.168.0.1'], []]) {
      const err = await resolveEndpoint('https://hooks.example.no/x', PROD, lookup(answers)).catch((e: unknown) => e);
      expect(err, answers.join()).to.be.instanceOf(EndpointRefused);
    }
    const failing = async () => {
      throw Object.assign(new Error('nope'), { code: 'ENOTFOUND' });
    };
    expect(await resolveEndpoint('https://nowhere.invalid/', PROD, failing).catch((e: unknown) => e)).to.be.instanceOf(EndpointRefused);
  });

  it('the delivery connects to the resolved address with the endpoint’s Host (no second lookup to rebind), and bounds time', async () => {
    const seen: Array<{ host: string | undefined; body: string }> = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ host: req.headers.host, body });
        if (req.url === '/slow') return; // never answers
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      // The name does not resolve at all; only the pinned address is used.
      const status = await postNotification({ url: new URL(`http://rebind.invalid:${port}/hook`), address: '127.0.0.1', family: 4 }, {}, null);
      expect(status).to.equal(200);
      expect(seen[0]).to.deep.equal({ host: `rebind.invalid:${port}`, body: '' });
      const started = Date.now();
      const err = await postNotification({ url: new URL(`http://127.0.0.1:${port}/slow`), address: '127.0.0.1', family: 4 }, {}, null, { timeoutMs: 300, maxResponseBytes: 1000 }).catch((e: Error) => e);
      expect((err as Error).message).to.match(/no answer within 300 ms/);
      expect(Date.now() - started).to.be.below(2000);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
