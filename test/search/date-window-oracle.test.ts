/**
 * Date windows (issue 11 §6, src/fhir/search/date-window.ts) must answer exactly what the
 * per-parameter form answered: random Observations (instants, dateTimes of every precision and time
 * zones from −12:00 to +14:00, dates of year/month/day precision, Periods open at either end, Timings
 * with several events) and random searches of one to three date parameters with every prefix, each
 * asked over HTTP and compared with the per-parameter SQL (`compileParam` of each parameter, ANDed,
 * as the server compiled every date search before). DATE_ORACLE_SEED replays a run.
 */
import { expect } from 'chai';
import request from 'supertest';
import type { Bundle, BundleEntry, Observation } from 'fhir/r4';
import { compileParam, type CompileCtx } from '../../src/fhir/search/compile.js';
import { parseQuery } from '../../src/fhir/search/parse.js';
import { FHIR, q, sorted, useSearchServer } from './support.js';
import { seededRandom } from '../../src/bridges/generate-export.js';

const SEED = Number(process.env.DATE_ORACLE_SEED ?? 20261203);
const RESOURCES = 200;
const QUERIES = Number(process.env.DATE_ORACLE_QUERIES ?? 160);

const DAY = 86_400_000;
const ZONES = ['Z', '+14:00', '-12:00', '+02:00', '-02:00', '+05:30'];

function generator(seed: number) {
  const r = seededRandom(seed); // a failing run can be replayed with its seed
  const int = (n: number) => Math.floor(r() * n);
  const one = <T>(list: readonly T[]): T => list[int(list.length)]!;
  // Mostly inside one month of 2024 (so windows cut through values and their edges), sometimes far.
  const instant = () => (r() < 0.9 ? Date.UTC(2024, 1, 1) + int(30 * DAY) : Date.UTC(1990 + int(100), int(12), 1 + int(28)));
  // At a day boundary more often than chance: the edges are where precision and zones matter.
  // A year's last weeks now and then: where a year-precision value ends.
  const near = () => {
    const x = r();
    if (x < 0.15) return Date.UTC(2025, 0, 1) - int(40 * DAY) + one([0, 1, -1]);
    return x < 0.4 ? Math.floor(instant() / DAY) * DAY + one([0, -1, 1, -1000, 1000, -60_000]) : instant();
  };
  const iso = (ms: number, zone: string) => {
    const offset = zone === 'Z' ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
    return new Date(ms + offset).toISOString().slice(0, 23) + zone;
  };
  /** A stored FHIR date/dateTime/instant of some precision. */
  const stored = (ms: number): string => {
    switch (int(6)) {
      case 0: return iso(ms, 'Z').slice(0, 4);
      case 1: return iso(ms, 'Z').slice(0, 7);
      case 2: return iso(ms, 'Z').slice(0, 10);
      case 3: { const z = one(ZONES); return iso(ms, z).slice(0, 19) + z; }
      default: { const z = one(ZONES); return iso(ms, z); }
    }
  };
  /** A search value of some precision, with or without a zone. */
  const value = (ms: number): string => {
    const z = one([...ZONES, '']);
    const full = iso(ms, z || 'Z');
    switch (int(7)) {
      case 0: return full.slice(0, 4);
      case 1: return full.slice(0, 7);
      case 2: case 3: return full.slice(0, 10);
      case 4: return full.slice(0, 16) + z;
      case 5: return full.slice(0, 19) + z;
      default: return full.slice(0, 23) + z;
    }
  };
  const effective = (): Partial<Observation> => {
    const a = near();
    switch (int(8)) {
      case 0: return { effectiveInstant: iso(a, one(ZONES)) };
      case 1: { // a Period, perhaps open at one end
        const end = a + int(r() < 0.5 ? 2 * DAY : 200 * DAY);
        const kind = int(4);
        return { effectivePeriod: kind === 0 ? { start: stored(a) } : kind === 1 ? { end: stored(end) } : { start: iso(a, 'Z'), end: iso(end, 'Z') } };
      }
      case 2: { // a Timing: several values of one parameter
        const events = Array.from({ length: 2 + int(3) }, () => iso(near(), one(ZONES)));
        return { effectiveTiming: { event: events } };
      }
      case 3: return {};
      default: return { effectiveDateTime: stored(a) };
    }
  };
  const PREFIXES = ['', 'eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'];
  const LOWER = ['ge', 'gt', 'sa', 'ap', 'eq', ''];
  const UPPER = ['lt', 'le', 'eb', 'ap', 'eq', ''];
  /** One to three date parameters; mostly a lower and an upper bound (a window). */
  const query = (): string[] => {
    const a = near();
    const b = a + int(r() < 0.6 ? 3 * DAY : 60 * DAY);
    const param = (prefixes: readonly string[], ms: number) => {
      const values = Array.from({ length: r() < 0.15 ? 2 : 1 }, (_, i) => `${one(prefixes)}${value(i === 0 ? ms : near())}`);
      return `date=${values.map(q).join(',')}`;
    };
    switch (int(4)) {
      case 0: return [param(PREFIXES, a)];
      case 1: return [param(LOWER, a), param(UPPER, b), param(PREFIXES, near())];
      default: return [param(LOWER, a), param(UPPER, b)];
    }
  };
  return { effective, query };
}

describe('search: date windows answer what the per-parameter form answers (random oracle)', function () {
  // 320 requests and queries: ~30 s on PGlite on a quiet machine, 240 s seen at load 20 with nice 19.
  this.timeout(900_000);
  const s = useSearchServer();
  const gen = generator(SEED);

  before(async () => {
    const entry: BundleEntry[] = Array.from({ length: RESOURCES }, () => ({
      resource: { resourceType: 'Observation', status: 'final', code: { text: 'vekt' }, ...gen.effective() } as Observation,
      request: { method: 'POST', url: 'Observation' },
    }));
    const res = await request(s.ctx().app).post('/fhir').set('Content-Type', FHIR).send({ resourceType: 'Bundle', type: 'transaction', entry });
    expect(res.status, JSON.stringify(res.body).slice(0, 500)).to.equal(200);
  });

  /** The ids the per-parameter SQL finds (each parameter its own `seq IN`, ANDed). */
  async function perParameter(query: string): Promise<string[]> {
    const params: unknown[] = [];
    const ctx: CompileCtx = { params, fhirBase: '', access: [], accessPredicate: () => 'TRUE', depth: 0 };
    const preds = parseQuery([...new URLSearchParams(query)]).params.map((p) => compileParam('Observation', p, 'r', ctx));
    const rows = await s.ctx().db.query<{ id: string }>(`SELECT r.id FROM resources r WHERE r.resource_type = 'Observation' AND NOT r.deleted AND ${preds.join(' AND ')}`, params);
    return sorted(...rows.map((row) => row.id));
  }

  it(`${QUERIES} random searches (seed ${SEED}) give the same matches`, async () => {
    let nonEmpty = 0;
    for (let i = 0; i < QUERIES; i++) {
      const query = gen.query().join('&');
      const expected = await perParameter(query);
      const res = await request(s.ctx().app).get(`/fhir/Observation?${query}&_count=1000&_total=accurate`);
      expect(res.status, `${query}: ${JSON.stringify(res.body).slice(0, 300)}`).to.equal(200);
      const bundle = res.body as Bundle;
      const got = sorted(...(bundle.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource!.id!));
      expect(got, `seed ${SEED}, query ${i}: ${decodeURIComponent(query)}`).to.deep.equal(expected);
      expect(bundle.total, query).to.equal(expected.length);
      if (expected.length > 0) nonEmpty++;
    }
    // The searches must find something often enough to mean anything.
    expect(nonEmpty).to.be.greaterThan(QUERIES / 4);
  });
});

describe('search: date windows, by hand', () => {
  const s = useSearchServer();
  let timing: string; // events 2024-01-01 and 2024-06-01: nothing in March
  let period: string; // 2024-01-01 .. 2024-06-01: all of March
  let day: string; // 2024-03-10

  before(async () => {
    timing = (await s.create<Observation>({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, effectiveTiming: { event: ['2024-01-01T08:00:00Z', '2024-06-01T08:00:00Z'] } })).id;
    period = (await s.create<Observation>({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, effectivePeriod: { start: '2024-01-01', end: '2024-06-01' } })).id;
    day = (await s.create<Observation>({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, effectiveDateTime: '2024-03-10' })).id;
  });

  it('each bound may be met by another value of the same resource (parameters AND over the resource)', async () => {
    // June meets ge2024-03-01, January meets lt2024-04-01: the Timing matches, as it did per parameter.
    expect(await s.ids('Observation?date=ge2024-03-01&date=lt2024-04-01')).to.deep.equal(sorted(timing, period, day));
    // No value is after June: the Timing drops out.
    expect(await s.ids('Observation?date=ge2024-07-01&date=lt2024-08-01')).to.deep.equal([]);
    expect(await s.ids('Observation?date=ge2024-03-01&date=lt2024-03-05')).to.deep.equal(sorted(timing, period));
  });

  it('eq and ap alone (one parameter, compiled as before): a value inside the range, an overlap', async () => {
    expect(await s.ids('Observation?date=2024-03')).to.deep.equal([day]);
    expect(await s.ids('Observation?date=ap2024-03-10')).to.deep.equal(sorted(period, day));
    expect(await s.ids('Observation?date=eq2024-01-01T08:00:00Z')).to.deep.equal([timing]);
  });

  it('a window with an invalid bound is a 400 naming the parameter, as before', async () => {
    const oo = await s.fails('Observation?date=ge2024-03-01&date=lt2024-13', 400);
    expect(oo.issue[0]!.expression).to.deep.equal(['date']);
  });
});
