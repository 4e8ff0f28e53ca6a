/**
 * The operator's and newcomer's doors (issue 16 §1, §4): /metrics in the Prometheus format with
 * route templates as labels, /docs rendered from local assets only, the index at /, and every
 * operation listed in the CapabilityStatement.
 */
import { expect } from 'chai';
import request from 'supertest';
import type { CapabilityStatement } from 'fhir/r4';
import { observeAccessLogBatch } from '../../src/http/metrics.js';
import { createTestContext, type TestContext } from '../support/app.js';

const FHIR = 'application/fhir+json';

describe('operations: /metrics, /docs, / and the CapabilityStatement', () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
  });
  after(async () => {
    await ctx.close();
  });

  it('/metrics speaks the Prometheus text format with process metrics', async () => {
    const res = await request(ctx.bareApp).get('/metrics');
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.match(/^text\/plain; version=0\.0\.4/);
    expect(res.text).to.match(/^# HELP helsebro_process_cpu_user_seconds_total /m);
    expect(res.text).to.match(/^# TYPE helsebro_http_request_duration_seconds histogram$/m);
  });

  it('a request is counted under its route template and status, with no id in any label', async () => {
    const created = await request(ctx.app).post('/fhir/Patient').set('Content-Type', FHIR).send({ resourceType: 'Patient', name: [{ family: 'Metrikk' }] });
    const id = created.body.id as string;
    expect((await request(ctx.app).get(`/fhir/Patient/${id}`)).status).to.equal(200);
    const text = (await request(ctx.bareApp).get('/metrics')).text;
    expect(text).to.match(/^helsebro_http_requests_total\{method="GET",route="\/fhir\/:type\/:id",status="200"\} [1-9]/m);
    expect(text).to.match(/^helsebro_http_request_duration_seconds_count\{method="POST",route="\/fhir\/:type",status="201"\} [1-9]/m);
    expect(text).to.not.contain(id);
  });

  it('the access log hook feeds the batch size histogram', async () => {
    const count = async () => Number(/^helsebro_access_log_batch_size_count (\d+)/m.exec((await request(ctx.bareApp).get('/metrics')).text)?.[1] ?? 0);
    const before = await count();
    observeAccessLogBatch(7);
    expect(await count()).to.equal(before + 1);
    expect((await request(ctx.bareApp).get('/metrics')).text).to.match(/^helsebro_access_log_batch_size_bucket\{le="10"\} [1-9]/m);
  });

  it('/metrics shows the database pool: open, idle and waiting connections (none with PGlite)', async () => {
    const pool = async () => {
      const text = (await request(ctx.bareApp).get('/metrics')).text;
      return Object.fromEntries([...text.matchAll(/^helsebro_db_pool_connections\{state="(\w+)"\} (\d+)/gm)].map((m) => [m[1]!, Number(m[2])]));
    };
    if (ctx.db.kind === 'pglite') {
      expect(await pool()).to.deep.equal({});
      return;
    }
    // The test pool has 5 connections: hold all of them in transactions, and one more caller waits.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const holders = Array.from({ length: 5 }, () => ctx.db.transaction(() => held));
    while ((await pool()).idle !== 0 || (await pool()).total !== 5) await new Promise((r) => setTimeout(r, 20));
    const waiter = ctx.db.query('SELECT 1');
    // At least this waiter: the server's own background work (outbox worker, offer expiry) may be
    // queued beside it.
    const exhausted = await pool();
    expect(exhausted).to.include({ total: 5, idle: 0 });
    expect(exhausted.waiting).to.be.at.least(1);
    release();
    await Promise.all([...holders, waiter]);
    expect(await pool()).to.include({ waiting: 0, idle: 5 });
  });

  it('/docs is an HTML page whose scripts and styles are all served here, under a self-only policy', async () => {
    const res = await request(ctx.bareApp).get('/docs');
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.match(/^text\/html/);
    const refs = [...res.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs).to.include('/docs/assets/scalar-standalone.js');
    for (const ref of refs) expect(ref, ref).to.match(/^\/(?!\/)/);
    const csp = res.headers['content-security-policy'] as string;
    expect(csp).to.contain("script-src 'self'").and.contain("connect-src 'self'");
    expect(csp).to.not.match(/https?:/);
    for (const ref of refs.filter((r) => r.endsWith('.js'))) {
      const asset = await request(ctx.bareApp).get(ref);
      expect(asset.status, ref).to.equal(200);
      expect(asset.headers['content-type'], ref).to.match(/javascript/);
    }
    expect((await request(ctx.bareApp).get('/docs/assets/init.js')).text).to.contain("url: '/openapi.yaml'");
  });

  it('the design system stylesheets are served from this origin, and an unknown asset is a 404 OperationOutcome', async () => {
    const { DESIGN_STYLESHEETS } = await import('../../src/http/design-assets.js');
    for (const href of DESIGN_STYLESHEETS) {
      const res = await request(ctx.bareApp).get(href);
      expect(res.status, href).to.equal(200);
      expect(res.headers['content-type'], href).to.match(/text\/css/);
      expect(res.text.length, href).to.be.greaterThan(1000);
    }
    expect((await request(ctx.bareApp).get('/assets/ds/designsystemet.css')).text).to.contain('.ds-button');
    const missing = await request(ctx.bareApp).get('/assets/ds/nope.css');
    expect(missing.status).to.equal(404);
    expect(missing.body.resourceType).to.equal('OperationOutcome');
  });

  it('/ links the reference, the FHIR metadata and the health endpoints', async () => {
    const res = await request(ctx.bareApp).get('/');
    expect(res.status).to.equal(200);
    for (const href of ['/docs', '/fhir/metadata', '/healthz', '/readyz', '/metrics']) expect(res.text).to.contain(`href="${href}"`);
  });

  it('the CapabilityStatement lists $validate on every type and $everything, $deactivate, $reactivate on Patient', async () => {
    const cs = (await request(ctx.bareApp).get('/fhir/metadata')).body as CapabilityStatement;
    const patient = cs.rest![0]!.resource!.find((r) => r.type === 'Patient')!;
    expect(patient.operation).to.deep.include.members([
      { name: 'validate', definition: 'http://hl7.org/fhir/OperationDefinition/Resource-validate' },
      { name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' },
      { name: 'deactivate', definition: 'https://fhir.helsebro.no/OperationDefinition/Patient-deactivate' },
      { name: 'reactivate', definition: 'https://fhir.helsebro.no/OperationDefinition/Patient-reactivate' },
    ]);
    const observation = cs.rest![0]!.resource!.find((r) => r.type === 'Observation')!;
    expect(observation.operation!.map((o) => o.name)).to.deep.equal(['validate']);
  });
});
