/**
 * `isoTime` (repository/rows.ts) rewrites PostgreSQL's UTC timestamptz text instead of parsing it (issue 11):
 * every meta.lastUpdated a read or search shows goes through it, so it must say exactly what Date would.
 */
import { expect } from 'chai';
import { isoTime } from '../../src/fhir/repository/rows.js';

describe('isoTime: meta.lastUpdated from the row', () => {
  it('gives what Date.toISOString gives for every fraction PostgreSQL prints, and for other forms', () => {
    const forms = [
      '2026-12-03 18:00:00.123456+00', '2026-12-03 18:00:00.9999996+00', '2026-12-03 18:00:00+00', '2026-12-03 18:00:00.5+00',
      '2026-12-03 18:00:00.12+00', '2026-12-03 18:00:00.000001+00', '2024-02-29 23:59:59.999+00',
      // Not the UTC text: through Date.
      '2026-12-03 19:00:00.25+01', '2026-12-03T18:00:00.123Z', '2026-12-03 18:00:00+05:30',
    ];
    for (const s of forms) expect(isoTime(s), s).to.equal(new Date(s).toISOString());
    const d = new Date('2026-12-03T18:00:00.123Z');
    expect(isoTime(d)).to.equal('2026-12-03T18:00:00.123Z');
  });
});
