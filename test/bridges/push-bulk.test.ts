/**
 * Large bridge pushes over HTTP with real tokens (issue 11 "HealthKit push ≥ 5,000 samples/s"): a
 * push is one transaction of conditional creates whose lookups, reads and inserts are done in bulk,
 * so these check what the bulk path must keep: a re-push creates nothing and answers with the very
 * Observations the first push created, repeats inside a push are stored once, overlapping pushes
 * store each sample once, and the cost of a re-push does not grow with its size.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import request from 'supertest';
import type { BridgeResponse } from '../../src/bridges/router.js';
import { countStatements } from '../support/count-statements.js';
import { BRIDGE_SCOPE, countFor, createPatient, startBridgeServer, tokenFor, type BridgeServer } from './http-support.js';

const HK = '/bridges/healthkit';

/** `n` HealthKit samples of three types, a minute apart, ending a day before now. */
function samples(n: number, tag = randomUUID().slice(0, 8)): Array<Record<string, unknown>> {
  const end = Date.now() - 86_400_000;
  const kinds: Array<[string, string, number]> = [
    ['HKQuantityTypeIdentifierHeartRate', 'count/min', 61],
    ['HKQuantityTypeIdentifierBodyMass', 'kg', 72.5],
    ['HKQuantityTypeIdentifierStepCount', 'count', 420],
  ];
  return Array.from({ length: n }, (_, i) => {
    const [type, unit, value] = kinds[i % kinds.length]!;
    const start = new Date(end - (n - i) * 60_000).toISOString();
    const stop = type.endsWith('StepCount') ? new Date(end - (n - i) * 60_000 + 30_000).toISOString() : start;
    return { uuid: `${tag}-0000-4000-8000-${String(i).padStart(12, '0')}`, type, value, unit, startDate: start, endDate: stop, sourceName: i % 2 === 0 ? 'Watch' : 'Phone' };
  });
}

describe('bridge pushes in bulk', function () {
  this.timeout(300_000);
  let server: BridgeServer;

  before(async () => {
    server = await startBridgeServer();
  });
  after(() => server.close());

  const push = (body: unknown, bearer: string) => request(server.app).post(HK).set('authorization', `Bearer ${bearer}`).send(body as object);
  async function citizen(name: string): Promise<{ id: string; token: string }> {
    const id = await createPatient(server, name);
    return { id, token: await tokenFor(server, id, BRIDGE_SCOPE) };
  }

  it('a re-push of 300 samples creates nothing and names the Observations the first push created, at a cost that does not grow with the push', async () => {
    const { id, token } = await citizen('Gjentak');
    const body = { samples: samples(300) };
    const first = (await push(body, token).expect(200)).body as BridgeResponse;
    expect(first.summary).to.deep.equal({ received: 300, created: 300, updated: 0, alreadyPresent: 0, rejected: 0 });
    const counts = await Promise.all((['Observation', 'Device', 'Provenance'] as const).map((t) => countFor(server, t, id)));
    expect(counts).to.deep.equal([300, 2, 2]);

    const counter = countStatements(server.db);
    let again: BridgeResponse;
    let sql: string[];
    try {
      again = (await push(body, token).expect(200)).body as BridgeResponse;
    } finally {
      sql = counter.take();
      counter.stop();
    }
    expect(again.summary).to.deep.equal({ received: 300, created: 0, updated: 0, alreadyPresent: 300, rejected: 0 });
    // Sample by sample, the same Observation as the first push stored for it.
    expect(again.outcomes.map((o) => o.observation)).to.deep.equal(first.outcomes.map((o) => o.observation));
    expect(await Promise.all((['Observation', 'Device', 'Provenance'] as const).map((t) => countFor(server, t, id)))).to.deep.equal(counts);
    // One lookup per resource type and one read per type, not one statement per sample (it was 300+).
    expect(sql.length, sql.join('\n')).to.be.at.most(20);
  });

  it('a push holding every sample twice stores each sample once and reports the repeats as already present', async () => {
    const { id, token } = await citizen('Dobbel');
    const list = samples(60);
    const res = (await push({ samples: [...list, ...list] }, token).expect(200)).body as BridgeResponse;
    expect(res.summary).to.deep.equal({ received: 120, created: 60, updated: 0, alreadyPresent: 60, rejected: 0 });
    for (let i = 0; i < 60; i++) {
      expect(res.outcomes[60 + i]).to.deep.include({ status: 'already-present', reason: `same sample as sample ${i} of this push`, observation: res.outcomes[i]!.observation });
    }
    expect(await countFor(server, 'Observation', id)).to.equal(60);
  });

  it('a push overlapping a stored one creates only the new samples', async () => {
    const { id, token } = await citizen('Overlapp');
    const list = samples(100);
    await push({ samples: list.slice(0, 60) }, token).expect(200);
    const res = (await push({ samples: list.slice(30) }, token).expect(200)).body as BridgeResponse;
    expect(res.outcomes.map((o) => o.status)).to.deep.equal([...Array(30).fill('already-present'), ...Array(40).fill('created')]);
    expect(await countFor(server, 'Observation', id)).to.equal(100);
  });

  it('four concurrent overlapping pushes for one citizen store exactly one Observation per sample', async () => {
    const { id, token } = await citizen('Samtidig');
    const list = samples(200);
    // Push k carries samples [40k, 40k + 80): every sample but the first and last 40 is in two pushes.
    const results = await Promise.all([0, 1, 2, 3].map((k) => push({ samples: list.slice(40 * k, 40 * k + 80) }, token)));
    expect(results.map((r) => r.status)).to.deep.equal([200, 200, 200, 200]);
    const created = new Map<string, number>();
    for (const r of results) for (const o of (r.body as BridgeResponse).outcomes) if (o.status === 'created') created.set(o.id!, (created.get(o.id!) ?? 0) + 1);
    expect(created.size).to.equal(200);
    expect([...created.values()].every((n) => n === 1)).to.equal(true);
    expect(await countFor(server, 'Observation', id)).to.equal(200);
  });
});
