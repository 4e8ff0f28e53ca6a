import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import type { Bundle, Resource } from 'fhir/r4';
import { createTestContext, type TestContext } from '../support/app.js';

const SYNTHEA = path.resolve(import.meta.dirname, '../../../shared/synthea-r4');

/** Drops what the server owns (meta.versionId/lastUpdated) and what transactions rewrite (references). */
function comparable(resource: Resource): unknown {
  return JSON.parse(JSON.stringify({ ...resource, id: undefined, meta: undefined }), (k, v) => (k === 'reference' ? '<ref>' : v));
}

describe('importing the Synthea R4 bundles as transactions', function () {
  this.timeout(600_000);
  let ctx: TestContext;
  const files = fs.existsSync(SYNTHEA) ? fs.readdirSync(SYNTHEA).filter((f) => f.endsWith('.json')) : [];

  before(async function () {
    if (files.length === 0) this.skip(); // the shared Synthea folder is not on this machine
    ctx = await createTestContext({ bodyLimit: 200 * 1024 * 1024 });
  });
  after(async () => {
    await ctx?.close();
  });

  it('every bundle imports and every entry reads back unchanged apart from server fields and resolved references', async () => {
    for (const file of files) {
      const bundle = JSON.parse(fs.readFileSync(path.join(SYNTHEA, file), 'utf8')) as Bundle;
      const res = await request(ctx.app).post('/fhir').set('Content-Type', 'application/fhir+json').send(bundle);
      expect(res.status, `${file}: ${JSON.stringify(res.body.issue ?? '').slice(0, 500)}`).to.equal(200);
      const out = res.body as Bundle;
      expect(out.entry).to.have.length(bundle.entry!.length);
      // Spot-check a spread of entries by reading them back through the API.
      const step = Math.max(1, Math.floor(bundle.entry!.length / 25));
      for (let i = 0; i < bundle.entry!.length; i += step) {
        const sent = bundle.entry![i]!.resource!;
        const location = out.entry![i]!.response!.location!;
        const [type, id] = location.split('/');
        const back = await request(ctx.app).get(`/fhir/${type}/${id}`);
        expect(back.status).to.equal(200);
        expect(comparable(back.body as Resource), `${file} entry ${i}`).to.deep.equal(comparable(sent));
        for (const ref of JSON.stringify(back.body).match(/"reference":"urn:uuid:[^"]+"/g) ?? []) expect.fail(`unresolved ${ref}`);
      }
    }
  });
});
