/** Shared helpers of the bridge tests: fixtures in each platform's own shape, a fixed clock. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Observation } from 'fhir/r4';
import type { BridgeContext, ConvertedSample, ValidSample } from '../../src/bridges/sample.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

export function fixture<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8')) as T;
}

/** All fixture samples lie before this instant. */
export const NOW = new Date('2024-06-01T12:00:00Z');
export const PATIENT_ID = 'kari';
export const CTX: BridgeContext = { patientId: PATIENT_ID, now: NOW };

export function valid(samples: ConvertedSample[], index: number): ValidSample {
  const s = samples[index];
  if (s?.status !== 'valid') throw new Error(`sample ${index} was ${s?.status}: ${s && 'reason' in s ? s.reason : ''}`);
  return s;
}

export function reason(samples: ConvertedSample[], index: number): string {
  const s = samples[index];
  if (s?.status !== 'rejected') throw new Error(`sample ${index} was ${s?.status}, expected rejected`);
  return s.reason;
}

export function codes(o: Observation): string[] {
  return (o.code.coding ?? []).map((c) => c.code!);
}
