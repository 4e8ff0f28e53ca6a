/**
 * `$deactivate` and `$reactivate` are described like `$events-since`: the CapabilityStatement names
 * canonical URLs that resolve on this server (`/fhir/OperationDefinition/Patient-deactivate`,
 * `…/Patient-reactivate`, without a token like /metadata), each is a valid R4 OperationDefinition by
 * the server's own $validate, and the real answers (Kari's portal token, her own account) use only
 * the outputs the definitions list, with their types.
 */
import { expect } from 'chai';
import type { CapabilityStatement, OperationDefinition, Parameters } from 'fhir/r4';
import { buildWorld, PERSONAS, type World } from '../access/world.js';
import { call } from '../portal/http.js';

describe('the OperationDefinitions of $deactivate and $reactivate', function () {
  this.timeout(300_000);
  let w: World;
  before(async () => {
    w = await buildWorld();
  });
  after(() => w?.s.close());

  const definition = async (op: 'deactivate' | 'reactivate'): Promise<OperationDefinition> => {
    const res = await fetch(`${w.s.fhirBase}/OperationDefinition/Patient-${op}`, { headers: { accept: 'application/fhir+json' } });
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^application\/fhir\+json/);
    return (await res.json()) as OperationDefinition;
  };

  it('the CapabilityStatement names each on Patient, and the served definition carries that canonical URL', async () => {
    const cs = (await (await fetch(`${w.s.fhirBase}/metadata`, { headers: { accept: 'application/fhir+json' } })).json()) as CapabilityStatement;
    const patient = cs.rest![0]!.resource!.find((r) => r.type === 'Patient')!;
    for (const op of ['deactivate', 'reactivate'] as const) {
      const named = patient.operation!.find((o) => o.name === op);
      const def = await definition(op);
      expect(def.url).to.equal(named?.definition);
      expect(def).to.include({ resourceType: 'OperationDefinition', id: `Patient-${op}`, code: op, kind: 'operation', status: 'active', system: false, type: false, instance: true, affectsState: true });
      expect(def.resource).to.deep.equal(['Patient']);
      expect(def.parameter!.filter((p) => p.use === 'in')).to.deep.equal([]);
    }
  });

  it('each is a valid R4 OperationDefinition by the server’s own $validate', async () => {
    for (const op of ['deactivate', 'reactivate'] as const) {
      const res = await call(w, w.tokens.system, 'POST', 'OperationDefinition/$validate', await definition(op));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const errors = (res.body.issue as Array<{ severity: string }>).filter((i) => i.severity === 'error' || i.severity === 'fatal');
      expect(errors, JSON.stringify(errors)).to.deep.equal([]);
    }
  });

  it('the real answers of Kari deactivating and reactivating her account use only the defined outputs, with their types', async () => {
    const patientId = PERSONAS.self.patient;
    let suspended = 0;
    for (const op of ['deactivate', 'reactivate'] as const) {
      const def = await definition(op);
      const out = new Map(def.parameter!.filter((p) => p.use === 'out').map((p) => [p.name, p]));
      const res = await call(w, w.tokens.self, 'POST', `Patient/${patientId}/$${op}`);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const answer = res.body as Parameters;
      for (const p of answer.parameter ?? []) {
        const d = out.get(p.name);
        expect(d, `output ${p.name} is defined`).to.not.equal(undefined);
        if (d!.type === 'code') expect(p.valueCode, p.name).to.be.a('string');
        if (d!.type === 'Reference') expect(p.valueReference?.reference, p.name).to.match(/^Consent\//);
      }
      const counts = [...out.values()].map((d) => [d.name, answer.parameter!.filter((p) => p.name === d.name).length, d.min, d.max] as const);
      if (op === 'deactivate') suspended = answer.parameter!.filter((p) => p.name === 'suspended').length;
      for (const [name, n, min, max] of counts) {
        expect(n, name).to.be.at.least(min!);
        if (max !== '*') expect(n, name).to.be.at.most(Number(max));
      }
    }
    expect(suspended, 'Kari\'s proxy grants were suspended, so the Reference output was exercised').to.be.greaterThan(0);
  });
});
