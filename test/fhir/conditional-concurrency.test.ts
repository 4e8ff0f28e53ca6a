/**
 * Conditional create under concurrency (issue 10 hole 7): many identical conditional creates sent
 * at once, over real HTTP connections, must store exactly one resource, whether they come as a
 * plain POST with If-None-Exist, as a transaction entry with `ifNoneExist` (the bridge retry path)
 * or as a batch entry. Only PostgreSQL has concurrent connections; PGlite runs one statement at a
 * time, so there is no race to test there.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { Bundle, Observation } from 'fhir/r4';
import express from 'express';
import { testConfig } from '../../src/config/config.js';
import type { Db } from '../../src/db/db.js';
import { openDatabase } from '../../src/db/open.js';
import { createLogger } from '../../src/log.js';
import { buildServer, createRepository } from '../../src/server.js';

const FHIR = 'application/fhir+json';
const onPostgres = /^postgres(ql)?:\/\//.test(process.env.DATABASE_URL ?? '');

describe('conditional create under concurrency (PostgreSQL)', function () {
  this.timeout(120_000);
  let db: Db | undefined;
  let server: http.Server;
  let base: string;
  let token = '';

  before(async function () {
    // PGlite serialises every statement on its single connection: no concurrent transactions, no race.
    if (!onPostgres) this.skip();
    // A pool as large as production's (the shared test context has 5 connections, too few for a race).
    db = await openDatabase({ kind: 'postgres', url: process.env.DATABASE_URL! }, { schema: `t_${randomUUID().replace(/-/g, '').slice(0, 12)}`, max: 20 });
    const config = testConfig({ accessTokenTtl: 3600 });
    const { app: bare } = await buildServer({ config, db, logger: createLogger('silent'), repo: createRepository(db), devIdp: false });
    const app = express();
    app.use((req, _res, next) => {
      req.headers.authorization ??= `Bearer ${token}`;
      next();
    });
    app.use(bare);
    server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    base = `${origin}/fhir`;
    const tokenRes = await fetch(`${origin}/auth/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`dev-system:${config.devSystemClientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=system/*.*',
    });
    token = ((await tokenRes.json()) as { access_token: string }).access_token;
    // Warm up (validator, search definitions) so the storms below really arrive at once.
    await send('', transaction(randomUUID()));
  });
  after(async () => {
    if (!db) return;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await db.close();
  });

  const observation = (value: string): Observation => ({
    resourceType: 'Observation',
    status: 'final',
    code: { text: 'puls' },
    identifier: [{ system: 'urn:test:race', value }],
  });
  const send = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': FHIR, accept: FHIR, ...headers }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Bundle };
  };
  const countWith = async (value: string) => {
    const res = await fetch(`${base}/Observation?identifier=${encodeURIComponent(`urn:test:race|${value}`)}&_summary=count`, { headers: { accept: FHIR } });
    return ((await res.json()) as Bundle).total;
  };
  const transaction = (value: string, type: 'transaction' | 'batch' = 'transaction'): Bundle => ({
    resourceType: 'Bundle',
    type,
    entry: [{ fullUrl: `urn:uuid:${randomUUID()}`, resource: observation(value), request: { method: 'POST', url: 'Observation', ifNoneExist: `identifier=urn:test:race|${value}` } }],
  });

  it('50 identical transaction Bundles with one conditional create store one Observation', async () => {
    const value = randomUUID();
    const results = await Promise.all(Array.from({ length: 50 }, () => send('', transaction(value))));
    expect(results.map((r) => r.status)).to.satisfy((s: number[]) => s.every((x) => x === 200), JSON.stringify(results.find((r) => r.status !== 200)?.body));
    const statuses = results.map((r) => r.body.entry![0]!.response!.status);
    expect(statuses.filter((s) => s.startsWith('201'))).to.have.length(1);
    expect(statuses.filter((s) => s.startsWith('200'))).to.have.length(49);
    expect(new Set(results.map((r) => r.body.entry![0]!.resource!.id)).size).to.equal(1);
    expect(await countWith(value)).to.equal(1);
  });

  it('50 identical batch Bundles with one conditional create store one Observation', async () => {
    const value = randomUUID();
    const results = await Promise.all(Array.from({ length: 50 }, () => send('', transaction(value, 'batch'))));
    expect(results.every((r) => r.status === 200)).to.equal(true);
    expect(results.map((r) => r.body.entry![0]!.response!.status).filter((s) => s.startsWith('201'))).to.have.length(1);
    expect(await countWith(value)).to.equal(1);
  });

  it('plain POSTs with If-None-Exist and transaction entries racing each other store one Observation', async () => {
    const value = randomUUID();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? send('', transaction(value)) : send('/Observation', observation(value), { 'if-none-exist': `identifier=urn:test:race|${value}` }))),
    );
    expect(results.every((r) => r.status === 200 || r.status === 201)).to.equal(true);
    expect(await countWith(value)).to.equal(1);
  });

  it('transactions holding several conditions in opposite orders neither deadlock nor duplicate', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const two = (first: string, second: string): Bundle => ({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [first, second].map((v) => ({ fullUrl: `urn:uuid:${randomUUID()}`, resource: observation(v), request: { method: 'POST' as const, url: 'Observation', ifNoneExist: `identifier=urn:test:race|${v}` } })),
    });
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => send('', i % 2 === 0 ? two(a, b) : two(b, a))));
    expect(results.map((r) => r.status).filter((s) => s !== 200)).to.deep.equal([]);
    expect(await countWith(a)).to.equal(1);
    expect(await countWith(b)).to.equal(1);
  });
});
