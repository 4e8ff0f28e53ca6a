/**
 * `$events-since` is described like the other operations (issue 13): the CapabilityStatement names
 * its canonical URL, the OperationDefinition behind it is served at
 * `/fhir/OperationDefinition/events-since` (without a token, like /metadata), it is a valid
 * R4 OperationDefinition by the server's own validator, and a real answer (Kari's portal token) uses
 * only the parameters it defines. Stored OperationDefinitions with other ids are still served by
 * the generic router.
 */
import { expect } from 'chai';
import type { CapabilityStatement, OperationDefinition, OperationDefinitionParameter, Parameters, ParametersParameter } from 'fhir/r4';
import { buildWorld, type World } from '../access/world.js';
import { call } from './http.js';

const CANONICAL = 'https://fhir.helsebro.no/OperationDefinition/events-since';

describe('the OperationDefinition of $events-since (issue 13)', function () {
  this.timeout(300_000);
  let w: World;
  before(async () => {
    w = await buildWorld();
  });
  after(() => w?.s.close());

  const definition = async (): Promise<OperationDefinition> => {
    const res = await fetch(`${w.s.fhirBase}/OperationDefinition/events-since`, { headers: { accept: 'application/fhir+json' } });
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^application\/fhir\+json/);
    return (await res.json()) as OperationDefinition;
  };

  it('the CapabilityStatement references it, and its canonical URL is what the served definition says it is', async () => {
    const cs = (await (await fetch(`${w.s.fhirBase}/metadata`, { headers: { accept: 'application/fhir+json' } })).json()) as CapabilityStatement;
    const op = cs.rest![0]!.operation!.find((o) => o.name === 'events-since');
    expect(op?.definition).to.equal(CANONICAL);
    const def = await definition();
    expect(def).to.include({ resourceType: 'OperationDefinition', id: 'events-since', url: CANONICAL, code: 'events-since', kind: 'operation', status: 'active', system: true, type: false, instance: false, affectsState: false });
    const input = def.parameter!.filter((p) => p.use === 'in');
    expect(input.map((p) => [p.name, p.min, p.max, p.type])).to.deep.equal([['_since', 1, '1', 'instant']]);
    const group = def.parameter!.find((p) => p.name === 'patient')!;
    expect(group.part!.map((p) => p.name)).to.deep.equal(['patient', 'relation', 'message', 'result', 'offer', 'questionnaire', 'request-reply']);
  });

  it('is a valid R4 OperationDefinition by the server’s own $validate', async () => {
    const res = await call(w, w.tokens.system, 'POST', 'OperationDefinition/$validate', await definition());
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    const errors = (res.body.issue as Array<{ severity: string; diagnostics?: string }>).filter((i) => i.severity === 'error' || i.severity === 'fatal');
    expect(errors, JSON.stringify(errors)).to.deep.equal([]);
  });

  it('a real answer uses only the parameters and parts it defines, with their types', async () => {
    const def = await definition();
    const res = await call(w, w.tokens.self, 'GET', '$events-since?_since=2000-01-01T00:00:00Z');
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    const answer = res.body as Parameters;
    const out = new Map(def.parameter!.filter((p) => p.use === 'out').map((p) => [p.name, p]));
    const check = (p: ParametersParameter, d: OperationDefinitionParameter | undefined) => {
      expect(d, `parameter ${p.name} is defined`).to.not.equal(undefined);
      if (d!.type === 'instant') expect(p.valueInstant, p.name).to.be.a('string');
      else if (d!.type === 'Reference') expect(p.valueReference?.reference, p.name).to.match(/^Patient\//);
      else if (d!.type === 'code') expect(p.valueCode, p.name).to.be.a('string');
      else if (d!.type) expect(p.resource?.resourceType, p.name).to.equal(d!.type);
    };
    let events = 0;
    for (const p of answer.parameter!) {
      check(p, out.get(p.name));
      for (const part of p.part ?? []) {
        check(part, out.get(p.name)!.part!.find((d) => d.name === part.name));
        if (part.resource) events++;
      }
    }
    expect(events, 'Kari has events since 2000 (the demo data)').to.be.greaterThan(0);
  });

  it('other OperationDefinition ids still go to the generic router (stored ones are read with a token; unknown ones 404)', async () => {
    const stored: OperationDefinition = { resourceType: 'OperationDefinition', id: 'lokal-op', name: 'LokalOp', status: 'draft', kind: 'operation', code: 'lokal', system: true, type: false, instance: false };
    expect((await call(w, w.tokens.system, 'PUT', 'OperationDefinition/lokal-op', stored)).status).to.be.oneOf([200, 201]);
    expect((await call(w, w.tokens.system, 'GET', 'OperationDefinition/lokal-op')).body.code).to.equal('lokal');
    expect((await fetch(`${w.s.fhirBase}/OperationDefinition/lokal-op`)).status).to.equal(401);
    expect((await call(w, w.tokens.system, 'GET', 'OperationDefinition/finnes-ikke')).status).to.equal(404);
  });
});
