/**
 * `GET Binary/{id}` as the bytes themselves (R4 http.html#binary), over HTTP with real tokens: with
 * `Accept` the Binary's own type (or `*` ranges) the content comes raw with its Content-Type, under
 * exactly the rule of the FHIR form (row 28: visible iff the message its securityContext names is),
 * logged like the JSON read (the same auditor, the same StoredResource); FHIR types, `_format` or no Accept keep the FHIR
 * form; an Accept neither matches → 406 OperationOutcome.
 */
import { expect } from 'chai';
import type { AuditEvent, Binary, Bundle } from 'fhir/r4';
import { buildWorld, type TestedActor, type World } from '../access/world.js';
import { clinicianToken } from './clinician-token.js';
import { call, diag } from './http.js';

const PDF = '%PDF-1.4 brev til legen';
const B = 'urn:uuid:6f1f0c4e-3a55-4c3e-9b0e-1d2a3b4c5d11';
const C = 'urn:uuid:6f1f0c4e-3a55-4c3e-9b0e-1d2a3b4c5d12';

describe('Binary read as its own content type (R4 http.html#binary; row 28)', function () {
  this.timeout(300_000);
  let w: World;
  let clin: string;
  let binaryId: string;
  let messageId: string;

  before(async () => {
    w = await buildWorld();
    clin = await clinicianToken(w);
    const r = await call(w, w.tokens.self, 'POST', '', {
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        { fullUrl: C, request: { method: 'POST', url: 'Communication' }, resource: { resourceType: 'Communication', status: 'completed', subject: { reference: 'Patient/kari-nordmann' }, recipient: [{ reference: 'Organization/helsebro-legesenter' }], payload: [{ contentString: 'Se vedlegg' }, { contentAttachment: { contentType: 'application/pdf', url: B, title: 'brev.pdf' } }] } },
        { fullUrl: B, request: { method: 'POST', url: 'Binary' }, resource: { resourceType: 'Binary', contentType: 'application/pdf', securityContext: { reference: C }, data: Buffer.from(PDF).toString('base64') } },
      ],
    });
    if (r.status !== 200) throw new Error(diag(r));
    const loc = (type: string) => String((r.body as Bundle).entry!.map((e) => e.response!.location!).find((l) => l.startsWith(`${type}/`))!.split('/')[1]);
    binaryId = loc('Binary');
    messageId = loc('Communication');
  });
  after(() => w?.s.close());

  const token = (a: TestedActor | 'clinician') => (a === 'clinician' ? clin : w.tokens[a]);
  const get = (t: string | null, path: string, accept?: string) => fetch(`${w.s.fhirBase}/${path}`, { headers: { ...(t ? { authorization: `Bearer ${t}` } : {}), ...(accept !== undefined ? { accept } : {}) } });

  const READERS: Array<[TestedActor | 'clinician', boolean]> = [['self', true], ['standard', true], ['communicate', true], ['full', true], ['clinician', true], ['system', true], ['read', false], ['parent', false]];
  for (const [actor, sees] of READERS) {
    it(`${actor}: Accept application/pdf gives ${sees ? 'the PDF bytes' : '404, as the FHIR form does'}`, async () => {
      const json = await get(token(actor), `Binary/${binaryId}`, 'application/fhir+json');
      const raw = await get(token(actor), `Binary/${binaryId}`, 'application/pdf');
      expect(raw.status, actor).to.equal(json.status);
      if (sees) {
        expect(raw.status).to.equal(200);
        expect(raw.headers.get('content-type')).to.match(/^application\/pdf/);
        expect(Buffer.from(await raw.arrayBuffer()).toString()).to.equal(PDF);
        expect(raw.headers.get('etag')).to.equal('W/"1"');
        expect(raw.headers.get('x-content-type-options')).to.equal('nosniff');
        const vread = await get(token(actor), `Binary/${binaryId}/_history/1`, 'application/pdf');
        expect([vread.status, await vread.text()]).to.deep.equal([200, PDF]);
      } else {
        expect(raw.status).to.equal(404);
        expect(raw.headers.get('content-type')).to.match(/^application\/fhir\+json/);
        expect(((await raw.json()) as { resourceType: string }).resourceType).to.equal('OperationOutcome');
        expect((await get(token(actor), `Binary/${binaryId}/_history/1`, 'application/pdf')).status).to.equal(404);
      }
    });
  }

  it('negotiation: */* and application/* give the bytes; FHIR types, _format and no Accept give the resource; another type is 406', async () => {
    for (const accept of ['*/*', 'application/*', 'image/png;q=0.9, application/pdf', 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8']) {
      const res = await get(w.tokens.self, `Binary/${binaryId}`, accept);
      expect([res.status, res.headers.get('content-type')?.split(';')[0], await res.text()], accept).to.deep.equal([200, 'application/pdf', PDF]);
    }
    for (const accept of ['application/fhir+json', 'application/json', 'application/pdf, application/fhir+json']) {
      const res = await get(w.tokens.self, `Binary/${binaryId}`, accept);
      expect(res.status, accept).to.equal(200);
      const b = (await res.json()) as Binary;
      expect([b.resourceType, b.id, Buffer.from(b.data!, 'base64').toString()], accept).to.deep.equal(['Binary', binaryId, PDF]);
    }
    const noAccept = await call(w, w.tokens.self, 'GET', `Binary/${binaryId}?_format=json`);
    expect(noAccept.body.resourceType).to.equal('Binary');
    const supertestLike = await fetch(`${w.s.fhirBase}/Binary/${binaryId}`, { headers: { authorization: `Bearer ${w.tokens.self}`, accept: '' } });
    expect(((await supertestLike.json()) as Binary).resourceType).to.equal('Binary');
    const formatWins = await get(w.tokens.self, `Binary/${binaryId}?_format=application/fhir%2Bjson`, 'application/pdf');
    expect(((await formatWins.json()) as Binary).resourceType).to.equal('Binary');

    for (const accept of ['image/png', 'text/*', 'application/pdf;q=0', 'application/fhir+xml']) {
      const res = await get(w.tokens.self, `Binary/${binaryId}`, accept);
      expect(res.status, accept).to.equal(406);
      const oo = (await res.json()) as { resourceType: string; issue: Array<{ expression?: string[]; diagnostics?: string }> };
      expect(oo.resourceType).to.equal('OperationOutcome');
      expect(oo.issue[0]!.expression).to.deep.equal(['Accept']);
    }
    // 406 is said only to those who may see the Binary: to others it is not there.
    expect((await get(w.tokens.read, `Binary/${binaryId}`, 'image/png')).status).to.equal(404);
  });

  it('no token → 401; an unknown id → 404; /fhir/binary (wrong case) is no Binary; If-None-Match → 304', async () => {
    const anon = await get(null, `Binary/${binaryId}`, 'application/pdf');
    expect(anon.status).to.equal(401);
    expect(await anon.text()).to.not.include(PDF);
    expect((await get(w.tokens.self, 'Binary/finnes-ikke', 'application/pdf')).status).to.equal(404);
    const lower = await get(w.tokens.system, `binary/${binaryId}`, 'application/pdf');
    expect(lower.status).to.not.equal(200);
    expect(await lower.text()).to.not.include(PDF);
    const nm = await fetch(`${w.s.fhirBase}/Binary/${binaryId}`, { headers: { authorization: `Bearer ${w.tokens.self}`, accept: 'application/pdf', 'if-none-match': 'W/"1"' } });
    expect(nm.status).to.equal(304);
  });

  // The raw read hands the same StoredResource to the same auditor as the JSON read, so the log cannot
  // tell them apart; both land in the log of the patient whose message the Binary belongs to.
  it('a raw read leaves the access log exactly what the JSON read leaves', async () => {
    const logged = async () => {
      const res = await call(w, w.tokens.system, 'GET', `AuditEvent?entity=Binary/${binaryId}&_count=1000`);
      expect(res.status, diag(res)).to.equal(200);
      return ((res.body as Bundle).entry ?? []).map((e) => e.resource as AuditEvent);
    };
    const shape = (e: AuditEvent) => JSON.stringify([e.subtype, e.agent.map((a) => a.who), e.entity?.map((x) => x.what)]);
    const start = await logged();
    expect((await get(w.tokens.full, `Binary/${binaryId}`, 'application/fhir+json')).status).to.equal(200);
    const afterJson = await logged();
    expect((await get(w.tokens.full, `Binary/${binaryId}`, 'application/pdf')).status).to.equal(200);
    const afterRaw = await logged();
    expect(afterJson.length - start.length, 'the JSON read is in the patient\'s log').to.be.at.least(1);
    expect(afterRaw.length - afterJson.length).to.equal(afterJson.length - start.length);
    const kari = await call(w, w.tokens.system, 'GET', `AuditEvent?patient=kari-nordmann&entity=Binary/${binaryId}&_count=1000`);
    expect(((kari.body as Bundle).entry ?? []).length, 'filed under the patient whose message it belongs to').to.equal(afterRaw.length);
    const added = (before: AuditEvent[], after: AuditEvent[]) => after.filter((e) => !before.some((b) => b.id === e.id)).map(shape);
    expect(added(afterJson, afterRaw)).to.deep.equal(added(start, afterJson));
    // A refused raw read shows nothing and logs nothing.
    expect((await get(w.tokens.read, `Binary/${binaryId}`, 'application/pdf')).status).to.equal(404);
    expect((await logged()).length).to.equal(afterRaw.length);
  });

  it('content a browser could run (text/html) is sent as a download in a sandbox, never inline', async () => {
    const r = await call(w, w.tokens.system, 'POST', 'Binary', { resourceType: 'Binary', contentType: 'text/html', securityContext: { reference: `Communication/${messageId}` }, data: Buffer.from('<script>alert(1)</script>').toString('base64') });
    expect(r.status, diag(r)).to.equal(201);
    const res = await get(w.tokens.self, `Binary/${r.body.id}`, 'text/html');
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-disposition')).to.match(/^attachment/);
    expect(res.headers.get('content-security-policy')).to.include('sandbox');
    expect(res.headers.get('x-content-type-options')).to.equal('nosniff');
  });
});
