import { expect } from 'chai';
import type { Observation, Patient } from 'fhir/r4';
import { q, sorted, useSearchServer } from './support.js';

const obs = (effective: Partial<Observation>): Observation => ({ resourceType: 'Observation', status: 'final', code: { text: 'vekt' }, ...effective });

describe('search: date parameters (prefixes, precision, periods, time zones)', () => {
  const s = useSearchServer();
  let A: string; // 2023-12-31T23:59:59Z
  let B: string; // 2024-03-05T10:30:00Z
  let C: string; // 2024-03-05T23:30:00-02:00 = 2024-03-06T01:30Z
  let D: string; // Period 2024-01-15 .. 2024-02-15 (whole days)
  let E: string; // Period from 2024-06-01, no end (ongoing)
  let F: string; // 2025-01-01 (a date: the whole day)
  let N: string; // no effective[x]
  let P: string; // Patient born 1980-05-17

  before(async () => {
    A = (await s.create(obs({ effectiveDateTime: '2023-12-31T23:59:59Z' }))).id;
    B = (await s.create(obs({ effectiveDateTime: '2024-03-05T10:30:00Z' }))).id;
    C = (await s.create(obs({ effectiveDateTime: '2024-03-05T23:30:00-02:00' }))).id;
    D = (await s.create(obs({ effectivePeriod: { start: '2024-01-15', end: '2024-02-15' } }))).id;
    E = (await s.create(obs({ effectivePeriod: { start: '2024-06-01' } }))).id;
    F = (await s.create(obs({ effectiveDateTime: '2025-01-01' }))).id;
    N = (await s.create(obs({}))).id;
    P = (await s.create<Patient>({ resourceType: 'Patient', birthDate: '1980-05-17' })).id;
  });

  const find = (value: string) => s.ids(`Observation?date=${q(value)}`);

  it('a year means the whole year: eq2024 finds values wholly inside 2024 (not the open period)', async () => {
    expect(await find('2024')).to.deep.equal(sorted(B, C, D));
    expect(await find('eq2024')).to.deep.equal(sorted(B, C, D));
  });

  it('a day means the whole day, in UTC: the -02:00 evening belongs to the next UTC day', async () => {
    expect(await find('2024-03-05')).to.deep.equal([B]);
    expect(await find('2024-03-06')).to.deep.equal([C]);
  });

  it('a search value without a zone is UTC; with a zone it is converted', async () => {
    expect(await find('2024-03-05T10:30:00')).to.deep.equal([B]);
    expect(await find('2024-03-05T12:30:00+02:00')).to.deep.equal([B]);
    expect(await find('2024-03-05T10:30')).to.deep.equal([B]);
  });

  it('ne: everything with a value outside the range (a resource without the element does not match)', async () => {
    expect(await find('ne2024')).to.deep.equal(sorted(A, E, F));
  });

  it('gt / lt: the target reaches beyond the range', async () => {
    expect(await find('gt2024')).to.deep.equal(sorted(E, F));
    expect(await find('lt2024')).to.deep.equal([A]);
    expect(await find('lt2024-01-20')).to.deep.equal(sorted(A, D));
    expect(await find('gt2024-03-05T12:00:00Z')).to.deep.equal(sorted(C, E, F));
  });

  it('ge / le: beyond the range or inside it', async () => {
    expect(await find('ge2024')).to.deep.equal(sorted(B, C, D, E, F));
    expect(await find('le2024')).to.deep.equal(sorted(A, B, C, D));
    expect(await find('ge2024-03-05T10:30:00Z')).to.deep.equal(sorted(B, C, E, F));
    expect(await find('le2023-12-31T23:59:59Z')).to.deep.equal([A]);
  });

  it('sa / eb: starts after the end / ends before the start of the range', async () => {
    expect(await find('sa2024-02')).to.deep.equal(sorted(B, C, E, F));
    expect(await find('eb2024-02')).to.deep.equal([A]);
    expect(await find('eb2024-01-15')).to.deep.equal([A]);
  });

  it('ap: the target overlaps the range (a period that touches February)', async () => {
    expect(await find('ap2024-02')).to.deep.equal([D]);
    expect(await find('ap2024-02-01')).to.deep.equal([D]);
  });

  it('a Period is a range: eq needs it inside the search range, not just overlapping', async () => {
    expect(await find('2024-02')).to.deep.equal([]);
    expect(await find('2024-01')).to.deep.equal([]);
    expect(await find('ge2024-01-20')).to.include(D);
  });

  it('an open-ended Period reaches the end of time', async () => {
    expect(await find('gt2100')).to.deep.equal([E]);
    expect(await find('sa2024-05')).to.include(E);
  });

  it('AND of two prefixes is a window; OR of values is a union', async () => {
    expect(await s.ids(`Observation?date=ge2024-01-01&date=lt2024-03-01`)).to.deep.equal([D]);
    expect(await s.ids(`Observation?date=2023,2025`)).to.deep.equal(sorted(A, F));
  });

  it(':missing=true finds the observation without effective[x]', async () => {
    expect(await s.ids('Observation?date:missing=true')).to.deep.equal([N]);
  });

  it('date precision on a date element: birthdate year, month, day', async () => {
    expect(await s.ids('Patient?birthdate=1980')).to.deep.equal([P]);
    expect(await s.ids('Patient?birthdate=1980-05')).to.deep.equal([P]);
    expect(await s.ids('Patient?birthdate=1980-05-17')).to.deep.equal([P]);
    expect(await s.ids('Patient?birthdate=1980-05-18')).to.deep.equal([]);
    expect(await s.ids('Patient?birthdate=lt1980-05-17')).to.deep.equal([]);
  });

  it('_lastUpdated takes the same prefixes', async () => {
    const all = await s.ids('Observation?_lastUpdated=gt2000-01-01');
    expect(all).to.have.length(7);
    expect(await s.ids('Observation?_lastUpdated=lt2000-01-01')).to.deep.equal([]);
    expect(await s.ids('Observation?_lastUpdated=ne2000')).to.have.length(7);
  });

  for (const bad of ['2024-13', '24-01-01', 'yesterday', 'gt', '2024-02-30T25:00']) {
    it(`an invalid date "${bad}" → 400 naming the parameter`, async () => {
      const oo = await s.fails(`Observation?date=${q(bad)}`, 400);
      expect(oo.issue[0]!.expression).to.deep.equal(['date']);
    });
  }
});
