/**
 * `_total` at a size where counting costs (docs/search.md, "Totals"): above 2,000 matches a search
 * answers without a total unless `_total=accurate` (exact) or `_total=estimate` (the planner's
 * estimate, never below what was seen) is asked for, pages still link onwards, and `_count=0` has
 * no next link. The 2,050 Observations arrive in one transaction Bundle (the bulk write path,
 * issue 11 §4), which is also checked: every entry stored with one version and findable.
 */
import { expect } from 'chai';
import request from 'supertest';
import type { Bundle, BundleEntry, Observation } from 'fhir/r4';
import { FHIR, useSearchServer } from './support.js';

const N = 2050;
const CODE = 'http://loinc.org|8867-4';
const linkOf = (b: Bundle, relation: string) => b.link?.find((l) => l.relation === relation)?.url;

describe('search: totals above 2,000 matches, and a transaction of 2,050 entries', () => {
  const s = useSearchServer();
  let response: Bundle;

  before(async function () {
    this.timeout(600_000);
    const patient = await s.create({ resourceType: 'Patient', name: [{ family: 'Mange' }] });
    const entry: BundleEntry[] = Array.from({ length: N }, (_, i) => ({
      fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      resource: {
        resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
        subject: { reference: `Patient/${patient.id}` }, effectiveDateTime: new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString(),
        valueQuantity: { value: 60 + (i % 40), unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
      } as Observation,
      request: { method: 'POST', url: 'Observation' },
    }));
    const res = await request(s.ctx().app).post('/fhir').set('Content-Type', FHIR).send({ resourceType: 'Bundle', type: 'transaction', entry });
    expect(res.status, JSON.stringify(res.body).slice(0, 500)).to.equal(200);
    response = res.body as Bundle;
  });

  it('stores every entry of the transaction as version 1, each readable at the location it answered', async () => {
    expect(response.entry).to.have.length(N);
    expect(response.entry!.every((e) => e.response?.status === '201 Created' && e.response.etag === 'W/"1"')).to.equal(true);
    const last = response.entry![N - 1]!.response!.location!;
    const read = await request(s.ctx().app).get(`/fhir/${last.replace(/\/_history\/1$/, '')}`);
    expect(read.status).to.equal(200);
    expect(read.body.effectiveDateTime).to.equal(new Date(Date.UTC(2024, 0, 1) + (N - 1) * 60_000).toISOString());
  });

  it('answers without a total by default, with a next link', async () => {
    const page = await s.search(`Observation?code=${CODE}&_count=50`);
    expect(page.total).to.equal(undefined);
    expect(page.entry).to.have.length(50);
    expect(linkOf(page, 'next')).to.be.a('string');
  });

  it('counts exactly with _total=accurate and _summary=count', async () => {
    expect((await s.search(`Observation?code=${CODE}&_count=5&_total=accurate`)).total).to.equal(N);
    const counted = await s.search(`Observation?code=${CODE}&_summary=count`);
    expect(counted.total).to.equal(N);
    expect(counted.entry).to.equal(undefined);
  });

  it('estimates with _total=estimate, never below what it has seen', async () => {
    const estimated = (await s.search(`Observation?code=${CODE}&_count=5&_total=estimate`)).total;
    expect(estimated).to.be.a('number').and.at.least(2001);
  });

  it('_count=0 gives no entries and no next link; the total only when asked', async () => {
    const zero = await s.search(`Observation?code=${CODE}&_count=0`);
    expect(zero.entry).to.equal(undefined);
    expect(linkOf(zero, 'next')).to.equal(undefined);
    expect(zero.total).to.equal(undefined);
    expect((await s.search(`Observation?code=${CODE}&_count=0&_total=accurate`)).total).to.equal(N);
  });

  it('a date range over the newest two days is counted (few match) and paged from the collected matches', async () => {
    const from = new Date(Date.UTC(2024, 0, 1) + (N - 100) * 60_000).toISOString();
    const page = await s.search(`Observation?date=ge${from}&date=lt2024-01-03&_count=30`);
    expect(page.total).to.equal(100);
    expect(page.entry).to.have.length(30);
    expect(linkOf(page, 'next')).to.contain('_offset=30');
  });
});
