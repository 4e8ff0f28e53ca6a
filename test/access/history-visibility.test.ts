/**
 * Issue 10, hole 1 (and the history cases of hole 8): visibility is decided per version shown
 * (access-spec §5.1). vread and instance, type and system `_history` never show a version the caller
 * could not have seen had it been current: a personal note stays hidden from systems and clinicians
 * after deletion, a held result deleted before release stays hidden from the patient side, the
 * history of a released result hides its held versions, and a deleted resource the caller could
 * never see answers exactly like an id that never existed. Over HTTP with real tokens.
 */
import { expect } from 'chai';
import type { Appointment, Bundle, DocumentReference, Observation, OperationOutcome, Resource } from 'fhir/r4';
import { CS } from '../../src/access/policy.js';
import { exchange, launch, registerApp, APP_REDIRECT } from '../auth/support.js';
import { buildWorld, type TestedActor, type World } from './world.js';

type Who = TestedActor | 'clinician';
/** What a response body may be here: a Bundle, an OperationOutcome or an Observation. */
type Body = Partial<Omit<Bundle, 'resourceType'>> & Partial<Pick<OperationOutcome, 'issue'>> & Pick<Partial<Observation>, 'valueQuantity'> & { resourceType?: string };
interface Answer {
  status: number;
  body: Body;
}

describe('history shows only the versions the caller may see (access-spec §5.1, issue 10 hole 1)', function () {
  this.timeout(300_000);
  let w: World;
  let clinician: string;
  let since: string;
  const token = (who: Who) => (who === 'clinician' ? clinician : w.tokens[who]);

  async function call(who: Who, method: string, path: string, body?: unknown): Promise<Answer> {
    const res = await fetch(`${w.s.fhirBase}/${path}`, {
      method,
      headers: { authorization: `Bearer ${token(who)}`, accept: 'application/fhir+json', ...(body ? { 'content-type': 'application/fhir+json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as Answer['body'] };
  }
  const get = (who: Who, path: string) => call(who, 'GET', path);
  async function write<T extends Resource>(who: Who, method: 'POST' | 'PUT', resource: T): Promise<T> {
    const res = await call(who, method, method === 'POST' ? resource.resourceType : `${resource.resourceType}/${resource.id}`, resource);
    expect(res.status, JSON.stringify(res.body)).to.be.oneOf([200, 201]);
    return res.body as unknown as T;
  }
  async function remove(who: Who, type: string, id: string): Promise<void> {
    const res = await call(who, 'DELETE', `${type}/${id}`);
    expect(res.status, JSON.stringify(res.body)).to.be.oneOf([200, 204]);
  }
  /** `Type/id/_history/vid` of every entry of a history Bundle. */
  const versions = (b: Body) => (b.entry ?? []).map((e) => `${e.request?.url.split('/')[0]}/${e.fullUrl!.split('/').pop()}/${e.response?.etag?.replace(/\D/g, '')}`);
  /** A 404 for `path` must be indistinguishable from the same request for an id that never existed. */
  async function answersLikeMissing(who: Who, path: string, id: string): Promise<void> {
    const missing = 'never-existed-' + id.slice(0, 8);
    const [a, b] = [await get(who, path), await get(who, path.replace(id, missing))];
    expect(a.status, `${who} ${path}`).to.equal(404);
    expect(b.status).to.equal(404);
    expect(JSON.stringify(a.body).replaceAll(id, 'X'), `${who} ${path}`).to.equal(JSON.stringify(b.body).replaceAll(missing, 'X'));
  }

  const note = (text: string): DocumentReference => ({
    resourceType: 'DocumentReference', status: 'current', subject: { reference: 'Patient/kari-nordmann' },
    category: [{ coding: [{ system: CS.documentCategory, code: 'personal-note' }] }],
    content: [{ attachment: { contentType: 'text/plain', data: Buffer.from(text).toString('base64'), title: text } }],
  });
  const result = (status: 'held' | 'released', value: number): Observation => ({
    resourceType: 'Observation', status: 'final', meta: { tag: [{ system: CS.releaseStatus, code: status }] },
    code: { coding: [{ system: 'http://loinc.org', code: '2093-3' }], text: 'Kolesterol' }, subject: { reference: 'Patient/kari-nordmann' },
    valueQuantity: { value, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
  });

  let noteId: string;
  let heldId: string;
  let releasedId: string;

  before(async () => {
    w = await buildWorld();
    const app = await registerApp(w.s, {
      client_name: 'Journal', redirect_uris: [APP_REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'],
      scope: 'openid fhirUser user/*.rs',
    });
    const t = await exchange(w.s, app.client_id, await launch(w.s, { clientId: app.client_id, pid: '', hpr: '9999001', scope: 'openid fhirUser user/*.rs' }));
    expect(t.status).to.equal(200);
    clinician = String(t.body.access_token);
    since = new Date(Date.now() - 1000).toISOString();

    // Kari writes a personal note, changes it, deletes it (S16, S17).
    const n1 = await write('self', 'POST', note('Hemmelig notat v1'));
    noteId = n1.id!;
    await write('self', 'PUT', { ...note('Hemmelig notat v2'), id: noteId });
    await remove('self', 'DocumentReference', noteId);

    // A result held for review, changed and deleted before it was ever released (S18).
    const h1 = await write('system', 'POST', result('held', 11.1));
    heldId = h1.id!;
    await write('system', 'PUT', { ...result('held', 11.2), id: heldId });
    await remove('system', 'Observation', heldId);

    // A result held twice, then released.
    const r1 = await write('system', 'POST', result('held', 7.1));
    releasedId = r1.id!;
    await write('system', 'PUT', { ...result('held', 7.2), id: releasedId });
    await write('system', 'PUT', { ...result('released', 7.3), id: releasedId });
  });
  after(() => w?.s.close());

  it('a deleted personal note is invisible to the system client and to clinicians: vread, instance, type and system history', async () => {
    for (const who of ['system', 'clinician'] as const) {
      for (const path of [`DocumentReference/${noteId}`, `DocumentReference/${noteId}/_history`, `DocumentReference/${noteId}/_history/1`, `DocumentReference/${noteId}/_history/2`, `DocumentReference/${noteId}/_history/3`]) {
        await answersLikeMissing(who, path, noteId);
      }
      for (const path of [`DocumentReference/_history?_since=${encodeURIComponent(since)}&_count=1000`, `_history?_since=${encodeURIComponent(since)}&_count=1000`]) {
        const h = await get(who, path);
        expect(h.status, `${who} ${path}`).to.equal(200);
        // (The access log may name the note's id, S23; no version of the note itself is shown.)
        expect(versions(h.body).filter((v) => v.includes(noteId)), `${who} ${path}`).to.deep.equal([]);
        expect(JSON.stringify(h.body)).not.to.include(Buffer.from('Hemmelig notat v1').toString('base64'));
      }
    }
    // The system-level history is not empty: the results written in the same window are there.
    const sys = await get('system', `_history?_since=${encodeURIComponent(since)}&_count=1000`);
    expect(versions(sys.body)).to.include.members([`Observation/${releasedId}/3`, `Observation/${heldId}/1`, `Observation/${heldId}/3`]);
  });

  it('the note’s author still sees every version, including the deletion (410 on its vread)', async () => {
    const h = await get('self', `DocumentReference/${noteId}/_history`);
    expect(h.status).to.equal(200);
    expect(versions(h.body)).to.deep.equal([`DocumentReference/${noteId}/3`, `DocumentReference/${noteId}/2`, `DocumentReference/${noteId}/1`]);
    expect(h.body.entry![0]!.request!.method).to.equal('DELETE');
    expect((await get('self', `DocumentReference/${noteId}/_history/1`)).status).to.equal(200);
    expect((await get('self', `DocumentReference/${noteId}/_history/3`)).status).to.equal(410);
    expect((await get('self', `DocumentReference/${noteId}`)).status).to.equal(410);
    const type = await get('self', `DocumentReference/_history?_since=${encodeURIComponent(since)}&_count=1000`);
    expect(versions(type.body)).to.include.members([`DocumentReference/${noteId}/1`, `DocumentReference/${noteId}/3`]);
    // A Full proxy may see notes (S7), so she sees their history too.
    expect(versions((await get('full', `DocumentReference/${noteId}/_history`)).body)).to.have.length(3);
  });

  it('a held result deleted before release stays invisible to the patient side (vread, instance, type, system history)', async () => {
    for (const who of ['self', 'standard', 'full'] as const) {
      for (const path of [`Observation/${heldId}`, `Observation/${heldId}/_history`, `Observation/${heldId}/_history/1`, `Observation/${heldId}/_history/2`, `Observation/${heldId}/_history/3`]) {
        await answersLikeMissing(who, path, heldId);
      }
      for (const path of [`Observation/_history?_since=${encodeURIComponent(since)}&_count=1000`, `_history?_since=${encodeURIComponent(since)}&_count=1000`]) {
        const h = await get(who, path);
        expect(h.status, `${who} ${path}`).to.equal(200);
        expect(versions(h.body).filter((v) => v.includes(heldId)), `${who} ${path}`).to.deep.equal([]);
        expect(JSON.stringify(h.body), `${who} ${path}`).not.to.match(/"value":11\.[12]\b/);
        // …while the released version of the other result, written in the same window, is there.
        expect(versions(h.body), `${who} ${path}`).to.include(`Observation/${releasedId}/3`);
      }
    }
    // Clinical systems see the whole story, the deletion included.
    const all = await get('system', `Observation/${heldId}/_history`);
    expect(versions(all.body)).to.deep.equal([`Observation/${heldId}/3`, `Observation/${heldId}/2`, `Observation/${heldId}/1`]);
    expect((await get('clinician', `Observation/${heldId}/_history/2`)).status).to.equal(200);
  });

  it('the history of a released result does not show its held versions to the patient side', async () => {
    for (const who of ['self', 'standard', 'read', 'full'] as const) {
      expect((await get(who, `Observation/${releasedId}`)).status, who).to.equal(200);
      const h = await get(who, `Observation/${releasedId}/_history`);
      expect(h.status, who).to.equal(200);
      expect(versions(h.body), who).to.deep.equal([`Observation/${releasedId}/3`]);
      expect(JSON.stringify(h.body)).not.to.match(/"value":7\.[12]\b/);
      const v3 = await get(who, `Observation/${releasedId}/_history/3`);
      expect(v3.status, who).to.equal(200);
      expect(v3.body.valueQuantity).to.deep.include({ value: 7.3 });
      for (const v of [1, 2]) {
        const held = await get(who, `Observation/${releasedId}/_history/${v}`);
        expect(held.status, `${who} v${v}`).to.equal(404);
        expect(JSON.stringify(held.body)).not.to.include('7.');
      }
      for (const path of [`Observation/_history?_since=${encodeURIComponent(since)}&_count=1000`, `_history?_since=${encodeURIComponent(since)}&_count=1000`]) {
        const mine = versions((await get(who, path)).body).filter((v) => v.startsWith(`Observation/${releasedId}/`));
        expect(mine, `${who} ${path}`).to.deep.equal([`Observation/${releasedId}/3`]);
      }
    }
    const all = await get('clinician', `Observation/${releasedId}/_history`);
    expect(versions(all.body)).to.deep.equal([3, 2, 1].map((v) => `Observation/${releasedId}/${v}`));
  });

  it('a Standard proxy sees history only of what the level shows: no notes at all, no previous appointments', async () => {
    // Standard holds no DocumentReference at all: the type is outside the token (403, access-spec §0.4).
    expect((await get('standard', `DocumentReference/${noteId}/_history`)).status).to.equal(403);
    expect((await get('standard', 'DocumentReference/_history')).status).to.equal(403);
    // An appointment that was upcoming (Standard sees it) and is now in the past (Standard does not, S4).
    const upcoming: Appointment = { resourceType: 'Appointment', status: 'booked', start: '2099-01-02T08:00:00Z', end: '2099-01-02T08:30:00Z', participant: [{ actor: { reference: 'Patient/kari-nordmann' }, status: 'accepted' }] };
    const a1 = await write('system', 'POST', upcoming);
    await write('system', 'PUT', { ...upcoming, id: a1.id, status: 'fulfilled', start: '2020-01-02T08:00:00Z', end: '2020-01-02T08:30:00Z' });
    expect((await get('standard', `Appointment/${a1.id}`)).status).to.equal(404);
    const h = await get('standard', `Appointment/${a1.id}/_history`);
    expect(h.status).to.equal(200);
    expect(versions(h.body)).to.deep.equal([`Appointment/${a1.id}/1`]);
    expect((await get('standard', `Appointment/${a1.id}/_history/2`)).status).to.equal(404);
    const type = await get('standard', `Appointment/_history?_since=${encodeURIComponent(since)}&_count=1000`);
    expect(versions(type.body).filter((v) => v.includes(a1.id!))).to.deep.equal([`Appointment/${a1.id}/1`]);
    // Kari herself sees previous appointments, so both versions.
    expect(versions((await get('self', `Appointment/${a1.id}/_history`)).body)).to.have.length(2);
  });

  it('search sees only current versions: an old version’s values no longer match', async () => {
    const held = await get('system', `Observation?_id=${releasedId}&_tag=${encodeURIComponent(`${CS.releaseStatus}|held`)}`);
    expect(held.body.entry ?? []).to.have.length(0);
    const released = await get('system', `Observation?_id=${releasedId}&_tag=${encodeURIComponent(`${CS.releaseStatus}|released`)}`);
    expect((released.body.entry ?? []).map((e) => e.resource!.id)).to.deep.equal([releasedId]);
    const notHeld = await get('system', `Observation?_id=${releasedId}&_tag:not=${encodeURIComponent(`${CS.releaseStatus}|held`)}`);
    expect(notHeld.body.entry ?? []).to.have.length(1);
    expect((await get('system', `Observation?_id=${releasedId}&value-quantity=7.1`)).body.entry ?? []).to.have.length(0);
    expect((await get('system', `Observation?_id=${releasedId}&value-quantity=7.3`)).body.entry ?? []).to.have.length(1);
    expect((await get('system', `Observation?_id=${heldId}`)).body.entry ?? []).to.have.length(0);
    expect((await get('self', `Observation?_id=${releasedId}&_sort=-date`)).body.entry ?? []).to.have.length(1);
  });

  it('_count=0 is an empty history Bundle and a _before that is no cursor is a 400 naming it (issue 10 hole 8)', async () => {
    const zero = await get('system', 'Patient/_history?_count=0');
    expect(zero.status).to.equal(200);
    expect(zero.body.resourceType).to.equal('Bundle');
    expect(zero.body.type).to.equal('history');
    expect(zero.body.entry).to.equal(undefined);
    expect((zero.body.link ?? []).map((l) => l.relation)).to.deep.equal(['self']);
    expect((await get('self', 'Patient/kari-nordmann/_history?_count=0')).status).to.equal(200);
    await answersLikeMissing('self', `Observation/${heldId}/_history?_count=0`, heldId);
    for (const bad of ['1e21', '99999999999999999999', '-1', 'abc', '1.5']) {
      const r = await get('system', `Patient/_history?_before=${encodeURIComponent(bad)}`);
      expect(r.status, bad).to.equal(400);
      expect(r.body.resourceType).to.equal('OperationOutcome');
      expect(r.body.issue![0]!.diagnostics, bad).to.include('_before');
      expect(r.body.issue![0]!.expression).to.deep.equal(['_before']);
    }
    for (const bad of ['-1', '1e3', 'x']) {
      const r = await get('system', `_history?_count=${encodeURIComponent(bad)}`);
      expect(r.status, bad).to.equal(400);
      expect(r.body.issue![0]!.diagnostics, bad).to.include('_count');
    }
    const farPast = await get('system', 'Patient/_history?_since=-200000-01-01T00:00:00Z');
    expect(farPast.status).to.equal(400);
    expect(farPast.body.issue![0]!.diagnostics).to.include('_since');
    // A valid cursor pages on.
    const first = await get('system', `Observation/${releasedId}/_history?_count=1`);
    const next = first.body.link!.find((l) => l.relation === 'next')!.url.split('/fhir/')[1]!;
    expect(versions((await get('system', next)).body)).to.deep.equal([`Observation/${releasedId}/2`]);
  });
});
