/** Data generators, the token helper and the result table shared by the benchmarks. */
import os from 'node:os';
import type { Bundle, FhirResource, Observation } from 'fhir/r4';
import { syntheticFnr } from '../src/fhir/validation/fnr.js';

/** A dev-system token through the real token endpoint (client_credentials, client_secret_basic). */
export async function obtainSystemToken(base: string, secret: string): Promise<string> {
  const res = await fetch(`${base}/auth/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`dev-system:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'system/*.*' }).toString(),
  });
  if (!res.ok) throw new Error(`token request failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

const FAMILIES = ['Hansen', 'Johansen', 'Olsen', 'Larsen', 'Andersen', 'Pedersen', 'Nilsen', 'Kristiansen', 'Jensen', 'Karlsen', 'Ødegård', 'Bråten'];
const GIVEN = ['Kari', 'Ola', 'Ingrid', 'Lars', 'Nora', 'Emil', 'Sofie', 'Jakob', 'Åse', 'Bjørn'];

const birthOf = (i: number) => `${1940 + (i % 80)}-${String((i % 12) + 1).padStart(2, '0')}-${String((i % 28) + 1).padStart(2, '0')}`;

/** The fødselsnummer of bench patient `i` (patientBundle), for logging in as them. */
export const PATIENT_FNR = (i: number): string => syntheticFnr(birthOf(i), i);

export function patientBundle(offset: number, count: number): Bundle<FhirResource> {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: Array.from({ length: count }, (_, k) => {
      const i = offset + k;
      const birth = birthOf(i);
      return {
        resource: {
          resourceType: 'Patient',
          identifier: [{ system: 'urn:oid:2.16.578.1.12.4.1.4.1', value: syntheticFnr(birth, i) }],
          name: [{ family: FAMILIES[i % FAMILIES.length], given: [GIVEN[i % GIVEN.length]!] }],
          gender: i % 2 ? 'male' : 'female',
          birthDate: birth,
        },
        request: { method: 'POST', url: 'Patient' },
      };
    }),
  };
}

const CODES = [
  { code: '8867-4', display: 'Heart rate', unit: '/min', base: 60 },
  { code: '29463-7', display: 'Body weight', unit: 'kg', base: 70 },
  { code: '8310-5', display: 'Body temperature', unit: 'Cel', base: 36.5 },
  { code: '2339-0', display: 'Glucose', unit: 'mg/dL', base: 90 },
];

export function observation(patientId: string, i: number): Observation {
  const c = CODES[i % CODES.length]!;
  const day = new Date(Date.UTC(2020, 0, 1) + i * 3_600_000 * 7).toISOString();
  return {
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: c.code, display: c.display }] },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: day,
    valueQuantity: { value: Math.round((c.base + (i % 20)) * 10) / 10, unit: c.unit, system: 'http://unitsofmeasure.org', code: c.unit },
  };
}

export function observationBundle(patientId: string, count: number): Bundle<FhirResource> {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: Array.from({ length: count }, (_, i) => ({ resource: observation(patientId, i), request: { method: 'POST', url: 'Observation' } })),
  };
}

export interface BenchRow {
  name: string;
  rate: string;
  p50: string;
  p99: string;
  /** The ceiling's rate in the same run (bench/ceiling.ts) and helsebro's share of it. */
  ceiling?: string;
  ratio?: string;
  /** Server CPU time per request, and the ceiling's CPU per request divided by it (bench/run.ts). */
  cpu?: string;
  cpuRatio?: string;
  note: string;
}

export function printTable(database: string, rows: BenchRow[]): void {
  const cpu = os.cpus()[0]?.model ?? 'cpu';
  console.log(`\n### helsebro bench — ${database}, ${os.cpus().length} × ${cpu}, Node ${process.version}\n`);
  if (rows.some((r) => r.cpu)) {
    console.log('| benchmark | helsebro | p50 | p99 | ceiling | ratio | CPU/request | CPU ratio | note |');
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) console.log(`| ${r.name} | ${r.rate} | ${r.p50} | ${r.p99} | ${r.ceiling ?? '—'} | ${r.ratio ?? '—'} | ${r.cpu ?? '—'} | ${r.cpuRatio ?? '—'} | ${r.note} |`);
    return;
  }
  if (rows.some((r) => r.ceiling)) {
    console.log('| benchmark | helsebro | p50 | p99 | ceiling | ratio | note |');
    console.log('|---|---|---|---|---|---|---|');
    for (const r of rows) console.log(`| ${r.name} | ${r.rate} | ${r.p50} | ${r.p99} | ${r.ceiling ?? '—'} | ${r.ratio ?? '—'} | ${r.note} |`);
    return;
  }
  console.log('| benchmark | throughput | p50 | p99 | note |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.name} | ${r.rate} | ${r.p50} | ${r.p99} | ${r.note} |`);
}
