/**
 * An independent oracle for search over the Synthea R4 bundles. The bundles are loaded through the
 * real server (transactions with a real token); every expected answer is then computed by walking
 * the plain JSON in this file, with no server code, so a search bug cannot hide by being shared
 * between the engine and its test.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { Express } from 'express';
import request from 'supertest';
import type { Bundle, CodeableConcept, Reference, Resource } from 'fhir/r4';

export const SYNTHEA_DIR = path.resolve(import.meta.dirname, '../../../shared/synthea-r4');

export interface Loaded {
  /** Every loaded resource as the server should hold it: server ids, `urn:uuid` references rewritten to `Type/id`. */
  all: Resource[];
  /** Just before the first bundle was posted. */
  before: string;
  /** Between the first and the second half of the bundles. */
  middle: string;
  /** `Type/id` of everything written after `middle`. */
  afterMiddle: Set<string>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function syntheaFiles(limit: number): string[] {
  if (!fs.existsSync(SYNTHEA_DIR)) return [];
  return fs.readdirSync(SYNTHEA_DIR).filter((f) => f.endsWith('.json')).sort().slice(0, limit);
}

export async function loadBundles(app: Express, files: string[]): Promise<Loaded> {
  // The oracle only knows what it loaded, so the database must start empty.
  const empty = await request(app).get('/fhir/Patient?_summary=count');
  expect(empty.body.total, 'the test database already holds Patients').to.equal(0);
  const all: Resource[] = [];
  const afterMiddle = new Set<string>();
  const before = new Date().toISOString();
  await sleep(5); // last_updated has millisecond precision: keep the marks strictly apart
  let middle = before;
  for (const [n, file] of files.entries()) {
    if (n === Math.floor(files.length / 2)) {
      await sleep(5);
      middle = new Date().toISOString();
      await sleep(5);
    }
    const bundle = JSON.parse(fs.readFileSync(path.join(SYNTHEA_DIR, file), 'utf8')) as Bundle;
    const res = await request(app).post('/fhir').set('Content-Type', 'application/fhir+json').send(bundle);
    expect(res.status, `${file}: ${JSON.stringify(res.body.issue ?? '').slice(0, 400)}`).to.equal(200);
    const out = res.body as Bundle;
    // The server assigns ids on POST: map each fullUrl to the Type/id of its response location.
    const ids = new Map<string, string>();
    bundle.entry!.forEach((e, i) => {
      const [type, id] = out.entry![i]!.response!.location!.split('/');
      ids.set(e.fullUrl!, `${type}/${id}`);
    });
    for (const e of bundle.entry!) {
      const text = JSON.stringify(e.resource);
      const copy = JSON.parse(text, (k, v: unknown) => (k === 'reference' && typeof v === 'string' && ids.has(v) ? ids.get(v) : v)) as Resource;
      copy.id = ids.get(e.fullUrl!)!.split('/')[1];
      all.push(copy);
      if (middle !== before) afterMiddle.add(key(copy));
    }
  }
  return { all, before, middle, afterMiddle };
}

export const key = (r: Resource): string => `${r.resourceType}/${r.id}`;

export function ofType<T extends Resource>(all: Resource[], type: T['resourceType']): T[] {
  return all.filter((r): r is T => r.resourceType === type);
}

/** Token match on a CodeableConcept: `code` matches any system, `system|code` both. */
export function hasCoding(cc: CodeableConcept | undefined, query: string): boolean {
  const [system, code] = query.includes('|') ? query.split('|') : [undefined, query];
  return (cc?.coding ?? []).some((c) => c.code === code && (system === undefined || c.system === system));
}

export function refKey(ref: Reference | undefined): string | undefined {
  return ref?.reference && /^[A-Z][A-Za-z]+\/[^/]+$/.test(ref.reference) ? ref.reference : undefined;
}

/** Case- and accent-insensitive form, as search.html#string asks for plain string matching. */
export function fold(s: string): string {
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
}

/**
 * The instant range a FHIR date/dateTime covers, as [low, high) in epoch ms, by its precision
 * (a year covers the whole year, a dateTime to the second covers that second).
 */
export function instantRange(value: string): [number, number] {
  const ym = /^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$/.exec(value);
  if (ym) {
    const [y, m, d] = [Number(ym[1]), ym[2] ? Number(ym[2]) - 1 : undefined, ym[3] ? Number(ym[3]) : undefined];
    if (m === undefined) return [Date.UTC(y, 0, 1), Date.UTC(y + 1, 0, 1)];
    if (d === undefined) return [Date.UTC(y, m, 1), Date.UTC(y, m + 1, 1)];
    return [Date.UTC(y, m, d), Date.UTC(y, m, d + 1)];
  }
  const low = Date.parse(value);
  if (Number.isNaN(low)) throw new Error(`oracle cannot read date "${value}"`);
  const frac = /:\d{2}\.(\d+)/.exec(value)?.[1];
  const step = frac ? Math.max(1, 1000 / 10 ** frac.length) : /T\d{2}:\d{2}:\d{2}/.test(value) ? 1000 : 60_000;
  return [low, low + step];
}

/** Range of `effective[x]`, `period` and the like; an open Period end reaches the end of time. */
export function elementRange(r: Record<string, unknown>, name: string): [number, number] | undefined {
  for (const [k, v] of Object.entries(r)) {
    if (k !== name && !(k.startsWith(name) && /^[A-Z]/.test(k.slice(name.length)))) continue;
    if (typeof v === 'string') return instantRange(v);
    const p = v as { start?: string; end?: string };
    if (p && (p.start || p.end)) return [p.start ? instantRange(p.start)[0] : -Infinity, p.end ? instantRange(p.end)[1] : Infinity];
  }
  return undefined;
}

/**
 * Prefixes as search.html#prefix words them for ranges: eq = the search range contains the
 * target; gt/lt = the target reaches above/below the search range; ge/le = gt/lt or eq.
 */
export function dateMatches(range: [number, number] | undefined, query: string): boolean {
  if (!range) return false;
  const m = /^(ge|gt|le|lt|eq)?(.+)$/.exec(query)!;
  const [lo, hi] = instantRange(m[2]!);
  const contained = range[0] >= lo && range[1] <= hi;
  switch (m[1] ?? 'eq') {
    case 'gt': return range[1] > hi;
    case 'ge': return range[1] > hi || contained;
    case 'lt': return range[0] < lo;
    case 'le': return range[0] < lo || contained;
    default: return contained;
  }
}

export function expectSameSet(actual: Iterable<string>, expected: Iterable<string>, what: string): void {
  const a = new Set(actual);
  const e = new Set(expected);
  const missing = [...e].filter((x) => !a.has(x));
  const extra = [...a].filter((x) => !e.has(x));
  if (missing.length > 0 || extra.length > 0) {
    expect.fail(`${what}: expected ${e.size}, got ${a.size}; missing ${missing.length} [${missing.slice(0, 8).join(', ')}], unexpected ${extra.length} [${extra.slice(0, 8).join(', ')}]`);
  }
}

/** A check that cannot pass vacuously: the expected answer is neither empty nor everything. */
export function expectSelective(expected: Set<string> | string[], universe: number, what: string): void {
  const n = Array.isArray(expected) ? expected.length : expected.size;
  expect(n, `${what}: expected set is empty, the query proves nothing`).to.be.greaterThan(0);
  expect(n, `${what}: expected set is everything, the query proves nothing`).to.be.lessThan(universe);
}

/** Every page of a search, following `next` links as a client would. */
export async function searchPages(app: Express, url: string): Promise<Bundle[]> {
  const pages: Bundle[] = [];
  let next: string | undefined = url;
  while (next) {
    const res = await request(app).get(next);
    expect(res.status, `${next}: ${JSON.stringify(res.body.issue ?? '').slice(0, 400)}`).to.equal(200);
    const page = res.body as Bundle;
    pages.push(page);
    const link = page.link?.find((l) => l.relation === 'next')?.url;
    next = link ? new URL(link).pathname + new URL(link).search : undefined;
    if (pages.length > 1000) expect.fail(`${url}: more than 1000 pages, next links loop`);
  }
  return pages;
}

export function entriesOf(pages: Bundle[], mode: 'match' | 'include'): Resource[] {
  return pages.flatMap((p) => (p.entry ?? []).filter((e) => e.search?.mode === mode).map((e) => e.resource!));
}

export async function searchKeys(app: Express, url: string): Promise<string[]> {
  return entriesOf(await searchPages(app, url), 'match').map(key);
}
