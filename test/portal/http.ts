/** Small HTTP helpers for the portal workflow tests: real requests with real tokens against the world of test/access/world.ts. */
import type { World } from '../access/world.js';

export interface Res {
  status: number;
  body: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- response JSON, asserted field by field
}

export async function call(w: World, token: string, method: string, path: string, body?: unknown, contentType = 'application/fhir+json'): Promise<Res> {
  const res = await fetch(`${w.s.fhirBase}/${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+json', ...(body !== undefined ? { 'content-type': contentType } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

export const diag = (r: Res): string => JSON.stringify(r.body.issue ?? r.body).slice(0, 400);
