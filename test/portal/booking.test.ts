/**
 * Booking as the portal uses it (issue 12), over HTTP with real tokens: book from a free Slot,
 * conflicts and business rules, cancel before and after the cut-off, reschedule in one
 * transaction, and any number of simultaneous bookings of one slot giving exactly one 201.
 */
import { expect } from 'chai';
import type { Appointment, Bundle, HealthcareService, Schedule, Slot } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import { buildWorld, type World } from '../access/world.js';
import { call, diag } from './http.js';

const KARI = { reference: 'Patient/kari-nordmann' };
const booking = (slot: string, extra: Partial<Appointment> = {}): Appointment => ({
  resourceType: 'Appointment', status: 'booked', slot: [{ reference: `Slot/${slot}` }], participant: [{ actor: KARI, status: 'accepted' }], ...extra,
});

describe('booking appointments from slots (issue 12)', function () {
  this.timeout(600_000);
  let w: World;
  const kari = () => w.tokens.self;
  const slotStatus = async (id: string) => (await w.s.repo.read<Slot>('Slot', id, SYSTEM_ACCESS)).status;
  /** A slot of the GP's schedule at `start` (for times the demo does not have, e.g. within the cut-off). */
  const addSlot = async (start: Date, schedule = 'timebok-fastlege-anne-lund') =>
    (await w.s.repo.create<Slot>({ resourceType: 'Slot', schedule: { reference: `Schedule/${schedule}` }, status: 'free', start: start.toISOString(), end: new Date(start.getTime() + 1_800_000).toISOString() }, SYSTEM_ACCESS)).resource.id!;

  before(async () => {
    w = await buildWorld();
  });
  after(() => w?.s.close());

  it('free slots are found by ordinary search on the service\'s schedule', async () => {
    const r = await call(w, kari(), 'GET', 'Slot?schedule.actor=HealthcareService/fastlege-anne-lund&status=free&start=ge2030-03-01&_count=100');
    expect(r.status, diag(r)).to.equal(200);
    expect(r.body.total).to.be.greaterThan(50);
    expect(r.body.entry.every((e: { resource: Slot }) => e.resource.status === 'free')).to.equal(true);
    const bySchedule = await call(w, kari(), 'GET', 'Slot?schedule=Schedule/timebok-fastlege-anne-lund&status=free&start=ge2030-03-01&_count=100');
    expect(bySchedule.body.total).to.equal(r.body.total);
  });

  it('a service\'s Schedule is reference data (row 19); a Schedule naming a patient stays in that patient\'s record', async () => {
    const service = await call(w, kari(), 'GET', 'Schedule/timebok-fastlege-anne-lund');
    expect(service.status, diag(service)).to.equal(200);
    const emmas = (await w.s.repo.create<Schedule>({ resourceType: 'Schedule', actor: [{ reference: 'Patient/emma-johansen' }] }, SYSTEM_ACCESS)).resource;
    const r = await call(w, kari(), 'GET', `Schedule/${emmas.id}`);
    expect(r.status, diag(r)).to.equal(404);
    const search = await call(w, kari(), 'GET', `Schedule?_id=${emmas.id},timebok-fastlege-anne-lund`);
    expect(search.body.entry.map((e: { resource: Schedule }) => e.resource.id)).to.deep.equal(['timebok-fastlege-anne-lund']);
  });

  it('book a free slot → 201, time copied from the slot, service and video link added, slot busy', async () => {
    const r = await call(w, kari(), 'POST', 'Appointment', booking('fastlege-2030-03-11-0930', { start: '2031-01-01T00:00:00Z', end: '2031-01-01T01:00:00Z' }));
    expect(r.status, diag(r)).to.equal(201);
    expect(Date.parse(r.body.start)).to.equal(Date.parse('2030-03-11T09:30:00+01:00'));
    expect(r.body.participant.map((p: { actor: { reference: string } }) => p.actor.reference)).to.include('HealthcareService/fastlege-anne-lund');
    expect(r.body.extension.find((e: { url: string }) => e.url.endsWith('/video-link')).valueUrl).to.equal(`https://video.helsebro.no/rom/${r.body.id}`);
    expect(await slotStatus('fastlege-2030-03-11-0930')).to.equal('busy');
  });

  it('book a busy slot → 409 conflict, nothing stored', async () => {
    const before = await call(w, kari(), 'GET', 'Appointment?_summary=count');
    const r = await call(w, kari(), 'POST', 'Appointment', booking('fastlege-2030-03-11-0930'));
    expect(r.status, diag(r)).to.equal(409);
    expect(r.body.issue[0].code).to.equal('conflict');
    expect((await call(w, kari(), 'GET', 'Appointment?_summary=count')).body.total).to.equal(before.body.total);
  });

  it('a service that is not self-bookable → 422 business-rule pointing at a request; the request itself is accepted', async () => {
    const r = await call(w, kari(), 'POST', 'Appointment', booking('fysio-2030-03-05-1300'));
    expect(r.status, diag(r)).to.equal(422);
    expect(r.body.issue[0].code).to.equal('business-rule');
    expect(r.body.issue[0].diagnostics).to.match(/request.*proposed/);
    expect(await slotStatus('fysio-2030-03-05-1300')).to.equal('free');
    const request = await call(w, kari(), 'POST', 'Appointment', { ...booking('fysio-2030-03-05-1300'), status: 'proposed' });
    expect(request.status, diag(request)).to.equal(201);
    expect(await slotStatus('fysio-2030-03-05-1300'), 'a request does not take the slot').to.equal('free');
  });

  it('referral required and no active ServiceRequest → 422; with one → 201', async () => {
    const service = (await w.s.repo.create<HealthcareService>({
      resourceType: 'HealthcareService', name: 'Hudlege', extension: [{ url: 'https://fhir.helsebro.no/StructureDefinition/booking-rules', extension: [{ url: 'selfBooking', valueBoolean: true }, { url: 'referralRequired', valueBoolean: true }] }],
    }, SYSTEM_ACCESS)).resource;
    const schedule = (await w.s.repo.create<Schedule>({ resourceType: 'Schedule', actor: [{ reference: `HealthcareService/${service.id}` }] }, SYSTEM_ACCESS)).resource;
    const slot = await addSlot(new Date('2030-05-02T08:00:00Z'), schedule.id);
    const refused = await call(w, kari(), 'POST', 'Appointment', booking(slot));
    expect(refused.status, diag(refused)).to.equal(422);
    expect(refused.body.issue[0].diagnostics).to.match(/referral/);
    await w.s.repo.create({ resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject: KARI, performer: [{ reference: `HealthcareService/${service.id}` }] }, SYSTEM_ACCESS);
    const booked = await call(w, kari(), 'POST', 'Appointment', booking(slot));
    expect(booked.status, diag(booked)).to.equal(201);
  });

  it('a citizen cannot create a booked appointment without a slot, nor move one by editing its time', async () => {
    const noSlot = await call(w, kari(), 'POST', 'Appointment', { resourceType: 'Appointment', status: 'booked', start: '2030-03-20T08:00:00Z', end: '2030-03-20T08:30:00Z', participant: [{ actor: KARI, status: 'accepted' }] });
    expect(noSlot.status, diag(noSlot)).to.equal(422);
    const mine = await call(w, kari(), 'POST', 'Appointment', booking('fastlege-2030-03-12-1000'));
    const moved = await call(w, kari(), 'PUT', `Appointment/${mine.body.id}`, { ...mine.body, start: '2030-03-01T08:00:00Z' });
    expect(moved.status, diag(moved)).to.equal(422);
    expect(moved.body.issue[0].expression).to.deep.equal(['Appointment.start']);
  });

  it('cancel before the cut-off → 200 and the slot is free again (PATCH)', async () => {
    const mine = await call(w, kari(), 'POST', 'Appointment', booking('fastlege-2030-03-13-1000'));
    expect(await slotStatus('fastlege-2030-03-13-1000')).to.equal('busy');
    const r = await call(w, kari(), 'PATCH', `Appointment/${mine.body.id}`, [
      { op: 'replace', path: '/status', value: 'cancelled' }, { op: 'add', path: '/cancelationReason', value: { text: 'Kan ikke komme' } },
    ], 'application/json-patch+json');
    expect(r.status, diag(r)).to.equal(200);
    expect(await slotStatus('fastlege-2030-03-13-1000')).to.equal('free');
  });

  it('cancel after the cut-off → 422 naming the cancel request; the slot stays busy', async () => {
    const slot = await addSlot(new Date(Date.now() + 3 * 3_600_000));
    const mine = await call(w, w.tokens.system, 'POST', 'Appointment', booking(slot));
    expect(mine.status, diag(mine)).to.equal(201);
    const r = await call(w, kari(), 'PUT', `Appointment/${mine.body.id}`, { ...mine.body, status: 'cancelled' });
    expect(r.status, diag(r)).to.equal(422);
    expect(r.body.issue[0].code).to.equal('business-rule');
    expect(r.body.issue[0].diagnostics).to.match(/cancel-appointment/);
    expect(await slotStatus(slot)).to.equal('busy');
  });

  it('a service without self-cancel → 422, even long before the appointment', async () => {
    const mine = await call(w, w.tokens.system, 'POST', 'Appointment', booking('fysio-2030-03-07-1300'));
    expect(mine.status, diag(mine)).to.equal(201);
    const r = await call(w, kari(), 'PUT', `Appointment/${mine.body.id}`, { ...mine.body, status: 'cancelled' });
    expect(r.status, diag(r)).to.equal(422);
    expect(await slotStatus('fysio-2030-03-07-1300')).to.equal('busy');
  });

  it('a Standard proxy books but does not cancel (A2)', async () => {
    const r = await call(w, w.tokens.standard, 'POST', 'Appointment', booking('vaksine-2030-03-06-1500'));
    expect(r.status, diag(r)).to.equal(201);
    const cancel = await call(w, w.tokens.standard, 'PUT', `Appointment/${r.body.id}`, { ...r.body, status: 'cancelled' });
    expect(cancel.status).to.equal(403);
    expect(await slotStatus('vaksine-2030-03-06-1500')).to.equal('busy');
  });

  it('reschedule: one transaction books the new slot and cancels the old appointment', async () => {
    const old = await call(w, kari(), 'POST', 'Appointment', booking('fastlege-2030-03-18-0900'));
    const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: [
      { fullUrl: 'urn:uuid:0f6f3d7e-0000-4000-8000-000000000001', resource: booking('fastlege-2030-03-19-0900'), request: { method: 'POST', url: 'Appointment' } },
      { resource: { ...old.body, status: 'cancelled', cancelationReason: { text: 'Flyttet' } } as Appointment, request: { method: 'PUT', url: `Appointment/${old.body.id}` } },
    ] };
    const r = await call(w, kari(), 'POST', '', bundle);
    expect(r.status, diag(r)).to.equal(200);
    expect(await slotStatus('fastlege-2030-03-19-0900')).to.equal('busy');
    expect(await slotStatus('fastlege-2030-03-18-0900')).to.equal('free');
  });

  it('reschedule is atomic: when cancelling the old one is refused, the new slot is not taken', async () => {
    const slot = await addSlot(new Date(Date.now() + 2 * 3_600_000));
    const old = await call(w, w.tokens.system, 'POST', 'Appointment', booking(slot));
    const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: [
      { resource: booking('fastlege-2030-03-20-0900'), request: { method: 'POST', url: 'Appointment' } },
      { resource: { ...old.body, status: 'cancelled' } as Appointment, request: { method: 'PUT', url: `Appointment/${old.body.id}` } },
    ] };
    const r = await call(w, kari(), 'POST', '', bundle);
    expect(r.status, diag(r)).to.equal(422);
    expect(await slotStatus('fastlege-2030-03-20-0900')).to.equal('free');
    expect(await slotStatus(slot)).to.equal('busy');
  });

  it('50 simultaneous bookings of one slot → exactly one 201, the rest 409', async () => {
    const slot = 'fastlege-2030-03-21-1030';
    const results = await Promise.all(Array.from({ length: 50 }, () => call(w, kari(), 'POST', 'Appointment', booking(slot))));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201), JSON.stringify(statuses)).to.have.length(1);
    expect(statuses.filter((s) => s === 409)).to.have.length(49);
    const holders = await call(w, w.tokens.system, 'GET', `Appointment?slot=Slot/${slot}&status=booked`);
    expect(holders.body.total).to.equal(1);
  });
});
