import { expect } from 'chai';
import { convertGoogleFit, googleFitPoints } from '../../src/bridges/google-fit.js';
import { googleFitPointKey } from '../../src/bridges/identity.js';
import { FhirError } from '../../src/fhir/errors.js';
import { CTX, codes, fixture, reason, valid } from './support.js';

const STEPS = 'derived:com.google.step_count.delta:com.google.android.gms:aggregated';

describe('Google Fit dataset:aggregate responses (issue 15 §2)', () => {
  const out = convertGoogleFit(fixture('google-fit-aggregate.json'), CTX);

  it('reads every point of every bucket and dataset; empty buckets add nothing', () => {
    expect(out).to.have.length(4);
    expect(out.map((s) => s.status)).to.deep.equal(['valid', 'rejected', 'valid', 'rejected']);
  });

  it('a daily step bucket becomes one step Observation over the bucket’s period, nanoseconds beyond 2^53 kept exactly', () => {
    const day = valid(out, 0).observation;
    expect(codes(day)).to.deep.equal(['55423-8']);
    expect(day.valueQuantity?.value).to.equal(8412);
    expect(day.effectivePeriod).to.deep.equal({ start: '2024-04-30T22:00:00.000Z', end: '2024-05-01T21:59:59.999999999Z' });
    expect(valid(out, 2).observation.effectivePeriod?.start).to.equal('2024-05-02T22:00:00.000000001Z');
    // The key hashes the exact digit strings: one nanosecond apart is another point.
    expect(valid(out, 2).id).to.equal(googleFitPointKey(STEPS, 'com.google.step_count.delta', '1714687200000000001', '1714773599999999999'));
    expect(valid(out, 2).id).to.not.equal(googleFitPointKey(STEPS, 'com.google.step_count.delta', '1714687200000000000', '1714773599999999999'));
  });

  it('aggregated summaries (avg/max/min) are reported as not imported: they have no documented LOINC meaning as a measurement', () => {
    expect(reason(out, 1)).to.equal(
      'com.google.heart_rate.summary is an aggregated summary (average, maximum, minimum over the bucket); it has no documented LOINC meaning as a measurement, so it is not imported',
    );
    expect(reason(out, 3)).to.match(/^com\.google\.weight\.summary is an aggregated summary/);
  });

  it('the real source of an aggregated point is its originDataSourceId', () => {
    expect(valid(out, 0).device.resource.identifier?.[1]?.value).to.equal('raw:Google:Pixel 8:4f2a1b:Step Counter');
  });

  it('an empty aggregate, and buckets without datasets, are a sound request with nothing in it', () => {
    expect(convertGoogleFit({ bucket: [] }, CTX)).to.deep.equal([]);
    expect(convertGoogleFit({ bucket: [{ startTimeMillis: '1', endTimeMillis: '2' }, { dataset: [] }] }, CTX)).to.deep.equal([]);
  });

  it('a malformed aggregate names where', () => {
    const where = (body: unknown) => {
      try {
        googleFitPoints(body);
      } catch (err) {
        return (err as FhirError).issues[0]!.expression?.[0];
      }
      return 'accepted';
    };
    expect(where({ bucket: {} })).to.equal('bucket');
    expect(where({ bucket: [{ dataset: [{ point: [] }] }] })).to.equal('bucket[0].dataset[0].dataSourceId');
    expect(where({ bucket: [{ dataset: [{ dataSourceId: 'x', point: 5 }] }] })).to.equal('bucket[0].dataset[0].point');
    expect(where({ bucket: [{ dataset: [{ dataSourceId: 'x', point: Array(10_001).fill({}) }] }] })).to.equal('point');
  });
});
