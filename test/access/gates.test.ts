/**
 * The eligibility gates of access-spec §4.2, each at its boundary. The pure gate functions get an
 * injected clock; the live cases (revocation, death, deactivation) run over HTTP with real tokens.
 */
import { expect } from 'chai';
import type { Consent, Patient, RelatedPerson } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import { EXT, parentGates, proxyGates, selfGates } from '../../src/access/gates.js';
import { checkGrantRules } from '../../src/access/grant-rules.js';
import { ceilingFor } from '../../src/access/options.js';
import { FhirError } from '../../src/fhir/errors.js';
import { DNR_SYSTEM, FNR_SYSTEM, syntheticFnr } from '../../src/fhir/validation/fnr.js';
import { birthDateOf } from '../../src/identity/age.js';
import { PORTAL_CLIENT_ID, PORTAL_SCOPE } from '../../src/auth/clients.js';
import { exchange, fhirGet, launch } from '../auth/support.js';
import { buildWorld, portalToken, type World } from './world.js';

/** Noon in Oslo on a calendar day (so the date is the same in UTC and Europe/Oslo). */
const day = (d: string) => new Date(`${d}T11:00:00Z`);
const patient = (birthDate: string, extra: Partial<Patient> = {}): Patient => ({
  resourceType: 'Patient', id: 'p', birthDate, address: [{ use: 'home', line: ['Storgata 12'], postalCode: '0155', city: 'Oslo' }], ...extra,
});
const parent = (extra: Partial<RelatedPerson> = {}): RelatedPerson => ({
  resourceType: 'RelatedPerson', id: 'rp', patient: { reference: 'Patient/p' }, birthDate: '1980-01-01',
  relationship: [{ coding: [{ system: 'http://hl7.no/fhir/CodeSystem/no-basis-parental-responsibility', code: 'felles' }] }],
  address: [{ use: 'home', line: ['Storgata 12'], postalCode: '0155', city: 'Oslo' }], ...extra,
});
const grant = (extra: Partial<Consent> = {}): Consent => ({
  resourceType: 'Consent', status: 'active', patient: { reference: 'Patient/p' },
  scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
  category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
  policyRule: { coding: [{ system: 'https://fhir.helsebro.no/CodeSystem/proxy-level', code: 'full' }] },
  provision: { type: 'permit', actor: [{ role: { text: 'proxy' }, reference: { reference: 'RelatedPerson/rp' } }] }, ...extra,
});
const proxy = (birthDate: string): RelatedPerson => ({ resourceType: 'RelatedPerson', id: 'rp', patient: { reference: 'Patient/p' }, birthDate });

describe('eligibility gates at their boundaries (access-spec §4.2)', () => {
  describe('G5: the proxy must have turned 18', () => {
    it('a proxy aged 17 years and 364 days is refused', () => {
      expect(proxyGates(patient('1970-01-01'), grant(), proxy('2008-06-16'), day('2026-06-14'))).to.deep.include({ ok: false, gate: 'G5' });
    });
    it('a proxy who turns 18 today is let in', () => {
      expect(proxyGates(patient('1970-01-01'), grant(), proxy('2008-06-14'), day('2026-06-14'))).to.deep.equal({ ok: true });
    });
  });

  describe('age comes from the fødselsnummer/D-number, birthDate only without one (access-spec §5.2)', () => {
    const withId = (birthDate: string, idBirth: string, system = FNR_SYSTEM) =>
      patient(birthDate, { identifier: [{ system, value: syntheticFnr(idBirth, 3, system === DNR_SYSTEM) }] });
    it('a child whose fødselsnummer says 16 today but whose stored birthDate says 11 is past G8', () => {
      expect(parentGates(withId('2015-01-01', '2010-06-14'), parent(), [parent()], day('2026-06-14'))).to.deep.include({ ok: false, gate: 'G8' });
    });
    it('a D-number (day + 40) gives the birth date too', () => {
      expect(birthDateOf(withId('1999-01-01', '2010-06-14', DNR_SYSTEM))).to.equal('2010-06-14');
    });
    it('the century comes from the individual number (2000s: 500–999)', () => {
      expect(birthDateOf({ identifier: [{ system: FNR_SYSTEM, value: syntheticFnr('2009-01-18', 1) }] })).to.equal('2009-01-18');
      expect(birthDateOf({ identifier: [{ system: FNR_SYSTEM, value: syntheticFnr('1979-08-14', 1) }] })).to.equal('1979-08-14');
    });
    it('a person without a national identifier falls back to birthDate', () => {
      expect(birthDateOf({ birthDate: '2001-02-03' })).to.equal('2001-02-03');
    });
  });

  describe('G8: parents lose access at 00:00 Europe/Oslo on the 16th birthday (S2)', () => {
    it('the day before the 16th birthday a parent still has access', () => {
      expect(parentGates(patient('2010-06-14'), parent(), [parent()], day('2026-06-13'))).to.deep.equal({ ok: true });
    });
    it('on the 16th birthday the parent has none', () => {
      expect(parentGates(patient('2010-06-14'), parent(), [parent()], day('2026-06-14'))).to.deep.include({ ok: false, gate: 'G8' });
    });
    it('at 23:30 UTC the evening before, it is already the birthday in Oslo', () => {
      expect(parentGates(patient('2010-06-14'), parent(), [parent()], new Date('2026-06-13T23:30:00Z'))).to.deep.include({ ok: false, gate: 'G8' });
    });
    it('the child turning 16 today may log in themself (G14)', () => {
      expect(selfGates(patient('2010-06-14'), null, day('2026-06-14'))).to.deep.equal({ ok: true });
      expect(selfGates(patient('2010-06-14'), null, day('2026-06-13'))).to.deep.include({ ok: false, gate: 'G14' });
    });
  });

  describe('G9–G12: parental responsibility, address and restrictions (S10, S11, S12, S25)', () => {
    const child = patient('2016-05-09');
    it('a foster parent or a relative without foreldreansvar is refused', () => {
      const foster = parent({ relationship: [{ coding: [{ system: 'http://hl7.no/fhir/CodeSystem/no-basis-parental-responsibility', code: 'ukjent' }] }] });
      expect(parentGates(child, foster, [foster], day('2026-06-01'))).to.deep.include({ ok: false, gate: 'G9' });
    });
    it('a child not registered at either parent’s address is refused', () => {
      const away = parent({ address: [{ use: 'home', line: ['Annen vei 1'], postalCode: '5003', city: 'Bergen' }] });
      expect(parentGates(child, away, [away], day('2026-06-01'))).to.deep.include({ ok: false, gate: 'G10' });
    });
    it('the same address as the other parent is enough', () => {
      const away = parent({ id: 'away', address: [{ use: 'home', line: ['Annen vei 1'], postalCode: '5003', city: 'Bergen' }] });
      expect(parentGates(child, away, [away, parent()], day('2026-06-01'))).to.deep.equal({ ok: true });
    });
    for (const code of ['fortrolig', 'strengtFortrolig', 'strengtFortroligUtland']) {
      it(`a ${code} address on the child closes it to parents`, () => {
        const hidden = patient('2016-05-09', { extension: [{ url: EXT.addressProtection, valueCode: code }] });
        expect(parentGates(hidden, parent(), [parent()], day('2026-06-01'))).to.deep.include({ ok: false, gate: 'G11' });
      });
    }
    it('a protected address on the requesting parent closes it too', () => {
      const p = parent({ extension: [{ url: EXT.addressProtection, valueCode: 'fortrolig' }] });
      expect(parentGates(child, p, [p], day('2026-06-01'))).to.deep.include({ ok: false, gate: 'G11' });
    });
    it('a clinician’s whole-account restriction closes it (G12)', () => {
      const restricted = patient('2016-05-09', { meta: { security: [{ system: 'https://fhir.helsebro.no/CodeSystem/proxy-restriction', code: 'no-parent' }] } });
      expect(parentGates(restricted, parent(), [parent()], day('2026-06-01'))).to.deep.include({ ok: false, gate: 'G12' });
    });
  });

  describe('G1, G2, G4 on the grant', () => {
    it('a revoked or expired grant gives nothing', () => {
      expect(proxyGates(patient('1970-01-01'), grant({ status: 'inactive' }), proxy('1970-01-01'), day('2026-06-01'))).to.deep.include({ gate: 'G4' });
      expect(proxyGates(patient('1970-01-01'), grant({ provision: { type: 'permit', period: { end: '2026-05-31' } } }), proxy('1970-01-01'), day('2026-06-01'))).to.deep.include({ gate: 'G4' });
      expect(proxyGates(patient('1970-01-01'), grant({ provision: { type: 'permit', period: { end: '2026-06-01' } } }), proxy('1970-01-01'), day('2026-06-01'))).to.deep.equal({ ok: true });
    });
    it('death and deactivation end a proxy’s access', () => {
      expect(proxyGates(patient('1970-01-01', { deceasedDateTime: '2026-01-01' }), grant(), proxy('1970-01-01'), day('2026-06-01'))).to.deep.include({ gate: 'G1' });
      expect(proxyGates(patient('1970-01-01', { extension: [{ url: EXT.accountState, valueCode: 'deactivated' }] }), grant(), proxy('1970-01-01'), day('2026-06-01'))).to.deep.include({ gate: 'G2' });
    });
  });

  it('proxies get explicit types, never patient/* (access-spec §4.5), and never Consent or AuditEvent', () => {
    for (const level of ['standard', 'read', 'communicate', 'full', 'parent'] as const) {
      const ceiling = ceilingFor(level);
      expect(ceiling, level).not.to.match(/patient\/\*/);
      expect(ceiling, level).not.to.match(/patient\/(Consent|AuditEvent)\./);
    }
    expect(ceilingFor('read')).not.to.match(/Appointment|Communication/);
    expect(ceilingFor('communicate')).to.include('patient/Appointment.cruds'.replace('d', '')).and.not.to.match(/Observation|MedicationStatement/);
  });
});

describe('gates act on live tokens, on the next request (S8, S13, S15)', function () {
  this.timeout(300_000);
  let w: World;
  before(async () => {
    w = await buildWorld();
  });
  after(() => w?.s.close());

  it('the demo picker offers each persona exactly who the fixtures say', async () => {
    const options = async (pid: string) => {
      const { accessOptionsResolver } = await import('../../src/access/options.js');
      const { findPatientByPid } = await import('../../src/identity/people.js');
      const selfPatientId = await findPatientByPid(w.s.db, pid);
      return (await accessOptionsResolver(w.s.db, w.s.repo)({ sub: 'x', pid, selfPatientId, sessionId: null, authTime: null })).map((o) => o.patientId).sort();
    };
    expect(await options('03897302801')).to.deep.equal(['kari-nordmann', 'ola-nordmann']); // Ola: himself and Kari
    expect(await options('30865804381')).to.deep.equal(['kari-nordmann']); // Per has no record
    expect(await options('15839005609')).to.deep.equal([]); // Jonas: revoked (G4)
    expect(await options('14887906344')).to.deep.equal(['emma-johansen', 'lars-johansen']); // not Noah (G8)
    expect(await options('21878709109')).to.deep.equal(['sara-ahmed']); // not Leo (G11)
    expect(await options('22846611200')).to.deep.equal(['erik-olsen']); // not his late father (G1)
    expect(await options('09851657840')).to.deep.equal([]); // Emma under 16 (G14)
  });

  it('a proxy’s token is for the represented patient, names the grant’s RelatedPerson and asks for a banner (access-spec §0.1)', async () => {
    const redirectUri = `${w.s.baseUrl}/portal/callback`;
    const r = await launch(w.s, { clientId: PORTAL_CLIENT_ID, pid: '03897302801', patient: 'kari-nordmann', scope: PORTAL_SCOPE, redirectUri });
    expect(r.steps).to.include('picker');
    const t = await exchange(w.s, PORTAL_CLIENT_ID, r, redirectUri);
    expect(t.body).to.include({ patient: 'kari-nordmann', need_patient_banner: true });
    const idToken = JSON.parse(Buffer.from(String(t.body.id_token).split('.')[1]!, 'base64url').toString()) as { fhirUser?: string };
    expect(idToken.fhirUser).to.match(/RelatedPerson\/fullmakt-kari-ola$/);
    // Granted = requested ∩ the Standard ceiling: explicit types, no visit history, no Consent.
    const scope = String(t.body.scope);
    expect(scope).to.include('patient/Appointment.crs').and.include('patient/Observation.rs');
    expect(scope).not.to.match(/Encounter|Consent|AuditEvent|patient\/\*/);
  });

  it('revoking a grant makes the proxy’s live token 401 at once', async () => {
    const ok = await fhirGet(w.s, 'Observation', w.tokens.standard);
    expect(ok.status).to.equal(200);
    const c = await w.s.repo.read<Consent>('Consent', 'fullmakt-kari-ola', SYSTEM_ACCESS);
    await w.s.repo.update({ ...c, status: 'inactive' }, SYSTEM_ACCESS);
    const after = await fhirGet(w.s, 'Observation', w.tokens.standard);
    expect(after.status).to.equal(401);
    expect(after.headers.get('www-authenticate')).to.match(/invalid_token/);
    await w.s.repo.update({ ...c, status: 'active' }, SYSTEM_ACCESS);
    expect((await fhirGet(w.s, 'Observation', w.tokens.standard)).status).to.equal(200);
  });

  it('a registered death ends the access of the patient and every proxy; clinical systems still see the record', async () => {
    const p = await w.s.repo.read<Patient>('Patient', 'kari-nordmann', SYSTEM_ACCESS);
    await w.s.repo.update({ ...p, deceasedDateTime: '2026-11-30' }, SYSTEM_ACCESS);
    for (const actor of ['self', 'standard', 'read', 'communicate', 'full'] as const) {
      expect((await fhirGet(w.s, 'Patient/kari-nordmann', w.tokens[actor])).status, actor).to.equal(401);
    }
    expect((await fhirGet(w.s, 'Patient/kari-nordmann', w.tokens.system)).status).to.equal(200);
    const now = await w.s.repo.read<Patient>('Patient', 'kari-nordmann', SYSTEM_ACCESS);
    const { deceasedDateTime: _gone, ...alive } = now;
    await w.s.repo.update(alive, SYSTEM_ACCESS);
    expect((await fhirGet(w.s, 'Patient/kari-nordmann', w.tokens.self)).status).to.equal(200);
  });

  it('$deactivate closes the account to the patient, proxies and parents; $reactivate restores the patient only (S13, S14, A10)', async () => {
    const post = (path: string, token: string) => fetch(`${w.s.fhirBase}/${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect((await post('Patient/kari-nordmann/$deactivate', w.tokens.full)).status, 'a Full proxy may not').to.equal(403);
    const res = await post('Patient/kari-nordmann/$deactivate', w.tokens.self);
    expect(res.status, await res.text()).to.equal(200);
    expect((await fhirGet(w.s, 'Observation', w.tokens.self)).status).to.equal(401);
    expect((await fhirGet(w.s, 'Observation', w.tokens.full)).status).to.equal(401);
    expect((await post('Patient/kari-nordmann/$reactivate', w.tokens.self)).status).to.equal(200);
    expect((await fhirGet(w.s, 'Observation', w.tokens.self)).status).to.equal(200);
    // The proxies' grants stay suspended until Kari confirms them again (G3).
    expect((await fhirGet(w.s, 'Observation', w.tokens.full)).status).to.equal(401);
    const astrid = await w.s.repo.read<Consent>('Consent', 'fullmakt-kari-astrid', SYSTEM_ACCESS);
    expect(astrid.status).to.equal('inactive');
    expect(astrid.meta?.tag?.map((t) => t.code)).to.include('suspended');
    const confirmed = await fetch(`${w.s.fhirBase}/Consent/fullmakt-kari-astrid`, {
      method: 'PUT', headers: { authorization: `Bearer ${w.tokens.self}`, 'content-type': 'application/fhir+json' }, body: JSON.stringify({ ...astrid, status: 'active' }),
    });
    const confirmText = await confirmed.text();
    expect(confirmed.status, confirmText).to.equal(200);
    expect((await fhirGet(w.s, 'Observation', w.tokens.full)).status).to.equal(200);
  });

  it('a grant to someone under 18, or from someone under 16, is refused with 422 business-rule (S3, G5, G6)', async () => {
    const young = (await w.s.repo.create<RelatedPerson>({
      resourceType: 'RelatedPerson', patient: { reference: 'Patient/kari-nordmann' }, birthDate: new Date(Date.now() - 17 * 365.25 * 86_400_000).toISOString().slice(0, 10),
      relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'POWATT' }] }],
    }, SYSTEM_ACCESS)).resource;
    const consent = grant({ patient: { reference: 'Patient/kari-nordmann' }, provision: { type: 'permit', actor: [{ role: { text: 'proxy' }, reference: { reference: `RelatedPerson/${young.id}` } }] } });
    const res = await fetch(`${w.s.fhirBase}/Consent`, { method: 'POST', headers: { authorization: `Bearer ${w.tokens.self}`, 'content-type': 'application/fhir+json' }, body: JSON.stringify(consent) });
    const body = (await res.json()) as { issue: Array<{ code: string; diagnostics: string }> };
    expect(res.status).to.equal(422);
    expect(body.issue[0]!.code).to.equal('business-rule');
    expect(body.issue[0]!.diagnostics).to.match(/18/);
    const err = await checkGrantRules({ ...consent, patient: { reference: 'Patient/emma-johansen' } } as Consent, w.s.repo).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(FhirError);
    expect((err as FhirError).message).to.match(/16/);
  });

  it('a proxy who logs in again after revocation finds nobody to act for', async () => {
    const err = await portalToken(w.s, '15839005609', 'kari-nordmann').catch((e: Error) => e);
    expect(err).to.be.instanceOf(Error);
  });
});
