/**
 * Migration 011 (date span classes, issue 11 §6) on a database written before it: existing index rows
 * get their span class, versions with several values of a date parameter are listed from the rows
 * already there, and date windows over HTTP then answer as the per-parameter form did, for old and
 * new resources alike. Runs on PGlite, or on PostgreSQL with DATABASE_URL.
 */
import { expect } from 'chai';
import request from 'supertest';
import type { BundleEntry, Observation } from 'fhir/r4';
import { migrate } from '../../src/db/migrate.js';
import { FHIR, q, sorted, useSearchServer } from '../search/support.js';

const obs = (effective: Partial<Observation>): Observation => ({ resourceType: 'Observation', status: 'final', code: { text: 'puls' }, ...effective });

describe('migration 011: date span classes on a populated database', function () {
  this.timeout(120_000);
  const s = useSearchServer();
  const ids: Record<string, string> = {};
  const data: Record<string, Partial<Observation>> = {
    day: { effectiveDateTime: '2024-03-10' },
    instant: { effectiveDateTime: '2024-03-11T23:30:00-02:00' }, // 2024-03-12T01:30Z
    month: { effectiveDateTime: '2024-03' },
    year: { effectiveDateTime: '2024' },
    open: { effectivePeriod: { start: '2024-01-01' } },
    long: { effectivePeriod: { start: '2020-01-01', end: '2024-12-31' } },
    timing: { effectiveTiming: { event: ['2024-01-01T08:00:00Z', '2024-06-01T08:00:00Z'] } },
  };

  before(async () => {
    // The schema as it was before 011 (the server under test created it whole).
    const db = s.ctx().db;
    await db.exec(`DROP TRIGGER sp_date_multi_values ON sp_date; DROP FUNCTION sp_date_note_multi(); DROP TABLE sp_date_multi;
      DROP INDEX sp_date_window; ALTER TABLE sp_date DROP COLUMN span_class; DELETE FROM schema_migrations WHERE version = 11;`);
    const entry: BundleEntry[] = Object.values(data).map((effective) => ({ resource: obs(effective), request: { method: 'POST', url: 'Observation' } }));
    const res = await request(s.ctx().app).post('/fhir').set('Content-Type', FHIR).send({ resourceType: 'Bundle', type: 'transaction', entry });
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).to.equal(200);
    Object.keys(data).forEach((k, i) => (ids[k] = res.body.entry[i].response.location.split('/')[1]));
    expect(await migrate(db)).to.deep.equal([11]);
  });

  it('classes every existing row by its span: a day, a month, a year, longer or open', async () => {
    const rows = await s.ctx().db.query<{ id: string; span_class: number }>(
      `SELECT r.id, d.span_class FROM sp_date d JOIN resources r ON r.seq = d.seq WHERE d.code = 'date' ORDER BY d.low`,
    );
    const classOf = (k: string) => [...new Set(rows.filter((r) => r.id === ids[k]).map((r) => Number(r.span_class)))];
    expect(classOf('day')).to.deep.equal([0]);
    expect(classOf('instant')).to.deep.equal([0]);
    expect(classOf('timing')).to.deep.equal([0]);
    expect(classOf('month')).to.deep.equal([1]);
    expect(classOf('year')).to.deep.equal([2]);
    expect(classOf('open')).to.deep.equal([3]);
    expect(classOf('long')).to.deep.equal([3]);
  });

  it('date windows find old resources, including one whose bounds are met by different values', async () => {
    const find = async (query: string) => s.ids(`Observation?${query}`);
    // March 10–12: the day and the instant, the month and the year contain it partly or wholly, the open
    // and the long Period overlap it, the Timing has a value before (January) and after (June).
    expect(await find(`date=ge2024-03-10&date=lt2024-03-12`)).to.deep.equal(sorted(ids.day!, ids.month!, ids.year!, ids.open!, ids.long!, ids.timing!));
    expect(await find(`date=ge2024-03-12&date=lt2024-03-13`)).to.deep.equal(sorted(ids.instant!, ids.month!, ids.year!, ids.open!, ids.long!, ids.timing!));
    expect(await find(`date=${q('2024-03')}`)).to.deep.equal(sorted(ids.day!, ids.instant!, ids.month!));
    expect(await find(`date=ge2024-07-01&date=le2024-07-31`)).to.deep.equal(sorted(ids.year!, ids.open!, ids.long!));
  });

  it('versions written after the migration are listed by the trigger', async () => {
    const later = (await s.create(obs({ effectiveTiming: { event: ['2023-01-01T08:00:00Z', '2025-01-01T08:00:00Z'] } }))).id;
    const single = (await s.create(obs({ effectiveDateTime: '2023-01-01T08:00:00Z' }))).id;
    expect(await s.ids('Observation?date=ge2024-07-01&date=lt2024-07-02')).to.deep.equal(sorted(ids.year!, ids.open!, ids.long!, later));
    expect(await s.ids('Observation?date=ge2022-12-31&date=lt2023-01-02')).to.deep.equal(sorted(later, single, ids.long!));
  });
});
