/**
 * Property-based fuzzing of search through HTTP: thousands of random queries (known and unknown
 * parameters, modifiers, prefixes, garbage and unicode values, chains, _has, _include, _sort,
 * _count, strict and lenient) must never produce a 5xx, and every error must be an
 * OperationOutcome. The seed is printed on failure by fast-check; set FUZZ_SEED to replay it.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Observation, Patient } from 'fhir/r4';
import { searchParamsFor } from '../../src/fhir/definitions/registry.js';
import { useSearchServer } from './support.js';

const TYPES = ['Patient', 'Observation', 'Encounter', 'Organization'] as const;
const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);
const TIME_LIMIT_MS = 55_000;

const codesOf = (type: string) => [...searchParamsFor(type).keys()];
const refCodesOf = (type: string) => [...searchParamsFor(type).values()].filter((p) => p.type === 'reference').map((p) => p.code);

const garbage = fc.constantFrom('', ',', '|', '||', '$', '$$', '\\', '\\,', '\\$', '%', '_', "'", '"', '..', 'null', 'true', 'false', '-0', '1e999', 'NaN', 'Infinity', '9'.repeat(40), 'Patient/', '/x', ':', '*', 'a'.repeat(300));
const prefix = fc.constantFrom('', '', 'eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap', 'xx');
const dateValue = fc
  .tuple(fc.date({ min: new Date('0001-01-01'), max: new Date('9999-12-31'), noInvalidDate: true }), fc.integer({ min: 4, max: 29 }), fc.constantFrom('', 'Z', '+02:00', '-14:00', '+99:99'))
  .map(([d, len, zone]) => d.toISOString().slice(0, len) + (len > 13 ? zone : ''));
const numberValue = fc.oneof(fc.integer().map(String), fc.double({ noNaN: false }).map(String), fc.constantFrom('0.5', '-1.25e3', '1.', '.5', '+3'));
const tokenValue = fc.tuple(fc.option(fc.constantFrom('http://loinc.org', 'urn:oid:2.16.578.1.12.4.1.4.1', '', 'x|y')), fc.string({ maxLength: 12 })).map(([sys, code]) => (sys === null ? code : `${sys}|${code}`));
const refValue = fc.tuple(fc.constantFrom(...TYPES, 'Spaceship', ''), fc.string({ maxLength: 10 })).map(([t, id]) => (t ? `${t}/${id}` : id));
const unicode = fc.string({ unit: 'grapheme', maxLength: 20 });
const binary = fc.string({ unit: 'binary', maxLength: 20 });
const oneValue = fc.oneof(
  fc.tuple(prefix, dateValue).map(([p, v]) => p + v),
  fc.tuple(prefix, numberValue).map(([p, v]) => p + v),
  fc.tuple(prefix, numberValue, fc.constantFrom('', '|http://unitsofmeasure.org|mg', '||kg', '|')).map(([p, n, u]) => p + n + u),
  tokenValue,
  refValue,
  fc.tuple(tokenValue, prefix, numberValue).map(([t, p, n]) => `${t}$${p}${n}`),
  unicode,
  binary,
  garbage,
);
const value = fc.array(oneValue, { minLength: 1, maxLength: 3 }).map((vs) => vs.join(','));
const modifier = fc.constantFrom('', '', '', ':exact', ':contains', ':missing', ':not', ':text', ':of-type', ':below', ':above', ':identifier', ':Patient', ':Organization', ':in', ':iterate', ':xyz', ':');

function paramFor(type: string): fc.Arbitrary<[string, string]> {
  const codes = codesOf(type);
  const refs = refCodesOf(type);
  const code = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...codes) }, { weight: 1, arbitrary: fc.constantFrom('shoesize', '_foo', '', '.', '_has', 'name.', '😀') });
  const plain = fc.tuple(code, modifier, value).map(([c, m, v]): [string, string] => [c + m, v]);
  const chain = fc
    .tuple(fc.constantFrom(...refs), fc.option(fc.constantFrom(':Patient', ':Organization', ':Practitioner', ':Nope')), fc.constantFrom('name', 'family', 'identifier', 'organization.name', 'subject.name', 'birthdate', 'nope'), value)
    .map(([r, t, next, v]): [string, string] => [`${r}${t ?? ''}.${next}`, v]);
  const has = fc
    .tuple(fc.constantFrom('Observation', 'Encounter', 'Patient', 'Nope'), fc.constantFrom('subject', 'patient', 'organization', 'nope'), fc.constantFrom('code', 'status', '_has:Observation:patient:code', 'name', 'date', 'x'), value)
    .map(([t, r, p, v]): [string, string] => [`_has:${t}:${r}:${p}`, v]);
  const include = fc
    .tuple(fc.constantFrom('_include', '_revinclude', '_include:iterate', '_revinclude:iterate', '_include:recurse'), fc.constantFrom(...TYPES, 'Nope'), fc.constantFrom(...refs, '*', 'code', 'x'), fc.option(fc.constantFrom(...TYPES)))
    .map(([name, t, c, target]): [string, string] => [name, `${t}:${c}${target ? `:${target}` : ''}`]);
  const sort = fc.array(fc.tuple(fc.boolean(), fc.constantFrom(...codes, '_id', '_lastUpdated', 'nope')), { minLength: 1, maxLength: 3 }).map((keys): [string, string] => ['_sort', keys.map(([d, c]) => (d ? '-' : '') + c).join(',')]);
  const control = fc.oneof(
    fc.tuple(fc.constantFrom('_count', '_offset', '_snapshot'), fc.oneof(fc.integer({ min: -5, max: 5000 }).map(String), garbage)),
    fc.tuple(fc.constant('_summary'), fc.constantFrom('true', 'false', 'text', 'data', 'count', 'maybe')),
    fc.tuple(fc.constant('_total'), fc.constantFrom('none', 'estimate', 'accurate', 'x')),
    fc.tuple(fc.constant('_elements'), fc.constantFrom('name', 'id,meta', 'status,code', '', ',', 'x.y')),
    fc.tuple(fc.constant('_type'), fc.constantFrom('Patient', 'Patient,Observation', 'Nope', '')),
  ) as fc.Arbitrary<[string, string]>;
  return fc.oneof({ weight: 6, arbitrary: plain }, { weight: 2, arbitrary: chain }, { weight: 2, arbitrary: has }, { weight: 2, arbitrary: include }, { weight: 1, arbitrary: sort }, { weight: 2, arbitrary: control });
}

interface FuzzQuery {
  type: string;
  params: Array<[string, string]>;
  strict: boolean;
  post: boolean;
}

const query: fc.Arbitrary<FuzzQuery> = fc.constantFrom<string>(...TYPES, '', 'compartment').chain((type) =>
  fc.record({
    type: fc.constant(type),
    params: fc.array(paramFor(type === '' || type === 'compartment' ? 'Observation' : type), { maxLength: 5 }),
    strict: fc.boolean(),
    post: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  }),
);

interface Reply {
  status: number;
  body: { resourceType?: string; issue?: unknown[]; type?: string };
}

describe('search: property-based fuzz', function () {
  this.timeout(120_000);
  const s = useSearchServer();
  let server: http.Server;
  let base = '';
  let patientId = '';

  before(async () => {
    const p = await s.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Ødegård', given: ['Åse'] }], birthDate: '1970-01-01' });
    patientId = p.id;
    await s.create<Observation>({
      resourceType: 'Observation', status: 'final', subject: { reference: `Patient/${p.id}` }, effectiveDateTime: '2024-01-01T10:00:00Z',
      code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
      component: [{ code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: 120, system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } }],
    });
    server = http.createServer(s.ctx().app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`;
  });
  after(async () => {
    await new Promise<void>((resolve) => server?.close(() => resolve()));
  });

  async function send(q: FuzzQuery): Promise<Reply> {
    const qs = new URLSearchParams(q.params).toString();
    const path = q.type === 'compartment' ? `Patient/${patientId}/Observation` : q.type;
    const headers: Record<string, string> = { authorization: `Bearer ${s.ctx().token}`, accept: 'application/fhir+json' };
    if (q.strict) headers.prefer = 'handling=strict';
    const res = q.post
      ? await fetch(`${base}/${path}${path ? '/' : ''}_search`, { method: 'POST', headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, body: qs })
      : await fetch(`${base}/${path}?${qs}`, { headers });
    const text = await res.text();
    let body: Reply['body'];
    try {
      body = JSON.parse(text) as Reply['body'];
    } catch {
      body = { resourceType: `not JSON: ${text.slice(0, 200)}` };
    }
    return { status: res.status, body };
  }

  it(`${RUNS} random queries: never 5xx, every error an OperationOutcome, every success a searchset`, async () => {
    let ran = 0;
    const statuses = new Map<number, number>();
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(query, async (q) => {
        ran++;
        const reply = await send(q);
        statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
        const where = `${q.post ? 'POST' : 'GET'} ${q.type}?${new URLSearchParams(q.params).toString()} (strict ${q.strict}) → ${reply.status} ${JSON.stringify(reply.body).slice(0, 300)}`;
        expect(reply.status, where).to.be.below(500);
        if (reply.status >= 400) {
          expect(reply.body.resourceType, where).to.equal('OperationOutcome');
          expect(reply.body.issue, where).to.be.an('array').that.is.not.empty;
        } else {
          expect(reply.status, where).to.equal(200);
          expect(reply.body.resourceType, where).to.equal('Bundle');
          expect(reply.body.type, where).to.equal('searchset');
        }
      }),
      { numRuns: RUNS, seed: process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined, endOnFailure: true, plugins: [fc.interruptAfterTimeLimit(TIME_LIMIT_MS)] },
    );
    console.log(`      fuzz: ${ran} queries in ${((Date.now() - started) / 1000).toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    // The time limit keeps CI bounded; a run that barely started would not be a fuzz test.
    expect(ran).to.be.at.least(Math.min(RUNS, 500));
  });
});
