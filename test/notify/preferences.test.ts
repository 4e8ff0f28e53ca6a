/**
 * Notification preferences and portal settings (issue 14; access-spec §5.2): Basic account records
 * read and changed by the patient and by a parent for a child under 16, refused to proxies (A7) and
 * to third-party apps whatever their scopes. Over HTTP with real portal and app tokens.
 */
import { expect } from 'chai';
import type { Basic, Bundle, OperationOutcome } from 'fhir/r4';
import { CS } from '../../src/access/policy.js';
import { CHANNEL_SYSTEM, EXT } from '../../src/notify/codes.js';
import { APP_REDIRECT, exchange, launch, registerApp } from '../auth/support.js';
import { buildWorld, PERSONAS, type TestedActor, type World } from '../access/world.js';
import { preferences } from './support.js';

const settings = (patient: string, shortcuts: string[]): Basic => ({
  resourceType: 'Basic',
  code: { coding: [{ system: CS.accountRecord, code: 'portal-settings' }] },
  subject: { reference: `Patient/${patient}` },
  extension: shortcuts.map((s) => ({ url: EXT.shortcut, valueString: s })),
});

describe('notification preferences and portal settings (issue 14)', function () {
  this.timeout(300_000);
  let w: World;
  let app: string; // a third-party app's token for Kari, holding patient/*.cruds as requested

  before(async () => {
    w = await buildWorld();
    const { client_id } = await registerApp(w.s, {
      client_name: 'Everything app', redirect_uris: [APP_REDIRECT], token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'], scope: 'openid fhirUser launch/patient offline_access patient/*.cruds',
    });
    const r = await launch(w.s, { clientId: client_id, pid: PERSONAS.self.pid, patient: 'kari-nordmann', scope: 'launch/patient openid fhirUser patient/*.cruds' });
    const t = await exchange(w.s, client_id, r);
    expect(t.status, JSON.stringify(t.body)).to.equal(200);
    app = t.body.access_token as string;
  });
  after(() => w?.s.close());

  /** What comes back: a Basic, a Bundle or an OperationOutcome. */
  type Body = Partial<Pick<Basic, 'id' | 'extension' | 'code' | 'subject'>> & Partial<Pick<Bundle, 'entry'>> & Partial<Pick<OperationOutcome, 'issue'>> & { resourceType?: string };
  async function call(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Body }> {
    const res = await fetch(`${w.s.fhirBase}/${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+json', ...(body ? { 'content-type': 'application/fhir+json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : {} };
  }
  const as = (actor: TestedActor) => w.tokens[actor];
  const kinds = (b: Body) => (b.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => (e.resource as Basic).code.coding?.[0]?.code);

  for (const [actor, patient] of [['self', 'kari-nordmann'], ['parent', 'emma-johansen']] as const) {
    it(`${actor} writes, reads and changes the notification preferences and portal settings of ${patient}`, async () => {
      const created = await call(as(actor), 'POST', 'Basic', preferences(patient, { 'new-message': ['in-app', 'sms'], 'result-released': [] }));
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      const id = created.body.id!;
      const read = await call(as(actor), 'GET', `Basic/${id}`);
      expect(read.status).to.equal(200);
      expect(read.body.extension).to.have.length(2);
      const changed = await call(as(actor), 'PUT', `Basic/${id}`, { ...preferences(patient, { 'new-message': ['email'] }), id });
      expect(changed.status, JSON.stringify(changed.body)).to.equal(200);
      expect((await call(as(actor), 'GET', `Basic/${id}`)).body.extension![0]!.extension![1]!.valueCoding!.code).to.equal('email');

      const s = await call(as(actor), 'POST', 'Basic', settings(patient, ['/meldinger', '/timeavtaler']));
      expect(s.status, JSON.stringify(s.body)).to.equal(201);
      const listed = await call(as(actor), 'GET', `Basic?subject=Patient/${patient}&_count=100`);
      expect(listed.status).to.equal(200);
      expect(kinds(listed.body)).to.include.members(['notification-preferences', 'portal-settings']);
      expect(kinds(listed.body)).to.not.include(undefined); // the 'other' Basic sample stays hidden
    });
  }

  it('a parent may not write preferences into another patient’s record', async () => {
    const res = await call(as('parent'), 'POST', 'Basic', preferences('kari-nordmann', { 'new-message': ['sms'] }));
    expect(res.status).to.equal(403);
  });

  for (const actor of ['standard', 'read', 'communicate', 'full'] as const) {
    it(`a ${actor} proxy may neither read nor write Kari's preferences or settings (403)`, async () => {
      expect((await call(as(actor), 'POST', 'Basic', preferences('kari-nordmann', { 'new-message': ['sms'] }))).status).to.equal(403);
      expect((await call(as(actor), 'POST', 'Basic', settings('kari-nordmann', ['/meldinger']))).status).to.equal(403);
      expect((await call(as(actor), 'GET', 'Basic?subject=Patient/kari-nordmann')).status).to.equal(403);
      const sample = w.samples.get('kari-nordmann|Basic|notification preferences')!;
      expect((await call(as(actor), 'GET', `Basic/${sample.id}`)).status).to.equal(403);
      // …nor through vread or history (instance and type level)…
      for (const path of [`Basic/${sample.id}/_history/1`, `Basic/${sample.id}/_history`, 'Basic/_history']) {
        const res = await call(as(actor), 'GET', path);
        expect(res.status, path).to.be.oneOf([403, 404]);
        expect(JSON.stringify(res.body), path).to.not.include(sample.id!);
      }
      // …nor through the compartment or $everything.
      const everything = await call(as(actor), 'GET', 'Patient/kari-nordmann/$everything?_count=1000');
      expect(JSON.stringify(everything.body)).to.not.include('"Basic"');
    });
  }

  it('a third-party app holding patient/*.cruds can neither read nor write them (403), nor see them in $everything', async () => {
    expect((await call(app, 'POST', 'Basic', preferences('kari-nordmann', { 'new-message': ['sms'] }))).status).to.equal(403);
    expect((await call(app, 'POST', 'Basic', settings('kari-nordmann', ['/meldinger']))).status).to.equal(403);
    const sample = w.samples.get('kari-nordmann|Basic|notification preferences')!;
    const read = await call(app, 'GET', `Basic/${sample.id}`);
    expect(read.status).to.equal(403);
    expect(read.body.resourceType).to.equal('OperationOutcome');
    expect((await call(app, 'PUT', `Basic/${sample.id}`, { ...sample })).status).to.equal(403);
    expect((await call(app, 'GET', 'Basic?subject=Patient/kari-nordmann')).status).to.equal(403);
    const batch = await call(app, 'POST', '', { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: `Basic/${sample.id}` } }, { request: { method: 'POST', url: 'Basic' }, resource: settings('kari-nordmann', ['/x']) }] });
    expect(batch.status).to.equal(200);
    // Inside a batch a read of a type outside the token is "not there" (404, access-spec §4.7), the write 403.
    expect(batch.body.entry!.map((e) => e.response!.status)).to.deep.equal(['404', '403']);
    expect(JSON.stringify(batch.body)).to.not.include('notification-preferences');
    const everything = await call(app, 'GET', 'Patient/kari-nordmann/$everything?_count=1000');
    expect(everything.status).to.equal(200);
    expect(JSON.stringify(everything.body)).to.not.include('"Basic"');
  });

  it('Subscriptions are for backend clients: the patient side and third-party apps get 403', async () => {
    const sub = { resourceType: 'Subscription', status: 'requested', reason: 'x', criteria: 'Observation?patient=Patient/kari-nordmann', channel: { type: 'rest-hook', endpoint: 'https://hooks.example.no/x' } };
    for (const token of [as('self'), as('full'), app]) {
      const res = await call(token, 'POST', 'Subscription', sub);
      expect(res.status).to.equal(403);
      expect(res.body.resourceType).to.equal('OperationOutcome');
    }
  });

  it('refuses malformed preferences and settings with 422 (or 400) naming the element', async () => {
    const twice = preferences('kari-nordmann', { 'new-message': ['sms'] });
    twice.extension = [...twice.extension!, ...twice.extension!];
    const wrongChannel = preferences('kari-nordmann', { 'new-message': ['pigeon'] });
    const noEvent: Basic = { ...preferences('kari-nordmann', {}), extension: [{ url: EXT.preference, extension: [{ url: 'channel', valueCoding: { system: CHANNEL_SYSTEM, code: 'sms' } }] }] };
    const badShortcut = settings('kari-nordmann', ['javascript:alert(1)']);
    const otherSubject: Basic = { ...preferences('kari-nordmann', {}), subject: { reference: 'Organization/x' } };
    for (const body of [twice, wrongChannel, noEvent, badShortcut, otherSubject]) {
      const res = await call(as('self'), 'POST', 'Basic', body);
      expect(res.status, JSON.stringify(res.body)).to.be.oneOf([400, 403, 422]);
      expect(res.body.resourceType).to.equal('OperationOutcome');
    }
    for (const body of [twice, noEvent, badShortcut]) expect((await call(as('self'), 'POST', 'Basic', body)).status).to.equal(422);
  });

  it('the patient side may not create notifications, nor change one beyond marking it read', async () => {
    const n = w.samples.get('kari-nordmann|Basic|notification')! as Basic;
    const fake: Basic = { ...n, id: undefined, code: { ...n.code, text: 'Falsk varsel' } } as Basic;
    delete fake.id;
    expect((await call(as('self'), 'POST', 'Basic', fake)).status).to.equal(403);
    const current = (await call(as('self'), 'GET', `Basic/${n.id}`)).body;
    const marked = await call(as('self'), 'PUT', `Basic/${n.id}`, { ...current, extension: [...(current.extension ?? []), { url: EXT.read, valueDateTime: '2026-12-03T10:00:00Z' }] });
    expect(marked.status, JSON.stringify(marked.body)).to.equal(200);
    const edited = await call(as('self'), 'PUT', `Basic/${n.id}`, { ...marked.body, code: { ...marked.body.code, text: 'Endret' } });
    expect(edited.status).to.equal(403);
    const retyped = await call(as('self'), 'PUT', `Basic/${n.id}`, { ...marked.body, code: { coding: [{ system: CS.accountRecord, code: 'portal-settings' }] } });
    expect(retyped.status).to.be.oneOf([403, 422]);
  });
});
