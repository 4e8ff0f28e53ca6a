import { expect } from 'chai';
import request from 'supertest';
import type { Bundle, Observation, Patient } from 'fhir/r4';
import { FHIR, matches, ofMode, sorted, useSearchServer } from './support.js';

const linkOf = (b: Bundle, relation: string) => b.link?.find((l) => l.relation === relation)?.url;

describe('search: sorting, paging, _total, _summary, _elements, POST, system and compartment search', () => {
  const s = useSearchServer();
  const people: Array<{ id: string; family: string; birth: string }> = [];
  let kariObs: string[];
  let olaObs: string;

  before(async () => {
    // Families repeat so a second sort key decides; births differ within a family.
    const data: Array<[string, string]> = [
      ['Berg', '1990-01-01'], ['Aas', '1985-06-01'], ['Berg', '1970-03-03'], ['Dahl', '2000-12-31'], ['Aas', '1999-09-09'],
      ['Ødegård', '1960-01-01'], ['Berg', '1980-05-05'],
    ];
    for (const [family, birth] of data) {
      const p = await s.create<Patient>({ resourceType: 'Patient', name: [{ family, given: ['Test'] }], birthDate: birth, gender: 'female', text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">x</div>' } });
      people.push({ id: p.id, family, birth });
    }
    const o = (subject: string): Observation => ({ resourceType: 'Observation', status: 'final', code: { text: 'puls' }, subject: { reference: `Patient/${subject}` } });
    kariObs = [(await s.create(o(people[0]!.id))).id, (await s.create(o(people[0]!.id))).id];
    olaObs = (await s.create(o(people[1]!.id))).id;
  });

  it('_sort by two keys: family ascending, then birthdate descending', async () => {
    const ids = await s.ids('Patient?_sort=family,-birthdate', true);
    const expected = [...people].sort((a, b) => a.family.localeCompare(b.family, 'en') || b.birth.localeCompare(a.birth)).map((p) => p.id);
    // Folded sort: Ødegård sorts as "odegard", after Dahl.
    expect(ids).to.deep.equal(expected);
  });

  it('_sort=-family reverses; _sort=_id orders by id', async () => {
    const desc = await s.ids('Patient?_sort=-family,birthdate', true);
    expect(people.find((p) => p.id === desc[0])!.family).to.equal('Ødegård');
    expect(await s.ids('Patient?_sort=_id', true)).to.deep.equal(people.map((p) => p.id).sort());
  });

  it('_sort by an unknown parameter → 400 naming _sort', async () => {
    const oo = await s.fails('Patient?_sort=nosuch', 400);
    expect(oo.issue[0]!.expression).to.deep.equal(['_sort']);
  });

  it('_count pages; following next links visits every match once; previous goes back', async () => {
    const seen: string[] = [];
    let url: string | undefined = 'Patient?_sort=birthdate&_count=3';
    let pages = 0;
    let bundle: Bundle | undefined;
    while (url) {
      bundle = await s.search(url);
      const ids = matches(bundle).map((r) => r.id!);
      expect(ids.length).to.be.at.most(3);
      seen.push(...ids);
      const next = linkOf(bundle, 'next');
      url = next ? next.slice(next.indexOf('/fhir/') + 6) : undefined;
      if (++pages === 1) {
        // Writes between pages must neither appear nor shift the pages.
        await s.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Aaberg' }], birthDate: '1900-01-01' });
      }
    }
    expect(pages).to.equal(3);
    expect(seen).to.have.length(people.length);
    expect(new Set(seen).size).to.equal(seen.length);
    expect(sorted(...seen)).to.deep.equal(sorted(...people.map((p) => p.id)));
    const prev = linkOf(bundle!, 'previous')!;
    const back = await s.search(prev.slice(prev.indexOf('/fhir/') + 6));
    expect(matches(back)).to.have.length(3);
    expect(back.total).to.equal(people.length);
  });

  it('links are absolute URLs on this server that carry the query', async () => {
    const b = await s.search('Patient?family=berg&_count=1');
    expect(linkOf(b, 'self')).to.match(/^http:\/\/localhost:8080\/fhir\/Patient\?family=berg/);
    expect(linkOf(b, 'next')).to.contain('_count=1');
  });

  it('_count defaults to 20 and is capped at 1000; _count=0 returns only the total', async () => {
    const many = await s.search('Patient?_count=5000');
    expect(linkOf(many, 'self')).to.contain('_count=1000');
    const def = await s.search('Patient');
    expect(linkOf(def, 'self')).to.contain('_count=20');
    const zero = await s.search('Patient?_count=0');
    expect(zero.entry).to.equal(undefined);
    expect(zero.total).to.be.at.least(people.length);
    // A page of zero has no next page: a next link would repeat the same empty page for ever.
    expect(linkOf(zero, 'next')).to.equal(undefined);
  });

  it('_total: counted when few match (docs/search.md), none omits it; _summary=count gives only the total', async () => {
    expect((await s.search('Patient?family=berg')).total).to.equal(3);
    expect((await s.search('Patient?family=berg&_total=accurate')).total).to.equal(3);
    expect((await s.search('Patient?family=berg&_total=none')).total).to.equal(undefined);
    expect((await s.search('Patient?family=berg&_total=estimate')).total).to.equal(3);
    const count = await s.search('Patient?family=berg&_summary=count');
    expect(count.total).to.equal(3);
    expect(count.entry).to.equal(undefined);
    await s.fails('Patient?_total=maybe', 400);
  });

  it('_summary=true keeps summary elements only and tags the copy SUBSETTED', async () => {
    const b = await s.search(`Patient?_id=${people[0]!.id}&_summary=true`);
    const p = matches(b)[0] as Patient;
    expect(p.name?.[0]?.family).to.equal('Berg');
    expect(p.text).to.equal(undefined);
    expect(p.meta?.tag?.some((t) => t.code === 'SUBSETTED')).to.equal(true);
    const text = matches(await s.search(`Patient?_id=${people[0]!.id}&_summary=text`))[0] as Patient;
    expect(text.text?.status).to.equal('generated');
    expect(text.name).to.equal(undefined);
    const data = matches(await s.search(`Patient?_id=${people[0]!.id}&_summary=data`))[0] as Patient;
    expect(data.text).to.equal(undefined);
    expect(data.birthDate).to.equal(people[0]!.birth);
  });

  it('_elements keeps the named elements (plus id and meta) and tags SUBSETTED', async () => {
    const p = matches(await s.search(`Patient?_id=${people[0]!.id}&_elements=birthDate`))[0] as Patient;
    expect(p.birthDate).to.equal(people[0]!.birth);
    expect(p.id).to.equal(people[0]!.id);
    expect(p.name).to.equal(undefined);
    expect(p.gender).to.equal(undefined);
    expect(p.meta?.tag?.some((t) => t.code === 'SUBSETTED')).to.equal(true);
  });

  it('POST _search with a form body finds the same as GET', async () => {
    const res = await request(s.ctx().app).post('/fhir/Patient/_search').type('form').send({ family: 'berg', birthdate: 'ge1980' });
    expect(res.status).to.equal(200);
    const got = (res.body as Bundle).entry!.map((e) => e.resource!.id!).sort();
    expect(got).to.deep.equal(await s.ids('Patient?family=berg&birthdate=ge1980'));
    expect(got).to.have.length(2);
  });

  it('system search with _type spans types; without _type it is 400', async () => {
    const b = await s.search(`?_type=Patient,Observation&_id=${people[0]!.id},${olaObs}`);
    expect(matches(b).map((r) => `${r.resourceType}/${r.id}`).sort()).to.deep.equal(sorted(`Patient/${people[0]!.id}`, `Observation/${olaObs}`));
    const oo = await s.fails('?_id=x', 400);
    expect(oo.issue[0]!.expression).to.deep.equal(['_type']);
  });

  it('system search: a parameter applies to the types that define it; unknown to all → strict 400', async () => {
    const b = await s.search('?_type=Patient,Observation&family=berg');
    expect(matches(b).map((r) => r.resourceType)).to.deep.equal(['Patient', 'Patient', 'Patient']);
    const oo = await s.fails('?_type=Patient,Observation&shoesize=1', 400, { Prefer: 'handling=strict' });
    expect(oo.issue[0]!.expression).to.deep.equal(['shoesize']);
  });

  it('compartment search Patient/{id}/* returns the patient and everything in the compartment', async () => {
    const b = await s.search(`Patient/${people[0]!.id}/*?_count=1000`);
    // The access log (AuditEvent) about this patient is in the compartment too; the rest is exact.
    const found = matches(b).filter((r) => r.resourceType !== 'AuditEvent').map((r) => `${r.resourceType}/${r.id}`).sort();
    expect(found).to.deep.equal(sorted(`Patient/${people[0]!.id}`, ...kariObs.map((id) => `Observation/${id}`)));
    const typed = await s.search(`Patient/${people[0]!.id}/*?_type=Observation`);
    expect(matches(typed).map((r) => r.id).sort()).to.deep.equal(sorted(...kariObs));
  });

  it('compartment search Patient/{id}/Observation returns only that patient\'s observations', async () => {
    expect(await s.ids(`Patient/${people[0]!.id}/Observation`)).to.deep.equal(sorted(...kariObs));
    expect(await s.ids(`Patient/${people[1]!.id}/Observation`)).to.deep.equal([olaObs]);
    expect(await s.ids(`Patient/${people[2]!.id}/Observation`)).to.deep.equal([]);
    expect(await s.ids(`Patient/${people[0]!.id}/Observation?_id=${olaObs}`)).to.deep.equal([]);
  });

  it('a match that is deleted disappears from search', async () => {
    const p = await s.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Slettes' }] });
    expect(await s.ids('Patient?family=slettes')).to.deep.equal([p.id]);
    expect((await request(s.ctx().app).delete(`/fhir/Patient/${p.id}`)).status).to.be.oneOf([200, 204]);
    expect(await s.ids('Patient?family=slettes')).to.deep.equal([]);
  });

  it('an _include of a page brings only what the page references', async () => {
    const b = await s.search(`Observation?_id=${olaObs}&_include=Observation:subject`);
    expect(ofMode(b, 'include').map((e) => e.resource!.id)).to.deep.equal([people[1]!.id]);
  });

  it('paging while matches are updated and created never shows a resource twice', async () => {
    const first = await s.search('Patient?_sort=family&_count=2');
    const page1 = matches(first).map((r) => r.id!);
    // Update a resource already shown and create one that would sort first.
    const shown = matches(first)[0] as Patient;
    expect((await request(s.ctx().app).put(`/fhir/Patient/${shown.id}`).set('Content-Type', FHIR).send({ ...shown, gender: 'other' })).status).to.equal(200);
    await s.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Aaa' }] });
    const seen = [...page1];
    let next = linkOf(first, 'next');
    while (next) {
      const b = await s.search(next.slice(next.indexOf('/fhir/') + 6));
      seen.push(...matches(b).map((r) => r.id!));
      next = linkOf(b, 'next');
    }
    expect(new Set(seen).size).to.equal(seen.length);
  });
});
