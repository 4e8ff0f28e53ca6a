/**
 * openapi.yaml against the running server: it must be a structurally valid OpenAPI 3.x document,
 * every route the app serves outside the generic FHIR router (authorization server, citizen pages,
 * bridges, health checks) must be documented with its method, and the documented bridge examples
 * must be accepted by the real server, whose answers must match the documented schemas.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { expect } from 'chai';
import type { Express } from 'express';
import request from 'supertest';
import { parse } from 'yaml';
import { MAX_RECORDS_PER_PUSH } from '../src/bridges/health-connect.js';
import { MAX_SAMPLES_PER_PUSH } from '../src/bridges/healthkit.js';
import { GOOGLE_FIT_TYPES } from '../src/bridges/mapping.js';
import { PROJECT_ROOT } from '../src/paths.js';
import { BRIDGE_SCOPE, createPatient, startBridgeServer, tokenFor, type BridgeServer } from './bridges/http-support.js';

const FILE = path.join(PROJECT_ROOT, 'openapi.yaml');
const SOURCE = fs.readFileSync(FILE, 'utf8');

interface Operation {
  requestBody?: { content?: Record<string, { schema?: unknown; examples?: Record<string, { value: unknown }> }> };
  responses?: Record<string, unknown>;
}
interface OpenApi {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Record<string, unknown>> };
}
const doc = parse(SOURCE) as OpenApi;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** `{method, path}` of every route in an Express 5 router tree, with mount prefixes applied. */
function servedRoutes(app: Express): Array<{ method: string; path: string; fhirRouter: boolean }> {
  const out: Array<{ method: string; path: string; fhirRouter: boolean }> = [];
  interface Layer {
    route?: { path: string | string[]; methods: Record<string, boolean> };
    handle?: { stack?: Layer[] };
    rawPath?: string | string[];
    slash?: boolean;
  }
  const walk = (stack: Layer[], prefix: string, fhirRouter: boolean) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const p of [layer.route.path].flat()) {
          for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') out.push({ method, path: prefix + p, fhirRouter });
        }
      } else if (layer.handle?.stack) {
        const mounts = layer.slash || layer.rawPath === undefined ? [''] : [layer.rawPath].flat();
        for (const m of mounts) walk(layer.handle.stack, prefix + (m === '/' ? '' : m), fhirRouter || m === '/fhir');
      }
    }
  };
  const router = (app as unknown as { router: { stack: Layer[] } }).router;
  walk(router.stack, '', false);
  return out;
}

/** Express `/auth/flow/:rid` → OpenAPI `/auth/flow/{rid}`. */
const toOpenApiPath = (p: string) => p.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

function schemaValidator() {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  // ajv-formats is CommonJS: under NodeNext its default import is the module, whose `default` is the plugin.
  addFormats.default(ajv);
  ajv.addSchema({ $id: 'openapi', components: doc.components }, 'openapi');
  return (name: string, value: unknown): string[] => {
    const validate = ajv.getSchema(`openapi#/components/schemas/${name}`);
    if (!validate) throw new Error(`no schema ${name} in openapi.yaml`);
    return validate(value) ? [] : (validate.errors ?? []).map((e: { instancePath: string; message?: string }) => `${e.instancePath} ${e.message}`);
  };
}

describe('openapi.yaml', function () {
  this.timeout(120_000);

  describe('is a valid OpenAPI 3.x document', () => {
    it('parses as YAML with the OpenAPI 3.x top level', () => {
      expect(doc.openapi).to.match(/^3\.\d+\.\d+$/);
      expect(doc.info).to.include({ title: 'helsebro' });
      expect(Object.keys(doc.paths).length).to.be.greaterThan(20);
    });

    it('has no structural errors (Redocly recommended rules; warnings allowed)', async () => {
      const config = await createConfig({ extends: ['recommended'] });
      const problems = await lintFromString({ source: SOURCE, absoluteRef: FILE, config });
      const errors = problems.filter((p) => p.severity === 'error').map((p) => `${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`);
      expect(errors).to.deep.equal([]);
    });

    it('describes the generic FHIR REST API, the Patient account operations and errors as OperationOutcome', () => {
      for (const [p, methods] of Object.entries({
        '/fhir': ['post', 'get'],
        '/fhir/metadata': ['get'],
        '/fhir/{type}': ['get', 'post', 'put', 'delete'],
        '/fhir/{type}/_search': ['post'],
        '/fhir/{type}/_history': ['get'],
        '/fhir/{type}/{id}': ['get', 'put', 'patch', 'delete'],
        '/fhir/{type}/{id}/_history': ['get'],
        '/fhir/{type}/{id}/_history/{vid}': ['get'],
        '/fhir/_search': ['post'],
        '/fhir/_history': ['get'],
        '/fhir/Patient/{id}/$everything': ['get', 'post'],
        '/fhir/{type}/$validate': ['post'],
        '/fhir/{type}/{id}/$validate': ['post'],
        '/fhir/Patient/{id}/$deactivate': ['post'],
        '/fhir/Patient/{id}/$reactivate': ['post'],
      })) {
        for (const m of methods) expect(doc.paths[p]?.[m], `${m.toUpperCase()} ${p}`).to.be.an('object');
      }
      const error = (doc as unknown as { components: { responses: Record<string, { content: Record<string, { schema: { $ref: string } }> }> } }).components.responses.Error!;
      expect(error.content['application/fhir+json']!.schema.$ref).to.equal('#/components/schemas/OperationOutcome');
    });
  });

  describe('against the running server', () => {
    let server: BridgeServer;
    let token: string;
    const check = schemaValidator();

    before(async () => {
      server = await startBridgeServer();
      token = await tokenFor(server, await createPatient(server, 'Openapi'), BRIDGE_SCOPE);
    });
    after(() => server.close());

    it('documents every route the app serves outside the generic FHIR router, with its method', () => {
      const routes = servedRoutes(server.app).filter((r) => !r.fhirRouter);
      const served = routes.map((r) => `${r.method.toUpperCase()} ${toOpenApiPath(r.path)}`);
      // The walk must see what we know is there, or an empty walk would pass vacuously.
      expect(served).to.include.members(['POST /bridges/healthkit', 'POST /bridges/google-fit', 'POST /auth/token', 'GET /auth/jwks', 'GET /fhir/.well-known/smart-configuration']);
      const missing = served.filter((s) => {
        const [method, p] = s.split(' ') as [string, string];
        return !doc.paths[p]?.[method.toLowerCase()];
      });
      expect(missing, 'served but not in openapi.yaml').to.deep.equal([]);
    });

    it('documents no auth or bridge route that the app does not serve', () => {
      const served = new Set(servedRoutes(server.app).map((r) => `${r.method} ${toOpenApiPath(r.path)}`));
      const documented = Object.entries(doc.paths)
        .filter(([p]) => /^\/(auth|bridges|\.well-known|fhir\/\.well-known)\//.test(p))
        .flatMap(([p, item]) => Object.keys(item).filter((m) => METHODS.includes(m)).map((m) => `${m} ${p}`));
      expect(documented.filter((d) => !served.has(d))).to.deep.equal([]);
    });

    it('the documented push limit is the server’s', () => {
      expect((doc.components.schemas.HealthKitPush!.properties as Record<string, { maxItems: number }>).samples!.maxItems).to.equal(MAX_SAMPLES_PER_PUSH);
      expect((doc.components.schemas.GoogleFitDataset!.properties as Record<string, { maxItems: number }>).point!.maxItems).to.equal(MAX_SAMPLES_PER_PUSH);
      expect((doc.components.schemas.HealthConnectPush!.properties as Record<string, { maxItems: number }>).records!.maxItems).to.equal(MAX_RECORDS_PER_PUSH);
      const described = (doc.components.schemas.GoogleFitPoint!.properties as Record<string, { description: string }>).dataTypeName!.description;
      for (const t of GOOGLE_FIT_TYPES) expect(described, t).to.include(t);
    });

    for (const [route, schema] of [['/bridges/healthkit', 'HealthKitPush'], ['/bridges/google-fit', 'GoogleFitPush'], ['/bridges/health-connect', 'HealthConnectPush']] as const) {
      it(`every documented example of POST ${route} matches its schema and is accepted by the server; a re-push is already present`, async () => {
        const content = doc.paths[route]!.post!.requestBody!.content!['application/json']!;
        const examples = Object.entries(content.examples ?? {});
        expect(examples.length).to.be.greaterThan(0);
        for (const [name, { value }] of examples) {
          expect(check(schema, value), `${name} against ${schema}`).to.deep.equal([]);
          const res = await request(server.app).post(route).set('authorization', `Bearer ${token}`).send(value as object);
          expect(res.status, JSON.stringify(res.body)).to.equal(200);
          expect(check('BridgeResponse', res.body), 'response against BridgeResponse').to.deep.equal([]);
          const { summary } = res.body as { summary: { received: number; created: number; rejected: number } };
          expect(summary.rejected, JSON.stringify(res.body.outcomes)).to.equal(0);
          expect(summary.created).to.equal(summary.received);
          const again = await request(server.app).post(route).set('authorization', `Bearer ${token}`).send(value as object).expect(200);
          expect(again.body.summary).to.deep.include({ created: 0, alreadyPresent: summary.received });
        }
      });
    }

    it('the documented response example and the server’s errors match their schemas', async () => {
      const example = (doc as unknown as { components: { responses: Record<string, { content: Record<string, { example: unknown }> }> } }).components.responses.BridgeOutcomes!.content['application/json']!.example;
      expect(check('BridgeResponse', example)).to.deep.equal([]);
      const unauthenticated = await request(server.app).post('/bridges/healthkit').send({ samples: [] }).expect(401);
      expect(check('OperationOutcome', unauthenticated.body)).to.deep.equal([]);
      const malformed = await request(server.app).post('/bridges/google-fit').set('authorization', `Bearer ${token}`).send({ point: [] }).expect(400);
      expect(check('OperationOutcome', malformed.body)).to.deep.equal([]);
      const rejected = await request(server.app).post('/bridges/healthkit').set('authorization', `Bearer ${token}`).send({ samples: [{ uuid: 'not-a-uuid' }] }).expect(200);
      expect(check('BridgeResponse', rejected.body)).to.deep.equal([]);
      expect(rejected.body.outcomes[0]).to.include({ status: 'rejected' });
    });

    it('the server serves this document at /openapi.yaml', async () => {
      const res = await request(server.app).get('/openapi.yaml').expect(200);
      expect(res.text).to.equal(SOURCE);
    });
  });
});
