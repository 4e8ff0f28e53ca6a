/**
 * A search carries its own grant check (issue 11 §2 "one round trip to authenticate and authorise"):
 * after a token's first fully checked request, its plain searches (`GET /{type}?…`,
 * `GET /Patient/{id}/{type}?…`) are decided from what that check established and the search's one
 * statement also asks "is the grant still live, under which access version?" (auth/resource-server.ts,
 * search/execute.ts). These tests prove that revocation, a lowered proxy level, an ended grant,
 * deactivation and death still act on the very next search, over HTTP with real tokens, whichever
 * server made the change: a second server instance over the same database (on PostgreSQL its own
 * connection pool on the same schema, as a second `WORKERS` process has) keeps caches of its own.
 */
import { expect } from 'chai';
import type { Express } from 'express';
import type { Bundle, Consent, Patient } from 'fhir/r4';
import request from 'supertest';
import { POLICY, CS } from '../../src/access/policy.js';
import { PORTAL_CLIENT_ID } from '../../src/auth/clients.js';
import { isDeferrableSearch } from '../../src/auth/resource-server.js';
import type { Db } from '../../src/db/db.js';
import { openDatabase } from '../../src/db/open.js';
import { createLogger } from '../../src/log.js';
import { buildServer, createRepository } from '../../src/server.js';
import { fhirGet } from '../auth/support.js';
import { countStatements } from '../support/count-statements.js';
import { buildWorld, PERSONAS, subjectOf, type World } from './world.js';

const FHIR = 'application/fhir+json';

describe('a search carries its grant check, and every change acts on the very next search (issue 11 §2)', function () {
  // The world (demo population, samples, seven tokens) takes minutes to build on a loaded machine.
  this.timeout(300_000);
  let w: World;
  let db2: Db;
  let other: { app: Express; close: () => Promise<void> };

  before(async () => {
    w = await buildWorld();
    const url = process.env.DATABASE_URL;
    if (url && /^postgres(ql)?:\/\//.test(url)) {
      const [{ schema }] = await w.s.db.query<{ schema: string }>('SELECT current_schema() AS schema');
      db2 = await openDatabase({ kind: 'postgres', url }, { schema: schema!, max: 3 });
    } else {
      // PGlite is one process: the second server shares its one connection.
      db2 = w.s.db;
    }
    const built = await buildServer({ config: w.s.config, db: db2, logger: createLogger('silent'), repo: createRepository(db2, w.s.config), devIdp: false });
    other = { app: built.app, close: async () => { for (const c of built.extraClosers) await c(); } };
  });
  after(async () => {
    await other?.close();
    await w?.s.close();
    // The second pool's close drops the schema again (already gone): harmless.
    if (db2 && db2 !== w?.s.db) await db2.close();
  });

  /** A request to the second server. */
  const there = (method: 'get' | 'put' | 'post', path: string, token: string, body?: object) => {
    const r = request(other.app)[method](`/fhir/${path}`).set('Authorization', `Bearer ${token}`);
    return body ? r.set('Content-Type', FHIR).send(body) : r;
  };
  const ids = (b: Record<string, unknown>) => ((b as unknown as Bundle).entry ?? []).map((e) => e.resource?.id);
  const activeConsentOf = async (rp: string): Promise<Consent> => {
    const found = await fhirGet(w.s, `Consent?actor=RelatedPerson/${rp}`, w.tokens.system);
    return ((found.body.entry as Array<{ resource: Consent }>) ?? []).map((e) => e.resource).find((c) => c.status === 'active')!;
  };

  it('a plain search of one type, or of one type in a Patient compartment, is the kind that carries the check; AuditEvent, history, operations and writes are not', () => {
    const yes = (path: string, method = 'GET') => isDeferrableSearch({ method, path });
    for (const path of ['/Observation', '/Patient', '/Patient/kari-nordmann/Observation', '/Binary']) expect(yes(path), path).to.equal(true);
    expect(yes('/Observation', 'HEAD')).to.equal(true);
    for (const [path, method] of [['/AuditEvent'], ['/Patient/kari-nordmann/AuditEvent'], ['/Observation/_history'], ['/$export'], ['/Patient/x/$everything'], ['/Patient/x/*'], ['/Observation', 'POST'],
      ['/Observation/_search', 'POST'], ['/Nonsense'], ['/'], ['/Observation/1'], ['/Group/1/Observation'], [`/Patient/${'x'.repeat(65)}/Observation`]] as Array<[string, string?]>) {
      expect(yes(path, method), `${method ?? 'GET'} ${path}`).to.equal(false);
    }
  });

  it('a steady compartment search costs 2 statements: the search carrying the grant check, and the access log', async () => {
    const counter = countStatements(w.s.db);
    try {
      const path = `Patient/${PERSONAS.self.patient}/Observation?_count=20`;
      expect((await fhirGet(w.s, path, w.tokens.self)).status).to.equal(200);
      counter.take();
      const res = await fhirGet(w.s, path, w.tokens.self);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const sql = counter.take();
      expect(sql, sql.join('\n')).to.have.length(2);
      const grantChecks = sql.filter((s) => /\bauth_grants\b/.test(s));
      expect(grantChecks, 'the grant is still checked, in the search itself').to.have.length(1);
      expect(grantChecks[0]).to.match(/\bFROM resources r\b/);
    } finally {
      counter.stop();
    }
  });

  it('an access token revoked at one server is refused on its very next search at the other, and a refusal the search would give (403, 400) becomes 401', async () => {
    const token = w.tokens.read;
    const path = `Observation?patient=${PERSONAS.read.patient}`;
    // Both servers have checked this token fully once, and answered searches since.
    for (let i = 0; i < 2; i++) {
      expect((await fhirGet(w.s, path, token)).status).to.equal(200);
      expect((await there('get', path, token)).status).to.equal(200);
    }
    expect((await there('get', 'Observation?patient=emma-johansen', token)).status, 'another patient named: 403').to.equal(403);
    expect((await there('get', 'Observation?_count=many', token)).status, 'a bad _count: 400').to.equal(400);
    const revoke = await fetch(`${w.s.baseUrl}/auth/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token, client_id: PORTAL_CLIENT_ID }) });
    expect(revoke.status).to.equal(200);
    // The first request after the revocation is the one decided from what each server knew: there, one
    // each server would otherwise refuse (403, 400) before reading anything. After it, each server
    // checks the token fully again.
    const first = await fhirGet(w.s, 'Observation?patient=emma-johansen', token);
    expect(first.status, 'this server, another patient named').to.equal(401);
    expect((await there('get', 'Observation?_count=many', token)).status, 'the other server, a bad _count').to.equal(401);
    for (const p of [path, `Patient/${PERSONAS.read.patient}/Observation`, 'Observation?patient=emma-johansen', 'Observation?_count=many', 'Patient/emma-johansen/Observation']) {
      const here = await fhirGet(w.s, p, token);
      expect(here.status, `this server: ${p}`).to.equal(401);
      expect(here.headers.get('www-authenticate'), p).to.match(/invalid_token/);
      const res = await there('get', p, token);
      expect(res.status, `the other server: ${p}`).to.equal(401);
      expect(res.body.resourceType, p).to.equal('OperationOutcome');
    }
  });

  it('a proxy level lowered at the other server hides the messages from the proxy\'s very next search here, and raised again shows them', async () => {
    const token = w.tokens.communicate;
    const message = subjectOf(w, 'communicate', POLICY.find((r) => r.resourceType === 'Communication' && r.slice === 'messages')!)!;
    const path = `Patient/${PERSONAS.communicate.patient}/Communication?_id=${message.id}`;
    expect(ids((await fhirGet(w.s, path, token)).body)).to.deep.equal([message.id]);
    expect(ids((await fhirGet(w.s, path, token)).body)).to.deep.equal([message.id]);
    const consent = await activeConsentOf(PERSONAS.communicate.rp);
    const level = (c: Consent, code: string): Consent => ({ ...c, policyRule: { ...c.policyRule, coding: (c.policyRule?.coding ?? []).map((x) => (x.system === CS.proxyLevel ? { ...x, code } : x)) } });
    const read = `${message.type}/${message.id}`;
    expect((await fhirGet(w.s, read, token)).status).to.equal(200);
    const lowered = await there('put', `Consent/${consent.id}`, w.tokens.system, level(consent, 'read'));
    expect(lowered.status, JSON.stringify(lowered.body)).to.equal(200);
    // Decided afresh at once, though this server decided this token's requests a moment ago (engine.ts
    // keeps a token's decision for the second it was made in, under the relation of that access version).
    const hidden = await fhirGet(w.s, path, token);
    expect(hidden.status).to.equal(200);
    expect(ids(hidden.body), 'a Read proxy sees no messages').to.deep.equal([]);
    expect((await fhirGet(w.s, read, token)).status, 'nor reads one by id').to.equal(404);
    const raised = await there('put', `Consent/${consent.id}`, w.tokens.system, level(lowered.body as Consent, 'communicate'));
    expect(raised.status, JSON.stringify(raised.body)).to.equal(200);
    expect((await fhirGet(w.s, read, token)).status, 'the very next read by id').to.equal(200);
    expect(ids((await fhirGet(w.s, path, token)).body)).to.deep.equal([message.id]);
  });

  it('a proxy grant ended at one server stops the proxy\'s very next search at both', async () => {
    const token = w.tokens.full;
    const path = `Observation?patient=${PERSONAS.full.patient}`;
    for (let i = 0; i < 2; i++) {
      expect((await fhirGet(w.s, path, token)).status).to.equal(200);
      expect((await there('get', path, token)).status).to.equal(200);
    }
    const consent = await activeConsentOf(PERSONAS.full.rp);
    expect((await there('put', `Consent/${consent.id}`, w.tokens.system, { ...consent, status: 'inactive' })).status).to.equal(200);
    expect((await fhirGet(w.s, path, token)).status, 'this server').to.equal(401);
    expect((await there('get', path, token)).status, 'the other server').to.equal(401);
  });

  it('$deactivate at the other server closes the patient\'s and a proxy\'s very next search here', async () => {
    const path = `Patient/${PERSONAS.self.patient}/Observation`;
    for (const actor of ['self', 'standard'] as const) {
      expect((await fhirGet(w.s, path, w.tokens[actor])).status, actor).to.equal(200);
      expect((await fhirGet(w.s, path, w.tokens[actor])).status, actor).to.equal(200);
    }
    const res = await there('post', `Patient/${PERSONAS.self.patient}/$deactivate`, w.tokens.self);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    for (const actor of ['self', 'standard'] as const) expect((await fhirGet(w.s, path, w.tokens[actor])).status, actor).to.equal(401);
  });

  it('a death registered at the other server ends the parent\'s very next search here', async () => {
    const path = `Patient/${PERSONAS.parent.patient}/Observation`;
    expect((await fhirGet(w.s, path, w.tokens.parent)).status).to.equal(200);
    expect((await fhirGet(w.s, path, w.tokens.parent)).status).to.equal(200);
    const patient = (await there('get', `Patient/${PERSONAS.parent.patient}`, w.tokens.system)).body as Patient;
    expect((await there('put', `Patient/${PERSONAS.parent.patient}`, w.tokens.system, { ...patient, deceasedDateTime: '2026-11-30T10:00:00Z' })).status).to.equal(200);
    expect((await fhirGet(w.s, path, w.tokens.parent)).status).to.equal(401);
    expect((await there('get', path, w.tokens.parent)).status).to.equal(401);
  });
});
