/**
 * Versioned Terms of Use (issue 14; terms §9 "you will be asked to renew your consent"): a newer
 * configured version blocks the citizen's tokens and their proxies' until the citizen logs in again
 * and accepts; the re-acceptance is a Consent the citizen can read, with its date and version.
 */
import { expect } from 'chai';
import type { Bundle, Consent, OperationOutcome } from 'fhir/r4';
import { PERSONAS, buildWorld, portalToken, type TestedActor, type World } from '../access/world.js';
import { DEFAULT_TERMS_VERSION, TERMS_POLICY_URI, TERMS_VERSION_SYSTEM, acceptedVersion, configureTerms } from '../../src/identity/terms.js';

const NEW = { version: '2026-12-01', url: 'https://helsebro.no/vilkar/2026-12-01' };

describe('Terms of Use, versioned (issue 14)', function () {
  this.timeout(300_000);
  let w: World;
  before(async () => {
    w = await buildWorld();
  });
  after(async () => {
    configureTerms({ version: DEFAULT_TERMS_VERSION, url: TERMS_POLICY_URI });
    await w?.s.close();
  });

  const get = async (token: string, path: string) => {
    const res = await fetch(`${w.s.fhirBase}/${path}`, { headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+json' } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
  };
  const as = (actor: TestedActor) => w.tokens[actor];

  it('a newer version blocks self and proxies until the citizen accepts it again at login; the acceptance is a Consent she reads', async () => {
    expect((await get(as('self'), 'Patient/kari-nordmann')).status).to.equal(200);
    expect((await get(as('read'), 'Patient/kari-nordmann')).status).to.equal(200);

    // The operator configures a newer version (TERMS_VERSION=2026-12-01).
    configureTerms(NEW);
    const self = await get(as('self'), 'Observation');
    expect(self.status).to.equal(401);
    expect(self.headers.get('www-authenticate')).to.match(/invalid_token/);
    expect((self.body as unknown as OperationOutcome).issue[0]!.diagnostics).to.match(/Terms of Use have changed \(version 2026-12-01\).*log in again/);
    const proxy = await get(as('read'), 'Patient/kari-nordmann');
    expect(proxy.status).to.equal(401);
    expect((proxy.body as unknown as OperationOutcome).issue[0]!.diagnostics).to.match(/patient has not yet accepted the Terms of Use in force/);
    // Operations are refused the same way.
    expect((await get(as('self'), 'Patient/kari-nordmann/$everything')).status).to.equal(401);

    // Kari logs in again: the login shows the terms page (the test driver ticks the box), then a token.
    const fresh = await portalToken(w.s, PERSONAS.self.pid, PERSONAS.self.patient);
    expect((await get(fresh, 'Observation')).status).to.equal(200);
    expect((await get(as('self'), 'Observation')).status).to.equal(200);
    expect((await get(as('read'), 'Patient/kari-nordmann')).status).to.equal(200);

    const consents = await get(fresh, 'Consent?category=http://loinc.org|57016-8');
    const accepted = ((consents.body as unknown as Bundle).entry ?? []).map((e) => e.resource as Consent);
    const versions = accepted.map((c) => acceptedVersion(c)).sort();
    expect(versions).to.deep.equal([DEFAULT_TERMS_VERSION, NEW.version]);
    const renewed = accepted.find((c) => acceptedVersion(c) === NEW.version)!;
    expect(renewed.identifier?.some((i) => i.system === TERMS_VERSION_SYSTEM && i.value === NEW.version)).to.equal(true);
    expect(renewed.policy?.[0]?.uri).to.equal(NEW.url);
    expect(Date.now() - Date.parse(renewed.dateTime!)).to.be.lessThan(120_000);
  });

  it('a parent keeps acting for a child who never accepted terms (children do not log in; the parent accepts their own at login)', async () => {
    configureTerms(NEW);
    expect((await get(as('parent'), 'Patient/emma-johansen')).status).to.equal(200);
  });
});
