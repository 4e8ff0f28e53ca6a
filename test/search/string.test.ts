import { expect } from 'chai';
import type { Patient } from 'fhir/r4';
import { q, sorted, useSearchServer } from './support.js';

describe('search: string parameters', () => {
  const s = useSearchServer();
  let odegard: string;
  let baerum: string;
  let strom: string;
  let muller: string;

  before(async () => {
    odegard = (await s.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Ødegård', given: ['Åse', 'Kari'] }], address: [{ city: 'Tromsø', line: ['Storgata 1'] }] })).id;
    baerum = (await s.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Bærum-Hansen', given: ['Per'] }], address: [{ city: 'Bærum' }] })).id;
    strom = (await s.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Strøm', given: ['Ola'] }] })).id;
    muller = (await s.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Müller', given: ['Jürgen'] }] })).id;
  });

  it('default matching is case-insensitive "starts with"', async () => {
    expect(await s.ids('Patient?family=STR')).to.deep.equal([strom]);
    expect(await s.ids('Patient?family=trom')).to.deep.equal([]);
  });

  it('Norwegian letters fold: "odegard" finds Ødegård, "baerum" finds Bærum, "strom" finds Strøm', async () => {
    expect(await s.ids('Patient?family=odegard')).to.deep.equal([odegard]);
    expect(await s.ids('Patient?name=baerum')).to.deep.equal([baerum]);
    expect(await s.ids('Patient?family=strom')).to.deep.equal([strom]);
    expect(await s.ids('Patient?given=ase')).to.deep.equal([odegard]);
  });

  it('the search value folds too: "Ødegård" and "ØDEGÅRD" find the same', async () => {
    expect(await s.ids(`Patient?family=${q('ØDEGÅRD')}`)).to.deep.equal([odegard]);
    expect(await s.ids(`Patient?family=${q('ødeg')}`)).to.deep.equal([odegard]);
  });

  it('other accents are removed: "muller" finds Müller, "jurgen" finds Jürgen', async () => {
    expect(await s.ids('Patient?family=muller')).to.deep.equal([muller]);
    expect(await s.ids('Patient?given=jurgen')).to.deep.equal([muller]);
  });

  it('name searches every part of the HumanName; address every part of the Address', async () => {
    expect(await s.ids('Patient?name=kari')).to.deep.equal([odegard]);
    expect(await s.ids('Patient?address=tromso')).to.deep.equal([odegard]);
    expect(await s.ids('Patient?address-city=baer')).to.deep.equal([baerum]);
    expect(await s.ids('Patient?address=storgata')).to.deep.equal([odegard]);
  });

  it(':exact is case- and accent-sensitive and whole-value', async () => {
    expect(await s.ids(`Patient?family:exact=${q('Ødegård')}`)).to.deep.equal([odegard]);
    expect(await s.ids('Patient?family:exact=odegard')).to.deep.equal([]);
    expect(await s.ids(`Patient?family:exact=${q('Ødeg')}`)).to.deep.equal([]);
    expect(await s.ids(`Patient?family:exact=${q('ødegård')}`)).to.deep.equal([]);
  });

  it(':contains matches anywhere in the value, folded', async () => {
    expect(await s.ids('Patient?family:contains=hansen')).to.deep.equal([baerum]);
    expect(await s.ids('Patient?family:contains=ROM')).to.deep.equal([strom]);
    expect(await s.ids('Patient?family:contains=degar')).to.deep.equal([odegard]);
  });

  it('LIKE wildcards in a value are literal (% and _ match nothing special)', async () => {
    expect(await s.ids(`Patient?family=${q('%')}`)).to.deep.equal([]);
    expect(await s.ids(`Patient?family:contains=${q('_')}`)).to.deep.equal([]);
  });

  it('comma is OR, a repeated parameter is AND', async () => {
    expect(await s.ids('Patient?family=strom,muller')).to.deep.equal(sorted(strom, muller));
    expect(await s.ids('Patient?name=per&name=baer')).to.deep.equal([baerum]);
    expect(await s.ids('Patient?name=per&name=strom')).to.deep.equal([]);
  });

  it('an escaped comma is part of the value', async () => {
    const id = (await s.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Lie, Jr' }] })).id;
    expect(await s.ids(`Patient?family=${q('lie\\, jr')}`)).to.deep.equal([id]);
  });

  it(':missing finds resources with and without the element', async () => {
    const noName = (await s.create<Patient>({ resourceType: 'Patient', gender: 'other' })).id;
    expect(await s.ids('Patient?family:missing=true')).to.deep.equal([noName]);
    expect(await s.ids('Patient?family:missing=false')).to.include.members([odegard, strom]).and.not.include(noName);
  });

  it('an unsupported modifier on a string parameter → 400 naming it', async () => {
    const oo = await s.fails('Patient?family:below=x', 400);
    expect(oo.issue[0]!.expression).to.deep.equal(['family:below']);
  });
});
