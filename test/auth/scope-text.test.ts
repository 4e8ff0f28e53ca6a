/**
 * Scope texts for every served resource type (issue 16 §3: "Scope texts in plain Norwegian for every
 * type (no raw type names; types without a text are grouped under a plain heading); wording that follows
 * who acts for whom"). The rules are plain functions, called directly.
 */
import { expect } from 'chai';
import { RESOURCE_TYPES } from '../../src/fhir/definitions/registry.js';
import { POLICY_TYPES, SHARED_TYPES } from '../../src/access/policy.js';
import { describeScopes, genitive, typePhrase } from '../../src/auth/pages/scope-text.js';
import { parseScopes } from '../../src/identity/scopes.js';

const DIRECTORY_HEADING = 'opplysninger om helsepersonell og tjenester';
const OTHER_HEADING = 'andre opplysninger i helsejournalen';

describe('scope texts (issue 16 §3)', () => {
  it('gives every served resource type a plain text or a grouped heading, never its raw name', () => {
    expect(RESOURCE_TYPES.length).to.be.greaterThan(100);
    for (const type of RESOURCE_TYPES) {
      for (const context of ['patient', 'user', 'system']) {
        const [line] = describeScopes(parseScopes(`${context}/${type}.rs`));
        expect(line, type).to.not.equal(undefined);
        expect(line!.nb, type).not.to.match(new RegExp(`\\b${type}\\b`));
        expect(line!.en, type).not.to.match(new RegExp(`\\b${type}\\b`));
        expect(line!.nb, type).to.match(/^Se /);
      }
    }
  });

  it('has an own text for every type a citizen can be granted, and groups the directory types under one heading', () => {
    for (const type of POLICY_TYPES.filter((t) => !(SHARED_TYPES as readonly string[]).includes(t))) {
      const p = typePhrase(type, { self: true });
      expect(p.nb, type).not.to.equal(OTHER_HEADING).and.not.to.contain(DIRECTORY_HEADING);
    }
    for (const type of SHARED_TYPES) expect(typePhrase(type, { self: true }).nb, type).to.contain(DIRECTORY_HEADING);
    const lines = describeScopes(parseScopes(SHARED_TYPES.map((t) => `patient/${t}.rs`).join(' ')));
    expect(lines, 'the directory types make one line').to.have.length(1);
    expect(typePhrase('ClaimResponse', { self: true }).nb).to.equal(OTHER_HEADING);
  });

  it('names whose data it is: "your" for oneself, the represented person for a proxy', () => {
    const scopes = parseScopes('launch/patient patient/RelatedPerson.rs');
    const own = describeScopes(scopes, { self: true });
    expect(own.map((l) => l.nb)).to.include('Se hvem som har tilgang på dine vegne');
    expect(own.map((l) => l.en)).to.include('View who has access on your behalf');
    const proxy = describeScopes(scopes, { self: false, name: 'Kari Nordmann' });
    expect(proxy.map((l) => l.nb)).to.include('Se hvem som har tilgang på Kari Nordmanns vegne').and.include('Vite at opplysningene gjelder Kari Nordmann');
    expect(proxy.map((l) => l.en)).to.include("View who has access on Kari Nordmann's behalf");
    expect(proxy.map((l) => l.nb).join(' ')).not.to.contain('dine');
  });

  it('forms the genitive the Norwegian way', () => {
    expect(genitive('Kari Nordmann')).to.deep.equal({ nb: 'Kari Nordmanns', en: "Kari Nordmann's" });
    expect(genitive('Hans')).to.deep.equal({ nb: "Hans'", en: "Hans'" });
  });

  it('says one verb for read and search, and lists the other actions', () => {
    expect(describeScopes(parseScopes('patient/Appointment.cruds'))[0]).to.deep.equal({ nb: 'Legge til, se, endre og slette timeavtaler', en: 'Add, view, change and delete appointments' });
  });
});
