/**
 * Notifications end to end (issue 14): each event kind, caused over HTTP with real tokens, lands in
 * the outbox in the write's transaction and is delivered by the worker per the recipient's
 * preferences — in-app (a Basic the portal lists and marks read), and by the development SMS and
 * e-mail senders (JSON lines in NOTIFY_OUTBOX_DIR). Delivery survives a stopped worker, is never
 * doubled by two workers, retries with backoff and ends as a dead letter operators can see.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Basic, Bundle, Consent, Patient, Resource, Task } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import { CS } from '../../src/access/policy.js';
import { createLogger } from '../../src/log.js';
import { EXT } from '../../src/notify/codes.js';
import { claim, depth } from '../../src/notify/outbox-store.js';
import { fileSenders } from '../../src/notify/senders.js';
import { createNotificationWorker } from '../../src/notify/start.js';
import type { OutboxWorker } from '../../src/notify/worker.js';
import { buildWorld, portalToken, type World } from '../access/world.js';
import { preferences } from './support.js';

interface Line { key: string; channel: string; to: string; event: string; text: string }

describe('notifications: outbox, worker and channels (issue 14)', function () {
  this.timeout(300_000);
  let w: World;
  let dir: string;
  let olaSelf: string;

  before(async () => {
    w = await buildWorld();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'helsebro-notify-test-'));
    olaSelf = await portalToken(w.s, '03897302801', 'ola-nordmann');
  });
  after(async () => {
    await w?.s.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  const worker = (over: { senderDir?: string; maxAttempts?: number; backoffBaseMs?: number } = {}): OutboxWorker =>
    createNotificationWorker({
      config: { ...w.s.config, notifyOutboxDir: over.senderDir ?? dir },
      db: w.s.db, repo: w.s.repo, logger: createLogger('silent'),
      worker: { maxAttempts: over.maxAttempts ?? 5, backoffBaseMs: over.backoffBaseMs ?? 1, backoffCapMs: 20, pollMs: 20 },
    });

  async function call(token: string, method: string, p: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${w.s.fhirBase}/${p}`, {
      method, headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+json', ...(body ? { 'content-type': 'application/fhir+json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }
  const created = async (token: string, r: Resource): Promise<Resource> => {
    const res = await call(token, 'POST', r.resourceType, r);
    expect(res.status, JSON.stringify(res.body).slice(0, 400)).to.equal(201);
    return res.body as unknown as Resource;
  };
  async function lines(file: 'sms' | 'email', d = dir): Promise<Line[]> {
    const text = await fs.readFile(path.join(d, `${file}.ndjson`), 'utf8').catch(() => '');
    return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
  }
  async function inApp(token: string, patient: string): Promise<Basic[]> {
    const res = await call(token, 'GET', `Basic?code=${encodeURIComponent(`${CS.accountRecord}|notification`)}&subject=Patient/${patient}&_count=200`);
    expect(res.status).to.equal(200);
    return ((res.body as unknown as Bundle).entry ?? []).map((e) => e.resource as Basic);
  }
  const eventOf = (b: Basic) => b.extension?.find((e) => e.url === EXT.event)?.valueCoding?.code;
  const focusOf = (b: Basic) => b.extension?.find((e) => e.url === EXT.focus)?.valueReference?.reference;
  const pendingRows = async () => Number((await w.s.db.query<{ n: string | number }>("SELECT count(*) AS n FROM outbox WHERE status = 'pending' AND kind = 'notification'"))[0]!.n);

  it('each event kind is delivered in-app, by SMS and by e-mail as the recipient chose, once, after a restart of the worker', async () => {
    const sys = w.tokens.system;
    const self = w.tokens.self;
    // Kari's contact details and choices, through the portal as herself.
    const kari = (await call(self, 'GET', 'Patient/kari-nordmann')).body as unknown as Patient;
    expect((await call(self, 'PUT', 'Patient/kari-nordmann', { ...kari, telecom: [...(kari.telecom ?? []), { system: 'phone', value: '+4791234567', use: 'mobile' }] })).status).to.equal(200);
    await created(self, preferences('kari-nordmann', {
      'new-message': ['in-app', 'sms', 'email'], 'result-released': ['sms'], questionnaire: ['email'], 'earlier-time-offer': ['in-app'], 'request-answered': ['in-app', 'email'],
    }));
    await created(olaSelf, preferences('ola-nordmann', { 'proxy-grant-given': ['in-app', 'email'] }));
    // Start from an empty queue: the world's samples made events too.
    await worker({ senderDir: path.join(dir, 'setup') }).runUntilIdle();
    expect(await pendingRows()).to.equal(0);
    const olaBefore = (await inApp(olaSelf, 'ola-nordmann')).length; // the seeded grant told him once already

    // 1 message from the clinic; a message the patient writes herself notifies nobody.
    const msg = await created(sys, { resourceType: 'Communication', status: 'completed', subject: { reference: 'Patient/kari-nordmann' }, recipient: [{ reference: 'Patient/kari-nordmann' }], sender: { reference: 'Practitioner/lege-anne-lund' }, payload: [{ contentString: 'Svar på prøvene' }] } as Resource);
    // A reply to the doctor's message (issue 13: a new thread only to a recipient that accepts messages).
    await created(self, { resourceType: 'Communication', status: 'completed', subject: { reference: 'Patient/kari-nordmann' }, inResponseTo: [{ reference: `Communication/${msg.id}` }], recipient: [{ reference: 'Practitioner/lege-anne-lund' }], payload: [{ contentString: 'Takk' }] } as Resource);
    // 2 a held result released by the clinic
    const held = await created(sys, { resourceType: 'Observation', meta: { tag: [{ system: CS.releaseStatus, code: 'held' }] }, status: 'final', code: { text: 'Ferritin' }, subject: { reference: 'Patient/kari-nordmann' } } as Resource);
    expect((await call(sys, 'PUT', `Observation/${held.id}`, { ...held, meta: { tag: [{ system: CS.releaseStatus, code: 'released' }] } })).status).to.equal(200);
    // 3 a questionnaire and 4 an earlier-time offer from the clinic
    const q = await created(sys, { resourceType: 'Task', status: 'requested', intent: 'order', code: { coding: [{ system: CS.taskCode, code: 'complete-questionnaire' }] }, for: { reference: 'Patient/kari-nordmann' }, basedOn: [{ reference: 'Appointment/kari-time-2030-03-14' }], input: [{ type: { text: 'questionnaire' }, valueCanonical: 'https://fhir.helsebro.no/Questionnaire/for-timen' }] } as Resource);
    const offer = await created(sys, { resourceType: 'Task', status: 'requested', intent: 'proposal', code: { coding: [{ system: CS.taskCode, code: 'earlier-time-offer' }] }, for: { reference: 'Patient/kari-nordmann' }, focus: { reference: 'Slot/x' }, basedOn: [{ reference: 'Appointment/kari-time-2030-03-14' }] } as Resource);
    // 5 Kari asks to move an appointment; the clinic answers
    const request = await created(self, { resourceType: 'Task', status: 'requested', intent: 'order', code: { coding: [{ system: CS.taskCode, code: 'change-appointment' }] }, for: { reference: 'Patient/kari-nordmann' }, focus: { reference: 'Appointment/kari-time-2030-03-14' } } as Resource) as Task;
    expect((await call(sys, 'PUT', `Task/${request.id}`, { ...request, status: 'rejected' })).status).to.equal(200);
    // 6 Kari withdraws Ola's grant and gives it again through the portal: Ola is told
    const grant = (await call(self, 'GET', 'Consent/fullmakt-kari-ola')).body as unknown as Consent;
    const off = await call(self, 'PUT', 'Consent/fullmakt-kari-ola', { ...grant, status: 'inactive' });
    expect(off.status, JSON.stringify(off.body)).to.equal(200);
    const on = await call(self, 'PUT', 'Consent/fullmakt-kari-ola', { ...(off.body as unknown as Consent), status: 'active' });
    expect(on.status, JSON.stringify(on.body)).to.equal(200);

    // Written with the changes, not yet sent: the write did not wait for any channel.
    expect(await pendingRows()).to.equal(6);
    expect(await lines('sms')).to.deep.equal([]);
    // A worker that starts and stops (a process restarting) and one holding a claim when its process died.
    const first = worker();
    first.start();
    await first.stop();
    const orphan = await claim(w.s.db, 60_000);
    if (orphan) await w.s.db.query("UPDATE outbox SET lease_until = now() - interval '1 second' WHERE id = $1", [orphan.id]);
    // The next process's workers (two at once, as with WORKERS=2) deliver everything, each exactly once.
    const [a, b] = [worker(), worker()];
    await Promise.all([a.runUntilIdle(), b.runUntilIdle()]);
    expect(await pendingRows()).to.equal(0);

    const kariInApp = await inApp(self, 'kari-nordmann');
    const fresh = kariInApp.filter((n) => [msg.id, offer.id, request.id].some((id) => focusOf(n)?.endsWith(`/${id}`)));
    expect(fresh.map((n) => `${eventOf(n)} ${focusOf(n)}`).sort()).to.deep.equal([
      `earlier-time-offer Task/${offer.id}`, `new-message Communication/${msg.id}`, `request-answered Task/${request.id}`,
    ]);
    expect(fresh.every((n) => typeof n.code.text === 'string' && n.code.text.length > 0)).to.equal(true);
    const sms = await lines('sms');
    expect(sms.map((l) => `${l.event} ${l.to}`).sort()).to.deep.equal(['new-message +4791234567', 'result-released +4791234567']);
    const email = await lines('email');
    expect(email.map((l) => `${l.event} ${l.to}`).sort()).to.deep.equal([
      'new-message kari.nordmann@example.no', 'proxy-grant-given ola.nordmann@example.no', 'questionnaire kari.nordmann@example.no', 'request-answered kari.nordmann@example.no',
    ]);
    expect(new Set([...sms, ...email].map((l) => l.key)).size).to.equal(sms.length + email.length);
    // No content and never a fødselsnummer leaves in a message.
    const raw = (await fs.readFile(path.join(dir, 'sms.ndjson'), 'utf8')) + (await fs.readFile(path.join(dir, 'email.ndjson'), 'utf8'));
    expect(raw).to.not.match(/(?<!\d)\d{11}(?!\d)/);
    expect(raw).to.not.include('Ferritin');
    expect(raw).to.not.include('Svar på prøvene');
    // Ola, the grantee, sees his notification in his own record; Kari's are not his.
    const olas = await inApp(olaSelf, 'ola-nordmann');
    expect(olas.length).to.equal(olaBefore + 1);
    expect(new Set(olas.map((n) => `${eventOf(n)} ${focusOf(n)}`))).to.deep.equal(new Set(['proxy-grant-given Consent/fullmakt-kari-ola']));
    expect((await call(olaSelf, 'GET', `Basic/${fresh[0]!.id}`)).status).to.equal(404);
    // The questionnaire went by e-mail only, as chosen.
    expect(kariInApp.some((n) => focusOf(n) === `Task/${q.id}`)).to.equal(false);

    // Running again sends nothing more.
    await worker().runUntilIdle();
    expect((await lines('sms')).length).to.equal(sms.length);
    expect((await inApp(self, 'kari-nordmann')).length).to.equal(kariInApp.length);
  });

  it('the portal marks a notification read; a proxy does not see Kari’s notifications', async () => {
    const [n] = await inApp(w.tokens.self, 'kari-nordmann');
    expect(n, 'a notification from the previous test').to.not.equal(undefined);
    const marked = await call(w.tokens.self, 'PUT', `Basic/${n!.id}`, { ...n, extension: [...(n!.extension ?? []), { url: EXT.read, valueDateTime: new Date().toISOString() }] });
    expect(marked.status, JSON.stringify(marked.body)).to.equal(200);
    expect(((marked.body as unknown as Basic).extension ?? []).some((e) => e.url === EXT.read)).to.equal(true);
    expect((await call(w.tokens.full, 'GET', `Basic?subject=Patient/kari-nordmann`)).status).to.equal(403);
  });

  it('a failing channel is retried with backoff, then left as a dead letter in the metrics; channels that worked are not repeated', async () => {
    // A sender folder that cannot be created (a file is in the way): SMS and e-mail fail every time.
    const blocked = path.join(dir, 'blocked');
    await fs.writeFile(blocked, 'not a folder');
    await created(w.tokens.system, { resourceType: 'Communication', status: 'completed', subject: { reference: 'Patient/kari-nordmann' }, recipient: [{ reference: 'Patient/kari-nordmann' }], sender: { reference: 'Practitioner/lege-anne-lund' }, payload: [{ contentString: 'Ny melding' }] } as Resource);
    const before = (await inApp(w.tokens.self, 'kari-nordmann')).length;
    const failing = worker({ senderDir: path.join(blocked, 'sub'), maxAttempts: 3, backoffBaseMs: 5 });
    for (let i = 0; i < 50 && (await pendingRows()) > 0; i++) {
      await failing.runUntilIdle();
      await new Promise((r) => setTimeout(r, 10));
    }
    const rows = await w.s.db.query<{ status: string; attempts: number; last_error: string; done_channels: string[] }>("SELECT status, attempts, last_error, done_channels FROM outbox WHERE kind = 'notification' ORDER BY id DESC LIMIT 1");
    expect(rows[0]!.status).to.equal('dead');
    expect(Number(rows[0]!.attempts)).to.equal(3);
    expect(rows[0]!.last_error).to.match(/ENOTDIR|EEXIST|not a directory/i);
    expect(rows[0]!.done_channels).to.deep.equal(['in-app']);
    // In-app was delivered once although the row was tried three times.
    expect((await inApp(w.tokens.self, 'kari-nordmann')).length).to.equal(before + 1);
    expect(await depth(w.s.db)).to.deep.include({ kind: 'notification', status: 'dead', count: 1 });
  });

  it('the development senders refuse a message that carries an 11-digit number', async () => {
    const s = fileSenders(dir);
    let refused: Error | null = null;
    await s.sms.send({ key: 'x:sms', channel: 'sms', to: '12847502159', event: 'new-message', text: 't', link: 'http://localhost' }).catch((e: Error) => (refused = e));
    expect(refused).to.be.instanceOf(Error);
    expect((await lines('sms')).some((l) => l.key === 'x:sms')).to.equal(false);
  });

  it('an event is written in the same transaction as its change: a refused write leaves no outbox row', async () => {
    const count = async () => Number((await w.s.db.query<{ n: string | number }>('SELECT count(*) AS n FROM outbox'))[0]!.n);
    const n0 = await count();
    // A transaction whose second entry fails rolls the message (and its event) back.
    const res = await call(w.tokens.system, 'POST', '', { resourceType: 'Bundle', type: 'transaction', entry: [
      { request: { method: 'POST', url: 'Communication' }, resource: { resourceType: 'Communication', status: 'completed', subject: { reference: 'Patient/kari-nordmann' }, recipient: [{ reference: 'Patient/kari-nordmann' }], sender: { reference: 'Practitioner/lege-anne-lund' } } },
      { request: { method: 'PUT', url: 'Patient/kari-nordmann' }, resource: { resourceType: 'Patient', id: 'kari-nordmann', birthDate: 'not a date' } },
    ] });
    expect(res.status).to.be.within(400, 499);
    expect(await count()).to.equal(n0);
    await w.s.repo.create({ resourceType: 'Communication', status: 'completed', subject: { reference: 'Patient/kari-nordmann' }, recipient: [{ reference: 'Patient/kari-nordmann' }], sender: { reference: 'Organization/x' } } as Resource, SYSTEM_ACCESS);
    expect(await count()).to.equal(n0 + 1);
  });
});
