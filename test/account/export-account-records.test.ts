/**
 * A copy of one's data holds the account records only for those who own the account (issue 14;
 * policy rows 29–31: notification preferences, portal settings and in-app notifications are self's
 * and a parent's for a child, never a proxy's, A7, and never a third-party app's). Over HTTP with
 * real portal and app tokens: each proxy level's `$export` (and `_type=Basic` asked for outright)
 * holds no account-record Basic; Kari's own export and a parent's export of Emma hold theirs; the
 * `Basic` nobody on the patient side may see (row 32) is in none of them.
 */
import { expect } from 'chai';
import type { Basic, Resource } from 'fhir/r4';
import { CS } from '../../src/access/policy.js';
import { APP_REDIRECT, exchange, launch, registerApp } from '../auth/support.js';
import { buildWorld, PERSONAS, type World } from '../access/world.js';

interface Manifest { output: Array<{ type: string; url: string; count: number }>; error: unknown[] }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ACCOUNT_RECORDS = ['notification-preferences', 'portal-settings', 'notification'];

describe('$export and the account records (issue 14, policy rows 29–32)', function () {
  this.timeout(300_000);
  let w: World;
  let app: string;

  before(async () => {
    w = await buildWorld();
    const { client_id } = await registerApp(w.s, {
      client_name: 'Kopi-appen', redirect_uris: [APP_REDIRECT], token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'], scope: 'openid fhirUser launch/patient patient/*.rs',
    });
    const r = await launch(w.s, { clientId: client_id, pid: PERSONAS.self.pid, patient: 'kari-nordmann', scope: 'launch/patient openid fhirUser patient/*.rs' });
    const t = await exchange(w.s, client_id, r);
    expect(t.status, JSON.stringify(t.body)).to.equal(200);
    app = t.body.access_token as string;
  });
  after(() => w?.s.close());

  async function exportOf(token: string, path: string): Promise<Resource[]> {
    const headers = { authorization: `Bearer ${token}`, accept: 'application/fhir+json' };
    const k = await fetch(`${w.s.fhirBase}/${path}`, { headers: { ...headers, prefer: 'respond-async' } });
    expect(k.status, await k.clone().text()).to.equal(202);
    const status = k.headers.get('content-location')!;
    for (let i = 0; i < 600; i++) {
      const res = await fetch(status, { headers });
      if (res.status === 202) {
        await sleep(50);
        continue;
      }
      expect(res.status).to.equal(200);
      const manifest = (await res.json()) as Manifest;
      expect(manifest.error).to.deep.equal([]);
      const out: Resource[] = [];
      for (const o of manifest.output) {
        const f = await fetch(o.url, { headers });
        expect(f.status).to.equal(200);
        out.push(...(await f.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Resource));
      }
      return out;
    }
    throw new Error(`export ${path} did not finish`);
  }
  const basics = (rs: Resource[]) => rs.filter((r): r is Basic => r.resourceType === 'Basic');
  const kinds = (rs: Resource[]) => basics(rs).map((b) => b.code.coding?.find((c) => c.system === CS.accountRecord)?.code ?? `other:${b.id}`).sort();
  const sampleId = (patient: string, slice: string) => w.samples.get(`${patient}|Basic|${slice}`)!.id!;

  for (const level of ['standard', 'read', 'communicate', 'full'] as const) {
    it(`a ${level} proxy's export of Kari holds no Basic at all, even asked for by _type=Basic`, async () => {
      const all = await exportOf(w.tokens[level], 'Patient/kari-nordmann/$export');
      expect(all.length, 'the proxy exports something of Kari').to.be.greaterThan(0);
      expect(kinds(all)).to.deep.equal([]);
      const text = JSON.stringify(all);
      for (const slice of ['notification preferences', 'portal settings', 'notification', 'other']) expect(text).to.not.include(sampleId('kari-nordmann', slice));
      expect(kinds(await exportOf(w.tokens[level], 'Patient/kari-nordmann/$export?_type=Basic,Patient'))).to.deep.equal([]);
    });
  }

  it('Kari’s own export holds her preferences, portal settings and notifications, and not the Basic that is no one’s on the patient side', async () => {
    const own = await exportOf(w.tokens.self, 'Patient/kari-nordmann/$export');
    expect(kinds(own)).to.deep.equal([...ACCOUNT_RECORDS].sort());
    expect(basics(own).map((b) => b.id).sort()).to.deep.equal(['notification preferences', 'portal settings', 'notification'].map((s) => sampleId('kari-nordmann', s)).sort());
    expect(JSON.stringify(own)).to.not.include(sampleId('kari-nordmann', 'other'));
    expect(JSON.stringify(own)).to.not.include(sampleId('emma-johansen', 'notification preferences'));
  });

  it('a parent’s export of the child holds the child’s account records', async () => {
    const child = await exportOf(w.tokens.parent, 'Patient/emma-johansen/$export?_type=Basic');
    expect(kinds(child)).to.deep.equal([...ACCOUNT_RECORDS].sort());
    expect(JSON.stringify(child)).to.not.include(sampleId('emma-johansen', 'other'));
  });

  it('a third-party app acting for Kari herself exports no account record (the portal’s own data)', async () => {
    const res = await fetch(`${w.s.fhirBase}/Patient/kari-nordmann/$export?_type=Basic,Patient`, { headers: { authorization: `Bearer ${app}`, accept: 'application/fhir+json', prefer: 'respond-async' } });
    // Either refused for the type outright or exported without it; never with it.
    if (res.status === 202) expect(kinds(await exportOf(app, 'Patient/kari-nordmann/$export?_type=Basic,Patient'))).to.deep.equal([]);
    else expect(res.status, await res.text()).to.equal(403);
    expect(kinds(await exportOf(app, 'Patient/kari-nordmann/$export'))).to.deep.equal([]);
  });

  it('$everything, the synchronous door, follows the same rows', async () => {
    for (const [actor, patient, expected] of [['read', 'kari-nordmann', []], ['full', 'kari-nordmann', []], ['self', 'kari-nordmann', ACCOUNT_RECORDS], ['parent', 'emma-johansen', ACCOUNT_RECORDS]] as const) {
      const res = await fetch(`${w.s.fhirBase}/Patient/${patient}/$everything?_count=1000`, { headers: { authorization: `Bearer ${w.tokens[actor]}`, accept: 'application/fhir+json' } });
      expect(res.status).to.equal(200);
      const bundle = (await res.json()) as { entry?: Array<{ resource: Resource }> };
      expect(kinds((bundle.entry ?? []).map((e) => e.resource)), actor).to.deep.equal([...expected].sort());
    }
  });
});
