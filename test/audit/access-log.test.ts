/**
 * The access log (S23; issue 10 §6, issue 11 §1) over HTTP with real tokens: every door that shows
 * Kari's data leaves an entry she finds with `GET AuditEvent?patient=Patient/kari-nordmann`, naming
 * the app by its registered name; the log is a read-only view (search, paging, count) of an
 * append-only table that refuses UPDATE and DELETE at the database.
 */
import { expect } from 'chai';
import type { AuditEvent, Bundle, Observation, Resource } from 'fhir/r4';
import { AccessLog } from '../../src/audit/access-log.js';
import { createLogger } from '../../src/log.js';
import { APP_REDIRECT, createCitizen, exchange, launch, registerApp } from '../auth/support.js';
import { buildWorld, logSampleRow, portalToken, type TestedActor, type World } from '../access/world.js';
import { countStatements } from '../support/count-statements.js';

const KARI = 'Patient/kari-nordmann';

interface Res<T = Bundle> { status: number; body: T; headers: Headers }

async function call<T = Bundle>(w: World, token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res<T>> {
  const res = await fetch(`${w.s.fhirBase}/${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+json', ...(body !== undefined ? { 'content-type': 'application/fhir+json' } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T, headers: res.headers };
}
const as = <T = Bundle>(w: World, actor: TestedActor, method: string, path: string, body?: unknown, headers?: Record<string, string>) => call<T>(w, w.tokens[actor], method, path, body, headers);

const events = (b: Bundle): AuditEvent[] => (b.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource as AuditEvent);
const entities = (e: AuditEvent) => (e.entity ?? []).map((x) => x.what?.reference).filter((r): r is string => !!r);
const clientDisplay = (e: AuditEvent) => e.agent.find((a) => a.who?.identifier?.system === 'https://fhir.helsebro.no/sid/client-id')?.who?.display;
const refsOf = (b: Bundle | undefined) => (b?.entry ?? []).filter((e) => e.search?.mode !== 'outcome').map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);

/** Kari's own view of her log since `since`, as she would look it up (and nothing else). */
async function karisLog(w: World, since: string, more = ''): Promise<AuditEvent[]> {
  const res = await as(w, 'self', 'GET', `AuditEvent?patient=${KARI}&date=ge${since}&_count=1000${more}`);
  expect(res.status, JSON.stringify(res.body).slice(0, 300)).to.equal(200);
  return events(res.body);
}

/** Now, to the millisecond: entries recorded from here on (the server's clock is this process's). */
const stamp = () => new Date().toISOString();

describe('the access log: every door that shows patient data is logged (issue 10 §6, S23)', function () {
  this.timeout(300_000);
  let w: World;
  before(async () => {
    w = await buildWorld();
  });
  after(() => w?.s.close());

  it('a Full proxy’s batch with a search logs every Observation the nested Bundle shows, naming the proxy, grant, level and app', async () => {
    const since = stamp();
    const batch = await as(w, 'full', 'POST', '', { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: 'Observation?_count=50' } }] });
    expect(batch.status).to.equal(200);
    const shown = refsOf(batch.body.entry?.[0]?.resource as Bundle);
    expect(shown.length).to.be.greaterThan(0);
    const log = (await karisLog(w, since)).filter((e) => e.agent[0]?.who?.reference === 'RelatedPerson/fullmakt-kari-astrid');
    const batchEvent = log.find((e) => e.subtype?.[0]?.code === 'batch');
    expect(batchEvent, 'a batch entry in Kari’s log').to.exist;
    for (const ref of shown) expect(entities(batchEvent!), ref).to.include(ref);
    expect(batchEvent!.agent[0]!.policy).to.deep.equal(['Consent/fullmakt-kari-astrid']);
    expect(batchEvent!.agent[0]!.role?.[0]?.coding?.map((c) => c.code)).to.deep.equal(['proxy', 'full']);
    expect(clientDisplay(batchEvent!)).to.equal('Helsebro'); // the portal's registered client_name, not its id
  });

  it('a transaction answered with representations logs the shown resources as well as its writes', async () => {
    const since = stamp();
    const tx = await as(w, 'full', 'POST', '', {
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:6d1c2b1e-0000-4000-8000-000000000001', request: { method: 'POST', url: 'Communication' }, resource: { resourceType: 'Communication', status: 'completed', subject: { reference: KARI }, recipient: [{ reference: 'Organization/helsebro-legesenter' }], payload: [{ contentString: 'Hei fra Astrid' }] } },
        { request: { method: 'GET', url: 'Condition?_count=10' } },
      ],
    }, { prefer: 'return=representation' });
    expect(tx.status, JSON.stringify(tx.body).slice(0, 300)).to.equal(200);
    const written = `Communication/${tx.body.entry![0]!.resource!.id}`;
    const conditions = refsOf(tx.body.entry![1]!.resource as Bundle);
    expect(conditions.length).to.be.greaterThan(0);
    const log = await karisLog(w, since);
    const shownEvent = log.find((e) => e.subtype?.[0]?.code === 'transaction');
    expect(shownEvent, 'the response is logged').to.exist;
    expect(entities(shownEvent!)).to.include.members([written, ...conditions]);
    const created = log.find((e) => e.action === 'C' && entities(e).includes(written));
    expect(created, 'the write is logged in its own transaction').to.exist;
  });

  it('Patient/$everything, _include and _revinclude log what they bring in', async () => {
    const since = stamp();
    const everything = await as(w, 'standard', 'GET', `${KARI}/$everything?_count=1000`);
    expect(everything.status).to.equal(200);
    const inc = await as(w, 'read', 'GET', 'Patient?_id=kari-nordmann&_revinclude=Observation:subject&_count=1000');
    expect(inc.status).to.equal(200);
    const revincluded = (inc.body.entry ?? []).filter((e) => e.search?.mode === 'include').map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);
    expect(revincluded.length).to.be.greaterThan(0);
    const obs = (await as(w, 'read', 'GET', 'Observation?_count=3&_include=Observation:subject')).body;
    expect(refsOf(obs)).to.include(KARI);

    const log = await karisLog(w, since);
    const ev = log.find((e) => e.agent[0]?.who?.reference === 'RelatedPerson/fullmakt-kari-ola' && e.subtype?.[0]?.code === 'operation');
    expect(ev, '$everything in the log').to.exist;
    expect(entities(ev!)).to.include.members(refsOf(everything.body).filter((r) => r !== KARI));
    expect(Buffer.from(ev!.entity!.find((x) => x.query)!.query!, 'base64').toString()).to.match(/^\$everything/);
    const revEvent = log.find((e) => e.agent[0]?.who?.reference === 'RelatedPerson/fullmakt-kari-ingrid' && revincluded.every((r) => entities(e).includes(r)));
    expect(revEvent, '_revinclude entries in the log').to.exist;
  });

  it('a conditional create that matched an existing resource logs it as shown (with and without a body)', async () => {
    const obs: Observation = {
      resourceType: 'Observation', status: 'final', code: { text: 'Puls' }, subject: { reference: KARI }, performer: [{ reference: KARI }],
      identifier: [{ system: 'https://example.org/puls', value: 'audit-1' }], valueQuantity: { value: 60, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
    };
    const first = await as(w, 'self', 'POST', 'Observation', obs, { 'if-none-exist': 'identifier=https://example.org/puls|audit-1' });
    expect(first.status, JSON.stringify(first.body).slice(0, 300)).to.equal(201);
    const ref = `Observation/${(first.body as unknown as Resource).id}`;
    const since = stamp();
    const again = await as(w, 'self', 'POST', 'Observation', obs, { 'if-none-exist': 'identifier=https://example.org/puls|audit-1' });
    expect(again.status).to.equal(200);
    const minimal = await as(w, 'self', 'POST', 'Observation', obs, { 'if-none-exist': 'identifier=https://example.org/puls|audit-1', prefer: 'return=minimal' });
    expect(minimal.status).to.equal(200);
    const matched = (await karisLog(w, since, `&entity=${ref}`)).filter((e) => e.subtype?.[0]?.code === 'create' && e.action === 'R');
    expect(matched).to.have.length(2);
    expect(Buffer.from(matched[0]!.entity!.find((x) => x.query)!.query!, 'base64').toString()).to.equal('identifier=https://example.org/puls|audit-1');
  });

  it('vread and history are logged', async () => {
    const target = (await as(w, 'read', 'GET', 'Condition?_count=1')).body.entry![0]!.resource!;
    const since = stamp();
    expect((await as(w, 'read', 'GET', `Condition/${target.id}/_history/1`)).status).to.equal(200);
    expect((await as(w, 'system', 'GET', `Condition/${target.id}/_history`)).status).to.equal(200);
    const log = await karisLog(w, since, `&entity=Condition/${target.id}`);
    expect(log.map((e) => e.subtype?.[0]?.code).sort()).to.deep.equal(['history-instance', 'vread']);
    const system = log.find((e) => e.subtype?.[0]?.code === 'history-instance')!;
    expect(system.agent[0]!.who).to.deep.equal({ display: 'system' });
    expect(clientDisplay(system)).to.equal('Development system client');
  });

  it('a third-party app is named by its registered client_name', async () => {
    const { client_id } = await registerApp(w.s, { client_name: 'Min treningsapp', redirect_uris: [APP_REDIRECT], token_endpoint_auth_method: 'none', scope: 'launch/patient openid fhirUser patient/*.rs' });
    const r = await launch(w.s, { clientId: client_id, pid: '12847502159', patient: 'kari-nordmann', scope: 'launch/patient openid fhirUser patient/Observation.rs' });
    const t = await exchange(w.s, client_id, r);
    expect(t.status, JSON.stringify(t.body)).to.equal(200);
    const since = stamp();
    expect((await call(w, t.body.access_token as string, 'GET', 'Observation?_count=2')).status).to.equal(200);
    const log = (await karisLog(w, since)).filter((e) => e.agent.some((a) => a.who?.identifier?.value === client_id));
    expect(log).to.have.length(1);
    expect(clientDisplay(log[0]!)).to.equal('Min treningsapp');
  });

  it('$deactivate and $reactivate are in the citizen’s own log', async () => {
    const { patientId, pid } = await createCitizen(w.s.repo, { birthDate: '1975-03-04', seq: 7, family: 'Logg' });
    const token = await portalToken(w.s, pid, patientId);
    expect((await call(w, token, 'POST', `Patient/${patientId}/$deactivate`, {})).status).to.equal(200);
    expect((await call(w, token, 'POST', `Patient/${patientId}/$reactivate`, {})).status).to.equal(200);
    const log = await call(w, token, 'GET', `AuditEvent?patient=Patient/${patientId}&subtype=operation`);
    expect(log.status).to.equal(200);
    const ops = events(log.body).map((e) => Buffer.from(e.entity!.find((x) => x.query)!.query!, 'base64').toString());
    expect(ops.sort()).to.deep.equal(['$deactivate', '$reactivate']);
    expect(events(log.body).every((e) => entities(e).includes(`Patient/${patientId}`) && e.agent[0]!.who?.reference === `Patient/${patientId}`)).to.equal(true);
  });
});

describe('the access log as a read-only FHIR view (issue 11 §1)', function () {
  this.timeout(300_000);
  let w: World;
  before(async () => {
    w = await buildWorld();
  });
  after(() => w?.s.close());

  it('searches by patient, agent, date and entity, sorts by date, pages with links and counts', async () => {
    const since = stamp();
    const cond = (await as(w, 'read', 'GET', 'Condition?_count=1')).body.entry![0]!.resource!;
    for (let i = 0; i < 4; i++) expect((await as(w, 'read', 'GET', `Condition/${cond.id}`)).status).to.equal(200);
    const q = `AuditEvent?patient=${KARI}&agent=RelatedPerson/fullmakt-kari-ingrid&date=ge${since}`;
    const count = await as(w, 'self', 'GET', `${q}&_summary=count`);
    expect(count.body.total).to.equal(5);
    expect(count.body.entry).to.equal(undefined);

    const seen: AuditEvent[] = [];
    let page = await as(w, 'self', 'GET', `${q}&_count=2`);
    for (let n = 0; n < 5; n++) {
      expect(page.status).to.equal(200);
      seen.push(...events(page.body));
      const next = page.body.link?.find((l) => l.relation === 'next')?.url;
      if (!next) break;
      // Kari's own looking is not logged, so her paging cannot shift her pages.
      page = await call(w, w.tokens.self, 'GET', next.slice(w.s.fhirBase.length + 1));
    }
    expect(seen).to.have.length(5);
    expect(new Set(seen.map((e) => e.id)).size).to.equal(5);
    const dates = seen.map((e) => e.recorded);
    expect(dates).to.deep.equal([...dates].sort().reverse()); // -date is the default
    const asc = events((await as(w, 'self', 'GET', `${q}&_sort=date`)).body).map((e) => e.recorded);
    expect(asc).to.deep.equal([...asc].sort());

    // The search that found the Condition showed it too: four reads and one search name it.
    const naming = events((await as(w, 'self', 'GET', `${q}&entity=Condition/${cond.id}`)).body);
    expect(naming.map((e) => e.subtype?.[0]?.code).sort()).to.deep.equal(['read', 'read', 'read', 'read', 'search-type']);
    const later = new Date(Date.now() + 60_000).toISOString();
    expect(events((await as(w, 'self', 'GET', `AuditEvent?patient=${KARI}&date=gt${later}`)).body)).to.have.length(0);
    const one = seen[0]!;
    const read = await as<AuditEvent>(w, 'self', 'GET', `AuditEvent/${one.id}`);
    expect(read.status).to.equal(200);
    expect(read.body).to.deep.equal(one);
    expect((await as(w, 'self', 'GET', `AuditEvent/${one.id}/_history/1`)).status).to.equal(200);
    expect((await as(w, 'self', 'GET', `AuditEvent/${one.id}/_history/2`)).status).to.equal(404);
  });

  it('shows the patient only her own log; proxies and other patients get nothing of it', async () => {
    expect((await as(w, 'self', 'GET', 'AuditEvent?patient=Patient/ola-nordmann')).status).to.equal(403);
    expect((await as(w, 'full', 'GET', 'AuditEvent')).status).to.equal(403);
    expect((await as(w, 'parent', 'GET', 'AuditEvent')).status).to.equal(403);
    const all = events((await as(w, 'self', 'GET', 'AuditEvent?_count=1000')).body);
    expect(all.length).to.be.greaterThan(0);
    expect(all.every((e) => entities(e).includes(KARI))).to.equal(true);
    const emmas = events((await as(w, 'system', 'GET', 'AuditEvent?patient=Patient/emma-johansen&_count=1')).body);
    expect(emmas).to.have.length(1);
    expect((await as(w, 'self', 'GET', `AuditEvent/${emmas[0]!.id}`)).status).to.equal(404);
  });

  it('refuses every write of AuditEvent, through every door, with an OperationOutcome', async () => {
    const one = events((await as(w, 'system', 'GET', `AuditEvent?patient=${KARI}&_count=1`)).body)[0]!;
    const before = (await as(w, 'system', 'GET', 'AuditEvent?_summary=count')).body.total;
    const tries: Array<Res<Record<string, unknown>>> = [
      await call(w, w.tokens.system, 'POST', 'AuditEvent', { ...one, id: undefined }),
      await call(w, w.tokens.system, 'PUT', `AuditEvent/${one.id}`, one),
      await call(w, w.tokens.system, 'PATCH', `AuditEvent/${one.id}`, [{ op: 'replace', path: '/outcome', value: '4' }], { 'content-type': 'application/json-patch+json' }),
      await call(w, w.tokens.system, 'DELETE', `AuditEvent/${one.id}`),
      await call(w, w.tokens.system, 'DELETE', `AuditEvent?patient=${KARI}`),
      await call(w, w.tokens.self, 'DELETE', `AuditEvent/${one.id}`),
    ];
    for (const t of tries) {
      expect(t.status).to.equal(403);
      expect(t.body.resourceType).to.equal('OperationOutcome');
    }
    const batch = await as(w, 'system', 'POST', '', { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'DELETE', url: `AuditEvent/${one.id}` } }, { request: { method: 'POST', url: 'AuditEvent' }, resource: one }] });
    expect(batch.body.entry!.map((e) => e.response?.status)).to.deep.equal(['403', '403']);
    expect((await as(w, 'system', 'GET', 'AuditEvent?_summary=count')).body.total).to.equal(before);
    expect((await as<AuditEvent>(w, 'system', 'GET', `AuditEvent/${one.id}`)).body).to.deep.equal(one);
  });

  it('AccessLog.record(events) still takes AuditEvents (security events) and shows them to the patient', async () => {
    const login: AuditEvent = {
      resourceType: 'AuditEvent',
      type: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110114', display: 'User Authentication' },
      subtype: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110122', display: 'Login' }],
      action: 'E', recorded: new Date().toISOString(), outcome: '4', outcomeDesc: 'refresh token reuse',
      agent: [
        { requestor: true, who: { reference: KARI } },
        { requestor: false, who: { identifier: { system: 'https://fhir.helsebro.no/sid/client-id', value: 'helsebro-portal' }, display: 'Helsebro' } },
      ],
      source: { observer: { display: 'helsebro' } },
    };
    await new AccessLog(w.s.db, createLogger('silent')).record([login]);
    const found = events((await as(w, 'self', 'GET', `AuditEvent?patient=${KARI}&outcome=4`)).body);
    expect(found).to.have.length(1);
    expect(found[0]).to.deep.include({ type: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110114' }, outcome: '4', outcomeDesc: 'refresh token reuse' });
    expect(found[0]!.subtype).to.deep.equal([{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110122' }]);
    expect(found[0]!.agent[0]!.who).to.deep.equal({ reference: KARI });
    expect(clientDisplay(found[0]!)).to.equal('Helsebro');
  });

  it('entries recorded in the same event-loop turn are written by one INSERT, and each caller waits for it', async () => {
    const log = new AccessLog(w.s.db, createLogger('silent'));
    const counter = countStatements(w.s.db);
    try {
      const recorded = new Date().toISOString();
      const row = (i: number) => ({ ...logSampleRow('kari-nordmann'), recorded, query: `turn-${i}` });
      const settled: number[] = [];
      await Promise.all(Array.from({ length: 10 }, (_, i) => log.recordRows([row(i)]).then(() => settled.push(i))));
      expect(settled).to.have.length(10);
      expect(counter.take().filter((s) => s.startsWith('INSERT INTO access_log'))).to.have.length(1);
      const stored = await w.s.db.query<{ query: string }>('SELECT query FROM access_log WHERE recorded = $1 ORDER BY seq', [recorded]);
      expect(stored.map((r) => r.query)).to.deep.equal(Array.from({ length: 10 }, (_, i) => `turn-${i}`));
    } finally {
      counter.stop();
    }
  });

  it('reads answered at the same time are each in the log, under the reader who made them', async () => {
    const since = stamp();
    const paths = [KARI, KARI, KARI, KARI, KARI];
    const answers = await Promise.all([...paths.map((p) => as(w, 'self', 'GET', p)), ...paths.map((p) => as(w, 'standard', 'GET', p))]);
    expect(answers.map((a) => a.status)).to.deep.equal(Array(10).fill(200));
    const reads = (await karisLog(w, since)).filter((e) => e.subtype?.[0]?.code === 'read');
    const byActor = (ref: string) => reads.filter((e) => e.agent[0]?.who?.reference === ref).length;
    expect(byActor(KARI)).to.equal(5);
    expect(byActor('RelatedPerson/fullmakt-kari-ola')).to.equal(5);
  });

  it('the database itself refuses UPDATE, DELETE and TRUNCATE on the log table', async () => {
    const n = Number((await w.s.db.query<{ n: number }>('SELECT count(*) AS n FROM access_log'))[0]!.n);
    for (const sql of ["UPDATE access_log SET actor = 'Practitioner/someone-else'", 'DELETE FROM access_log', 'DELETE FROM access_log WHERE false', 'TRUNCATE access_log']) {
      let error: unknown = null;
      await w.s.db.query(sql).catch((err: unknown) => (error = err));
      expect((error as Error | null)?.message, sql).to.match(/append-only/);
    }
    expect(Number((await w.s.db.query<{ n: number }>('SELECT count(*) AS n FROM access_log'))[0]!.n)).to.equal(n);
  });

  it('a read with a patient token writes exactly one log row and no resource or index rows', async () => {
    const tables = ['resources', 'resource_history', 'sp_token', 'sp_reference', 'sp_date', 'sp_string'];
    const counts = async () => Promise.all([...tables, 'access_log'].map(async (t) => Number((await w.s.db.query<{ n: number }>(`SELECT count(*) AS n FROM ${t}`))[0]!.n)));
    const before = await counts();
    expect((await as(w, 'self', 'GET', KARI)).status).to.equal(200);
    const after = await counts();
    expect(after.slice(0, tables.length)).to.deep.equal(before.slice(0, tables.length));
    expect(after.at(-1)! - before.at(-1)!).to.equal(1);
  });
});
