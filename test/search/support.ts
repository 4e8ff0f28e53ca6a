/**
 * Helpers for the search tests: one real server per test file (see test/support/app.ts), resources
 * created through POST like any client, and searches read back as the ids a user would look at.
 */
import { expect } from 'chai';
import request from 'supertest';
import type { Bundle, BundleEntry, OperationOutcome, Resource } from 'fhir/r4';
import { createTestContext, type TestContext } from '../support/app.js';

export const FHIR = 'application/fhir+json';

export interface SearchApi {
  ctx: () => TestContext;
  /** POST a resource; returns it as stored (with id). Fails the test unless 201. */
  create<T extends Resource>(resource: T): Promise<T & { id: string }>;
  /** GET `/fhir/<path>` and expect 200 with a searchset Bundle. */
  search(path: string, headers?: Record<string, string>): Promise<Bundle>;
  /** Ids of the `match` entries of `/fhir/<path>`, sorted unless `ordered`. */
  ids(path: string, ordered?: boolean): Promise<string[]>;
  /** GET `/fhir/<path>` expecting an error status; returns the OperationOutcome. */
  fails(path: string, status: number, headers?: Record<string, string>): Promise<OperationOutcome>;
}

/** Registers before/after hooks on the current describe block and returns the helpers. */
export function useSearchServer(): SearchApi {
  let ctx: TestContext | undefined;
  before(async () => {
    ctx = await createTestContext();
  });
  after(async () => {
    await ctx?.close();
  });
  const api: SearchApi = {
    ctx: () => ctx!,
    async create(resource) {
      const res = await request(ctx!.app).post(`/fhir/${resource.resourceType}`).set('Content-Type', FHIR).send(resource);
      if (res.status !== 201) throw new Error(`create ${resource.resourceType} → ${res.status}: ${JSON.stringify(res.body)}`);
      return res.body;
    },
    async search(path, headers = {}) {
      const res = await request(ctx!.app).get(`/fhir/${path}`).set(headers);
      if (res.status !== 200) throw new Error(`GET ${path} → ${res.status}: ${JSON.stringify(res.body)}`);
      expect(res.body.resourceType).to.equal('Bundle');
      expect(res.body.type).to.equal('searchset');
      return res.body as Bundle;
    },
    async ids(path, ordered = false) {
      const list = matches(await api.search(path)).map((r) => r.id!);
      return ordered ? list : list.sort();
    },
    async fails(path, status, headers = {}) {
      const res = await request(ctx!.app).get(`/fhir/${path}`).set(headers);
      expect(res.status, `GET ${path}: ${JSON.stringify(res.body)}`).to.equal(status);
      expect(res.body.resourceType).to.equal('OperationOutcome');
      return res.body as OperationOutcome;
    },
  };
  return api;
}

export const matches = (bundle: Bundle): Resource[] => (bundle.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource!);
export const ofMode = (bundle: Bundle, mode: NonNullable<BundleEntry['search']>['mode']): BundleEntry[] => (bundle.entry ?? []).filter((e) => e.search?.mode === mode);
export const sorted = (...ids: string[]): string[] => [...ids].sort();
export const q = encodeURIComponent;
