import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { Bundle, Resource } from 'fhir/r4';
import { validateResource } from '../../src/fhir/validation/validate.js';

const SYNTHEA = path.resolve(import.meta.dirname, '../../../shared/synthea-r4');

/**
 * Synthea's R4 output is valid R4 (issue 2: "Synthea data alone carries Claim, ExplanationOfBenefit,
 * CarePlan, Goal, ImagingStudy…"); if our schema or profiles refused any of it they would be
 * stricter than R4.
 */
describe('the Synthea R4 bundles against the base schema and our default profiles', function () {
  this.timeout(120_000);
  const files = fs.existsSync(SYNTHEA) ? fs.readdirSync(SYNTHEA).filter((f) => f.endsWith('.json')) : [];
  const resources: Array<{ where: string; resource: Resource }> = [];

  before(function () {
    if (files.length === 0) this.skip(); // the shared Synthea folder is not on this machine
    for (const file of files) {
      const bundle = JSON.parse(fs.readFileSync(path.join(SYNTHEA, file), 'utf8')) as Bundle;
      (bundle.entry ?? []).forEach((e, i) => resources.push({ where: `${file} entry[${i}]`, resource: e.resource! }));
    }
  });

  it('every entry of every bundle validates with no issues', () => {
    const failures = resources.map(({ where, resource }) => ({ where, issues: validateResource(resource) })).filter((f) => f.issues.length > 0);
    expect(failures.slice(0, 5), JSON.stringify(failures.slice(0, 5), null, 1)).to.deep.equal([]);
    expect(resources.length).to.be.greaterThan(1000);
  });

  it('each whole bundle validates too (entries dispatched by type)', () => {
    for (const file of files) {
      const bundle = JSON.parse(fs.readFileSync(path.join(SYNTHEA, file), 'utf8')) as unknown;
      expect(validateResource(bundle), file).to.deep.equal([]);
    }
  });

  it('validates more than a thousand resources a second once compiled (the import validates every entry)', () => {
    for (const { resource } of resources) validateResource(resource); // compile every type first
    const started = process.hrtime.bigint();
    for (const { resource } of resources) validateResource(resource);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    expect(resources.length / seconds).to.be.greaterThan(1000);
  });
});
