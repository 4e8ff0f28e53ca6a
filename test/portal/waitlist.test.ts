/**
 * Earlier-time offers (issue 12; access-spec §5.3 row 21, A15), over HTTP with real tokens: a freed
 * slot is offered to every waitlisted patient of the service, the first accept wins, a later accept
 * answers 409 with its Task cancelled, Standard proxies cannot accept, offers expire.
 */
import { expect } from 'chai';
import type { Appointment, Slot, Task } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import { expireOffers } from '../../src/portal/booking/offer-expiry.js';
import { buildWorld, portalToken, type World } from '../access/world.js';
import { call, diag } from './http.js';

const OFFER = 'https://fhir.helsebro.no/CodeSystem/task-code|earlier-time-offer';
const WAITLIST = [{ url: 'https://fhir.helsebro.no/StructureDefinition/waitlist', valueBoolean: true }];

describe('waitlist and earlier-time offers (issue 12)', function () {
  this.timeout(600_000);
  let w: World;
  let ola: string;
  const read = <T extends Slot | Task | Appointment>(type: T['resourceType'], id: string) => w.s.repo.read<T>(type, id, SYSTEM_ACCESS);
  const offersFor = async (slot: string) => (await call(w, w.tokens.system, 'GET', `Task?code=${OFFER}&focus=Slot/${slot}&_count=100`)).body.entry?.map((e: { resource: Task }) => e.resource) ?? [];
  /** The clinic books `patient` into `slot` (optionally on the waitlist) and returns the appointment. */
  const clinicBooks = async (patient: string, slot: string, waitlist = false) => {
    const r = await call(w, w.tokens.system, 'POST', 'Appointment', {
      resourceType: 'Appointment', status: 'booked', slot: [{ reference: `Slot/${slot}` }], participant: [{ actor: { reference: `Patient/${patient}` }, status: 'accepted' }],
      ...(waitlist ? { extension: WAITLIST } : {}),
    });
    expect(r.status, diag(r)).to.equal(201);
    return r.body as Appointment;
  };
  const cancel = (a: Appointment, token = w.tokens.system) => call(w, token, 'PUT', `Appointment/${a.id}`, { ...a, status: 'cancelled' });

  before(async () => {
    w = await buildWorld();
    ola = await portalToken(w.s, '03897302801', 'ola-nordmann');
  });
  after(() => w?.s.close());

  it('the demo has Kari waitlisted with an open offer she can see', async () => {
    const r = await call(w, w.tokens.self, 'GET', `Task?code=${OFFER}&status=requested`);
    expect(r.status, diag(r)).to.equal(200);
    expect(r.body.entry.map((e: { resource: Task }) => e.resource.id)).to.include('kari-tilbud-tidligere-time');
  });

  it('a slot freed by a cancellation is offered to each waitlisted patient with a later appointment', async () => {
    await clinicBooks('ola-nordmann', 'fastlege-2030-03-22-1030', true);
    const early = await clinicBooks('ingrid-nordmann', 'fastlege-2030-03-08-0900');
    expect((await cancel(early)).status).to.equal(200);
    expect((await read<Slot>('Slot', 'fastlege-2030-03-08-0900')).status).to.equal('free');
    const offers = await offersFor('fastlege-2030-03-08-0900');
    const patients = offers.map((t: Task) => t.for?.reference).sort();
    expect(patients).to.deep.equal(['Patient/kari-nordmann', 'Patient/ola-nordmann']);
    for (const t of offers as Task[]) {
      expect(t.status).to.equal('requested');
      expect(Date.parse(t.restriction!.period!.end!)).to.be.greaterThan(Date.now());
    }
  });

  it('a Standard proxy sees the offer but cannot accept it (A15)', async () => {
    const offer = (await offersFor('fastlege-2030-03-08-0900')).find((t: Task) => t.for?.reference === 'Patient/kari-nordmann') as Task;
    const seen = await call(w, w.tokens.standard, 'GET', `Task/${offer.id}`);
    expect(seen.status).to.equal(200);
    const r = await call(w, w.tokens.standard, 'PUT', `Task/${offer.id}`, { ...seen.body, status: 'accepted' });
    expect(r.status, diag(r)).to.equal(403);
    expect((await read<Task>('Task', offer.id!)).status).to.equal('requested');
  });

  it('a citizen answers an offer by its status only', async () => {
    const offer = (await offersFor('fastlege-2030-03-08-0900')).find((t: Task) => t.for?.reference === 'Patient/kari-nordmann') as Task;
    const r = await call(w, w.tokens.self, 'PUT', `Task/${offer.id}`, { ...offer, focus: { reference: 'Slot/fastlege-2030-03-04-0900' }, status: 'accepted' });
    expect(r.status, diag(r)).to.equal(422);
    expect(r.body.issue[0].expression).to.deep.equal(['Task.focus']);
  });

  it('two simultaneous accepts of one slot → one 200, one 409 whose Task ends cancelled ("taken")', async () => {
    const offers = (await offersFor('fastlege-2030-03-08-0900')) as Task[];
    const mine = offers.find((t) => t.for?.reference === 'Patient/kari-nordmann')!;
    const his = offers.find((t) => t.for?.reference === 'Patient/ola-nordmann')!;
    const [a, b] = await Promise.all([
      call(w, w.tokens.self, 'PUT', `Task/${mine.id}`, { ...mine, status: 'accepted' }),
      call(w, ola, 'PUT', `Task/${his.id}`, { ...his, status: 'accepted' }),
    ]);
    expect([a.status, b.status].sort(), `${diag(a)} ${diag(b)}`).to.deep.equal([200, 409]);
    const [winner, loser] = a.status === 200 ? [mine, his] : [his, mine];
    const lost = await read<Task>('Task', loser.id!);
    expect(lost.status).to.equal('cancelled');
    expect(lost.statusReason?.text).to.equal('taken');
    const moved = await read<Appointment>('Appointment', winner.basedOn![0]!.reference!.split('/')[1]!);
    expect(moved.slot?.[0]?.reference).to.equal('Slot/fastlege-2030-03-08-0900');
    expect(Date.parse(moved.start!)).to.equal(Date.parse('2030-03-08T09:00:00+01:00'));
    expect((await read<Slot>('Slot', 'fastlege-2030-03-08-0900')).status).to.equal('busy');
  });

  it('the winner\'s old slot is freed and offered onward; "rejected" changes nothing', async () => {
    const kariApp = await read<Appointment>('Appointment', 'kari-time-2030-04-24');
    const olaOld = 'fastlege-2030-03-22-1030';
    const kariWon = kariApp.slot?.[0]?.reference === 'Slot/fastlege-2030-03-08-0900';
    const freed = kariWon ? 'fastlege-2030-04-24-0900' : olaOld;
    expect((await read<Slot>('Slot', freed)).status).to.equal('free');
    if (kariWon) {
      // Ola's appointment (22 March) is earlier than the freed 24 April slot: no offer for him.
      expect(await offersFor(freed)).to.have.length(0);
    } else {
      const onward = (await offersFor(freed)) as Task[];
      expect(onward.map((t) => t.for?.reference)).to.deep.equal(['Patient/kari-nordmann']);
      const r = await call(w, w.tokens.self, 'PUT', `Task/${onward[0]!.id}`, { ...onward[0], status: 'rejected' });
      expect(r.status, diag(r)).to.equal(200);
      expect((await read<Slot>('Slot', freed)).status).to.equal('free');
      expect((await read<Appointment>('Appointment', 'kari-time-2030-04-24')).slot?.[0]?.reference).to.equal('Slot/fastlege-2030-04-24-0900');
    }
  });

  it('an accept after the expiry → 409 and the offer ends cancelled ("expired")', async () => {
    const early = await clinicBooks('ingrid-nordmann', 'fastlege-2030-03-05-0900');
    await cancel(early);
    const [offer] = (await offersFor('fastlege-2030-03-05-0900')).filter((t: Task) => t.for?.reference === 'Patient/kari-nordmann') as Task[];
    expect(offer, 'Kari is still waitlisted and was offered the slot').to.not.equal(undefined);
    await w.s.repo.update<Task>({ ...offer!, restriction: { period: { end: '2026-01-01T00:00:00Z' } } }, SYSTEM_ACCESS);
    const current = await read<Task>('Task', offer!.id!);
    const r = await call(w, w.tokens.self, 'PUT', `Task/${offer!.id}`, { ...current, status: 'accepted' });
    expect(r.status, diag(r)).to.equal(409);
    const after = await read<Task>('Task', offer!.id!);
    expect([after.status, after.statusReason?.text]).to.deep.equal(['cancelled', 'expired']);
  });

  it('the periodic sweep cancels offers that expired unanswered (injected clock)', async () => {
    const none = await expireOffers(w.s.repo, new Date());
    expect(none.expired, 'nothing has expired yet').to.equal(0);
    const open = (await call(w, w.tokens.system, 'GET', `Task?code=${OFFER}&status=requested&_count=100`)).body.entry?.length ?? 0;
    expect(open).to.be.greaterThan(0);
    const later = await expireOffers(w.s.repo, new Date('2031-01-01T00:00:00Z'));
    expect(later.expired).to.equal(open);
    const left = await call(w, w.tokens.system, 'GET', `Task?code=${OFFER}&status=requested`);
    expect(left.body.total).to.equal(0);
    const demo = await read<Task>('Task', 'kari-tilbud-tidligere-time');
    expect([demo.status, demo.statusReason?.text]).to.deep.equal(['cancelled', 'expired']);
  });
});
