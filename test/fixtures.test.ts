import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import type { Bundle, Consent, Patient, RelatedPerson, Resource } from 'fhir/r4';
import { demoBundles } from '../fixtures/generate.js';
import { demoBundleFiles } from '../src/seed/seed.js';
import { DNR_SYSTEM, FNR_SYSTEM, parseIdNumber } from '../src/fhir/validation/fnr.js';
import { validateResource } from '../src/fhir/validation/validate.js';
import { FIXTURES_DIR } from '../src/paths.js';
import { createTestContext } from './support/app.js';

const HB = 'https://fhir.helsebro.no/';
const files = demoBundleFiles();
const bundles = files.map((f) => ({ file: path.basename(f), bundle: JSON.parse(fs.readFileSync(f, 'utf8')) as Bundle }));
const all: Resource[] = bundles.flatMap((b) => (b.bundle.entry ?? []).map((e) => e.resource!));
const ofType = <T extends Resource>(type: T['resourceType']) => all.filter((r): r is T => r.resourceType === type);
const byId = (type: string, id: string) => all.find((r) => r.resourceType === type && r.id === id);

/** References as authored: an entry's urn:uuid fullUrl stands for the resource PUT at that entry. */
const idOfFullUrl = new Map(bundles.flatMap((b) => (b.bundle.entry ?? []).map((e) => [e.fullUrl!, `${e.resource!.resourceType}/${e.resource!.id}`] as const)));
const target = (reference: string | undefined) => (reference ? (idOfFullUrl.get(reference) ?? reference) : undefined);

function references(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => references(n, out));
  else if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) k === 'reference' && typeof v === 'string' ? out.push(v) : references(v, out);
  return out;
}

function nationalIds(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => nationalIds(n, out));
  else if (node && typeof node === 'object') {
    const { system, value } = node as { system?: unknown; value?: unknown };
    if ((system === FNR_SYSTEM || system === DNR_SYSTEM) && typeof value === 'string') out.push(value);
    Object.values(node).forEach((v) => nationalIds(v, out));
  }
  return out;
}

/** Whole years on today's date in Europe/Oslo (the gates of access-spec §4.2 count in Oslo time). */
function age(birthDate: string): number {
  const [ty, tm, td] = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Oslo' }).format(new Date()).split('-').map(Number) as [number, number, number];
  const [by, bm, bd] = birthDate.split('-').map(Number) as [number, number, number];
  return ty - by - (tm < bm || (tm === bm && td < bd) ? 1 : 0);
}

const fnrOf = (r: Patient | RelatedPerson) => r.identifier?.find((i) => i.system === FNR_SYSTEM)?.value;
const level = (c: Consent) => c.policyRule?.coding?.find((x) => x.system === `${HB}CodeSystem/proxy-level`)?.code;
const extCode = (p: Patient, name: string) => p.extension?.find((e) => e.url === `${HB}StructureDefinition/${name}`)?.valueCode;
const parents = ofType<RelatedPerson>('RelatedPerson').filter((r) => r.meta?.profile?.includes(`${HB}StructureDefinition/HelsebroParentRelatedPerson`));
const childOf = (rp: RelatedPerson) => byId('Patient', target(rp.patient.reference)!.split('/')[1]!) as Patient;

describe('the demo population in fixtures/', () => {
  it('is a set of transaction Bundles named demo-*.json', () => {
    expect(bundles.length).to.be.greaterThan(0);
    for (const { file, bundle } of bundles) expect(bundle, file).to.include({ resourceType: 'Bundle', type: 'transaction' });
  });

  it('every entry is a PUT to Type/id with a urn:uuid fullUrl, and no id is used twice', () => {
    const seen = new Set<string>();
    for (const { file, bundle } of bundles) {
      for (const e of bundle.entry ?? []) {
        const key = `${e.resource!.resourceType}/${e.resource!.id}`;
        expect(e.request, `${file} ${key}`).to.deep.equal({ method: 'PUT', url: key });
        expect(e.fullUrl, key).to.match(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        expect(seen.has(key), `${key} twice`).to.equal(false);
        seen.add(key);
      }
    }
  });

  it('every resource, and every Bundle as a whole, validates with no issues', () => {
    for (const { file, bundle } of bundles) {
      expect(validateResource(bundle), file).to.deep.equal([]);
      for (const e of bundle.entry ?? []) expect(validateResource(e.resource), `${file} ${e.request?.url}`).to.deep.equal([]);
    }
  });

  it('every reference resolves: in its Bundle through a fullUrl, or to a resource of an earlier demo Bundle', () => {
    const available = new Set<string>();
    for (const { file, bundle } of bundles) {
      const fullUrls = new Set((bundle.entry ?? []).map((e) => e.fullUrl));
      for (const e of bundle.entry ?? []) {
        for (const ref of references(e.resource)) {
          const ok = ref.startsWith('urn:uuid:') ? fullUrls.has(ref) : available.has(ref);
          expect(ok, `${file} ${e.request?.url} → ${ref}`).to.equal(true);
        }
      }
      for (const e of bundle.entry ?? []) available.add(`${e.resource!.resourceType}/${e.resource!.id}`);
    }
  });

  it('every fødselsnummer is a synthetic test number (month + 80) with valid check digits', () => {
    const ids = nationalIds(all);
    expect(ids.length).to.be.greaterThan(20);
    for (const v of ids) expect(parseIdNumber(v), v).to.deep.include({ synthetic: true });
  });

  it('the committed JSON is exactly what fixtures/generate.ts writes', () => {
    const generated = demoBundles();
    expect(generated.map((b) => b.file)).to.deep.equal(bundles.map((b) => b.file));
    for (const b of generated) expect(b.toBundle(), b.file).to.deep.equal(bundles.find((x) => x.file === b.file)!.bundle);
  });

  it('fixtures/README.md lists every person\'s fødselsnummer, so a newcomer can log in as each', () => {
    const readme = fs.readFileSync(path.join(FIXTURES_DIR, 'README.md'), 'utf8');
    for (const r of [...ofType<Patient>('Patient'), ...ofType<RelatedPerson>('RelatedPerson')]) expect(readme, r.id).to.contain(fnrOf(r)!);
  });
});

describe('the cases of issue 5 are in the demo', () => {
  const grants = ofType<Consent>('Consent').filter((c) => c.meta?.profile?.includes(`${HB}StructureDefinition/HelsebroProxyConsent`));

  it('a grantor with an active grant at each of the four levels, each naming a grantee RelatedPerson of hers', () => {
    const grantor = grants.find((c) => c.status === 'active')!.patient!.reference;
    const active = grants.filter((c) => c.status === 'active' && c.patient?.reference === grantor);
    expect(active.map(level)).to.include.members(['standard', 'read', 'communicate', 'full']);
    for (const c of active) {
      const rp = byId('RelatedPerson', target(c.provision!.actor![0]!.reference.reference)!.split('/')[1]!) as RelatedPerson;
      expect(rp.patient.reference, c.id).to.equal(grantor);
      expect(age(parseIdNumber(fnrOf(rp)!)!.birthDate), `grantee of ${c.id} is an adult`).to.be.at.least(18);
    }
  });

  it('a revoked grant', () => {
    expect(grants.filter((c) => c.status === 'inactive')).to.have.length.greaterThan(0);
  });

  it('a parent with one child under 16 and one aged 16 or over', () => {
    const childrenByParent = new Map<string, Patient[]>();
    for (const rp of parents) childrenByParent.set(fnrOf(rp)!, [...(childrenByParent.get(fnrOf(rp)!) ?? []), childOf(rp)]);
    const both = [...childrenByParent.values()].find((kids) => kids.some((k) => age(k.birthDate!) < 16) && kids.some((k) => age(k.birthDate!) >= 16));
    expect(both, 'a parent with children on both sides of 16').to.not.equal(undefined);
  });

  it('a child under 16 with a protected address, who has a parent', () => {
    const protectedChildren = parents.map(childOf).filter((p) => age(p.birthDate!) < 16 && ['fortrolig', 'strengtFortrolig', 'strengtFortroligUtland'].includes(extCode(p, 'address-protection') ?? ''));
    expect(protectedChildren).to.have.length.greaterThan(0);
  });

  it('a deceased patient, and a deactivated account', () => {
    expect(ofType<Patient>('Patient').some((p) => p.deceasedDateTime || p.deceasedBoolean)).to.equal(true);
    expect(ofType<Patient>('Patient').some((p) => extCode(p, 'account-state') === 'deactivated')).to.equal(true);
  });

  it('a result held for review, a personal note and a resource restricted from parents', () => {
    expect(all.some((r) => r.resourceType === 'Observation' && r.meta?.tag?.some((t) => t.system === `${HB}CodeSystem/release-status` && t.code === 'held'))).to.equal(true);
    expect(all.some((r) => r.resourceType === 'DocumentReference' && r.meta?.profile?.includes(`${HB}StructureDefinition/HelsebroPersonalNote`))).to.equal(true);
    expect(all.some((r) => r.meta?.security?.some((s) => s.system === `${HB}CodeSystem/proxy-restriction` && s.code === 'no-parent'))).to.equal(true);
  });

  it('adults and children, appointments past and upcoming, and every kind of clinical data of issue 2 §11', () => {
    const ages = ofType<Patient>('Patient').map((p) => age(p.birthDate!));
    expect(ages.some((a) => a < 16) && ages.some((a) => a >= 18)).to.equal(true);
    const now = new Date();
    const appointments = ofType<Resource & { start?: string }>('Appointment' as Resource['resourceType']);
    expect(appointments.some((a) => new Date(a.start!) < now) && appointments.some((a) => new Date(a.start!) > now)).to.equal(true);
    for (const type of ['MedicationStatement', 'AllergyIntolerance', 'Immunization', 'Observation', 'Communication', 'Encounter', 'DocumentReference', 'Condition']) {
      expect(all.some((r) => r.resourceType === type), type).to.equal(true);
    }
    const categories = ofType<Resource & { category?: Array<{ coding?: Array<{ code?: string }> }> }>('Observation' as Resource['resourceType']).flatMap((o) => o.category?.flatMap((c) => c.coding?.map((x) => x.code)) ?? []);
    expect(categories).to.include.members(['laboratory', 'vital-signs']);
  });
});

describe('loading the demo through the server like any client', function () {
  this.timeout(120_000);

  it('every Bundle is accepted as a transaction, references resolve to the stable ids, and loading again changes nothing', async () => {
    const ctx = await createTestContext();
    // Personal notes are the citizen's own: no system client may write or see them (S16), so a
    // client loads everything else; `npm run seed` loads the notes through the server's own path.
    const isNote = (r: Resource | undefined) => r?.resourceType === 'DocumentReference' && JSON.stringify(r).includes('personal-note');
    try {
      const withNote = bundles.find((b) => b.bundle.entry?.some((e) => isNote(e.resource)))!;
      for (const { file, bundle } of bundles) {
        if (bundle === withNote.bundle) {
          const refused = await request(ctx.app).post('/fhir').set('Content-Type', 'application/fhir+json').send(bundle);
          expect(refused.status, file).to.equal(403);
          expect(refused.body.issue[0].diagnostics).to.match(/personal note/);
        }
        const clientPart = { ...bundle, entry: bundle.entry?.filter((e) => !isNote(e.resource)) };
        const res = await request(ctx.app).post('/fhir').set('Content-Type', 'application/fhir+json').send(clientPart);
        expect(res.status, `${file}: ${JSON.stringify(res.body.issue ?? '').slice(0, 500)}`).to.equal(200);
      }
      const consent = await request(ctx.app).get('/fhir/Consent/fullmakt-kari-ola');
      expect(consent.body.provision.actor[0].reference.reference).to.equal('RelatedPerson/fullmakt-kari-ola');
      expect(consent.body.patient.reference).to.equal('Patient/kari-nordmann');
      const again = await request(ctx.app).post('/fhir').set('Content-Type', 'application/fhir+json').send({ ...bundles[1]!.bundle, entry: bundles[1]!.bundle.entry?.filter((e) => !isNote(e.resource)) });
      expect(again.status).to.equal(200);
      expect((again.body as Bundle).entry!.every((e) => e.response!.status.startsWith('200'))).to.equal(true);
    } finally {
      await ctx.close();
    }
  });
});
