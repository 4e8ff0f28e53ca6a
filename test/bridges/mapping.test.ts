import { expect } from 'chai';
import {
  GOOGLE_FIT_TYPES,
  HEALTH_CONNECT_TYPES,
  HEALTHKIT_TYPES,
  LOINC,
  MAPPING,
  normalizeHealthKitUnit,
  rowForGoogleFitType,
  rowsForHealthConnectType,
  rowsForHealthKitType,
} from '../../src/bridges/mapping.js';
import fs from 'node:fs';
import path from 'node:path';
import { mappingTableMarkdown, notMappedMarkdown, platformTableMarkdown } from '../../src/bridges/mapping-doc.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { checkPeriod, checkRange, convert, parseInstant, parseNanos, Rejection } from '../../src/bridges/rules.js';
import { hashUuid, identifierQuery } from '../../src/bridges/identity.js';

const rejects = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof Rejection) return err.message;
    throw err;
  }
  throw new Error('expected a rejection');
};

describe('bridge mapping table', () => {
  it('covers the measures of issue 6 with their LOINC codes', () => {
    const all = MAPPING.flatMap((r) => [...r.code.map((c) => c.code), ...(r.kind === 'panel' ? r.components.flatMap((c) => c.code.map((x) => x.code)) : [])]);
    for (const code of ['8867-4', '40443-4', '29463-7', '8302-2', '39156-5', '85354-9', '8480-6', '8462-4', '2708-6', '59408-5', '8310-5', '9279-1', '2339-0', '15074-8', '55423-8', '93832-4']) {
      expect(all, code).to.include(code);
    }
  });

  it('every code is LOINC and every category is vital-signs or activity', () => {
    for (const r of MAPPING) {
      expect(r.code.every((c) => c.system === LOINC && c.display)).to.equal(true);
      expect(['vital-signs', 'activity']).to.include(r.category);
    }
  });

  it('steps, distance, energy, VO2 max and sleep are activity; steps, distance, energy and sleep span a period; the rest are vital signs at an instant', () => {
    const activity = ['steps', 'distance', 'active-energy', 'vo2-max', 'sleep-duration'];
    const period = ['steps', 'distance', 'active-energy', 'sleep-duration'];
    for (const r of MAPPING) {
      expect(r.category, r.key).to.equal(activity.includes(r.key) ? 'activity' : 'vital-signs');
      expect(r.effective, r.key).to.equal(period.includes(r.key) ? 'period' : 'instant');
    }
  });

  it('covers the measures of issue 15 with their LOINC codes and every platform’s names', () => {
    const byKey = new Map(MAPPING.map((r) => [r.key, r]));
    const expected: Array<[string, string, string | undefined, string | undefined, string | undefined]> = [
      ['body-fat', '41982-0', 'HKQuantityTypeIdentifierBodyFatPercentage', 'com.google.body.fat.percentage', 'BodyFat'],
      ['bmi', '39156-5', 'HKQuantityTypeIdentifierBodyMassIndex', undefined, undefined],
      ['distance', '55430-3', 'HKQuantityTypeIdentifierDistanceWalkingRunning', 'com.google.distance.delta', 'Distance'],
      ['active-energy', '41981-2', 'HKQuantityTypeIdentifierActiveEnergyBurned', undefined, 'ActiveCaloriesBurned'],
      ['resting-heart-rate', '40443-4', 'HKQuantityTypeIdentifierRestingHeartRate', undefined, 'RestingHeartRate'],
      ['heart-rate-variability', '80404-7', 'HKQuantityTypeIdentifierHeartRateVariabilitySDNN', undefined, undefined],
      ['respiratory-rate', '9279-1', 'HKQuantityTypeIdentifierRespiratoryRate', undefined, 'RespiratoryRate'],
      ['vo2-max', '60842-2', 'HKQuantityTypeIdentifierVO2Max', undefined, 'Vo2Max'],
      ['wrist-temperature', '39106-0', 'HKQuantityTypeIdentifierAppleSleepingWristTemperature', undefined, undefined],
    ];
    for (const [key, code, hk, gf, hc] of expected) {
      const r = byKey.get(key)!;
      expect(r.code[0]!.code, key).to.equal(code);
      expect(r.kind === 'quantity' ? r.healthKit?.type : undefined, key).to.equal(hk);
      expect(r.googleFit?.dataTypeName, key).to.equal(gf);
      expect(r.healthConnect?.recordType, key).to.equal(hc);
    }
    expect(rowsForHealthConnectType('SleepSession')[0]!.code[0]!.code).to.equal('93832-4');
    for (const t of HEALTH_CONNECT_TYPES) expect(rowsForHealthConnectType(t), t).to.not.be.empty;
  });

  it('every listed platform type resolves to its row', () => {
    for (const t of HEALTHKIT_TYPES) expect(rowsForHealthKitType(t), t).to.not.be.empty;
    for (const t of GOOGLE_FIT_TYPES) expect(rowForGoogleFitType(t), t).to.not.equal(undefined);
    expect(rowsForHealthKitType('HKQuantityTypeIdentifierBloodGlucose').map((r) => r.code[0]!.code)).to.deep.equal(['2339-0', '15074-8']);
  });

  it('HealthKit’s molar glucose unit with its molar mass reads as mmol/L', () => {
    expect(normalizeHealthKitUnit('mmol<180.15588000005408>/L')).to.equal('mmol/L');
    expect(normalizeHealthKitUnit('mg/dL')).to.equal('mg/dL');
  });

  it('the README table has one line per row and names every code', () => {
    const md = mappingTableMarkdown();
    expect(md.split('\n')).to.have.length(MAPPING.length + 2);
    for (const r of MAPPING) expect(md).to.contain(r.code[0]!.code);
    expect(md).to.contain('lb → x × 0.45359237');
    expect(md).to.contain('degF → (x − 32) × 5/9');
  });

  it('docs/bridges.md shows the per-platform table exactly as the mapping produces it, one row per platform type', () => {
    const md = platformTableMarkdown();
    const doc = fs.readFileSync(path.join(PROJECT_ROOT, 'docs/bridges.md'), 'utf8');
    const embedded = /<!-- mapping-table:start -->\n([\s\S]*?)\n<!-- mapping-table:end -->/.exec(doc)?.[1];
    expect(embedded, 'regenerate with platformTableMarkdown() from src/bridges/mapping-doc.ts').to.equal(md);
    const readme = fs.readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
    expect(/<!-- mapping-table:start -->\n([\s\S]*?)\n<!-- mapping-table:end -->/.exec(readme)?.[1], 'README.md mapping table').to.equal(md);
    // Each HealthKit type / unit family and each Google Fit type has its row.
    for (const t of [...HEALTHKIT_TYPES, ...GOOGLE_FIT_TYPES]) expect(md).to.contain(`\`${t}\``);
    expect(md.split('\n').filter((l) => l.startsWith('| Google Fit |'))).to.have.length(GOOGLE_FIT_TYPES.length);
    expect(md.split('\n').filter((l) => l.startsWith('| Health Connect |'))).to.have.length(MAPPING.filter((r) => r.healthConnect).length);
    expect(/<!-- not-mapped:start -->\n([\s\S]*?)\n<!-- not-mapped:end -->/.exec(doc)?.[1], 'docs/bridges.md not-mapped list').to.equal(notMappedMarkdown());
  });
});

describe('bridge rules', () => {
  it('converts °F to Cel, lb to kg, in to cm with the row’s decimals', () => {
    expect(convert(98.6, { offset: -32, scale: 5 / 9 }, 2)).to.equal(37);
    expect(convert(212, { offset: -32, scale: 5 / 9 }, 2)).to.equal(100);
    expect(convert(200, { scale: 0.45359237 }, 2)).to.equal(90.72);
    expect(convert(70, { scale: 2.54 }, 1)).to.equal(177.8);
    expect(convert(70.456, { scale: 1 }, 0)).to.equal(70.456);
  });

  it('a range rule rejects negatives, an exclusive minimum and anything above the maximum', () => {
    const r = { min: 0, minExclusive: true, max: 300 };
    const ucum = { code: '/min', unit: 'beats/minute' };
    expect(rejects(() => checkRange('heart rate', -1, r, ucum))).to.equal('heart rate -1 /min is negative');
    expect(rejects(() => checkRange('heart rate', 0, r, ucum))).to.match(/implausible/);
    expect(rejects(() => checkRange('heart rate', 300.5, r, ucum))).to.match(/implausible \(rule: > 0 and ≤ 300 \/min\)/);
    expect(() => checkRange('heart rate', 300, r, ucum)).to.not.throw();
  });

  it('parses ISO 8601 with a zone and the export.xml form, keeping the offset', () => {
    expect(parseInstant('2024-05-01T08:30+02:00', 'd').fhir).to.equal('2024-05-01T08:30:00+02:00');
    expect(parseInstant('2024-05-01T08:30:00.250+0200', 'd').fhir).to.equal('2024-05-01T08:30:00.250+02:00');
    expect(parseInstant('2024-05-01 08:30:00 +0100', 'd').fhir).to.equal('2024-05-01T08:30:00+01:00');
    expect(parseInstant('2024-05-01 08:30:00 +0000', 'd').fhir).to.equal('2024-05-01T08:30:00Z');
    expect(parseInstant('2024-05-01T08:30:00+02:00', 'd').ms).to.equal(Date.UTC(2024, 4, 1, 6, 30));
  });

  it('rejects impossible calendar dates and times without a zone', () => {
    expect(rejects(() => parseInstant('2024-02-30T08:00:00Z', 'startDate'))).to.match(/not a valid date-time/);
    expect(rejects(() => parseInstant('2024-05-01T25:00:00Z', 'startDate'))).to.match(/not a valid date-time/);
    expect(rejects(() => parseInstant('2024-05-01', 'startDate'))).to.match(/time zone/);
    expect(rejects(() => parseInstant(1714545000, 'startDate'))).to.match(/startDate is required/);
  });

  it('accepts exactly the real calendar instants: leap days, month lengths, hours, minutes, seconds and years as a Date round trip judges them', () => {
    // The calendar check is arithmetic (a push parses two instants per sample); this is the round
    // trip through Date it replaced, run on the edges of every field.
    const roundTrip = (y: number, mo: number, d: number, h: number, mi: number, s: number) => {
      const c = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
      return c.getUTCFullYear() === y && c.getUTCMonth() === mo - 1 && c.getUTCDate() === d && h < 24 && mi < 60 && s < 60;
    };
    const pad = (n: number, w: number) => String(n).padStart(w, '0');
    let checked = 0;
    for (const y of [50, 99, 100, 1900, 1996, 2000, 2023, 2024, 2100, 2400]) {
      for (const mo of [0, 1, 2, 4, 12, 13]) {
        for (const d of [0, 1, 28, 29, 30, 31, 32]) {
          for (const [h, mi, s] of [[0, 0, 0], [23, 59, 59], [24, 0, 0], [12, 60, 0], [12, 0, 60]] as const) {
            for (const text of [`${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}+01:00`, `${pad(y, 4)}${pad(mo, 2)}${pad(d, 2)}${pad(h, 2)}${pad(mi, 2)}${pad(s, 2)}+0100`]) {
              let accepted = true;
              try {
                parseInstant(text, 'd');
              } catch (err) {
                if (!(err instanceof Rejection)) throw err;
                accepted = false;
              }
              expect(accepted, text).to.equal(roundTrip(y, mo, d, h, mi, s) && Number.isFinite(Date.parse(`${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}+01:00`)));
              checked++;
            }
          }
        }
      }
    }
    expect(checked).to.equal(10 * 6 * 7 * 5 * 2);
    expect(parseInstant('2024-02-29T23:59:59.5-03:00', 'd')).to.deep.equal({ fhir: '2024-02-29T23:59:59.5-03:00', ms: Date.parse('2024-02-29T23:59:59.5-03:00') });
  });

  it('a sample ending more than five minutes after now is from the future; clock skew below that is tolerated', () => {
    const now = new Date('2024-06-01T12:00:00Z');
    const at = (iso: string) => parseInstant(iso, 'd');
    expect(() => checkPeriod(at('2024-06-01T12:04:00Z'), at('2024-06-01T12:04:00Z'), now)).to.not.throw();
    expect(rejects(() => checkPeriod(at('2024-06-01T12:06:00Z'), at('2024-06-01T12:06:00Z'), now))).to.match(/in the future/);
  });

  it('nanoseconds become a UTC dateTime without losing digits', () => {
    expect(parseNanos('1714545000000000000', 'x').instant.fhir).to.equal('2024-05-01T06:30:00.000Z');
    expect(parseNanos('1714545000000000100', 'x').instant.fhir).to.equal('2024-05-01T06:30:00.0000001Z');
    expect(parseNanos(1714545000000, 'x').nanos).to.equal('1714545000000');
    expect(rejects(() => parseNanos('-5', 'startTimeNanos'))).to.match(/startTimeNanos must be an integer/);
  });

  it('derived UUIDs are stable, distinct and well-formed', () => {
    expect(hashUuid('a', 'b')).to.equal(hashUuid('a', 'b'));
    expect(hashUuid('a', 'b')).to.not.equal(hashUuid('ab'));
    expect(hashUuid('a')).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(identifierQuery('https://x/sid', 'v')).to.equal('identifier=https://x/sid|v');
  });
});
