/**
 * Every door a message attachment comes out of is logged under the patient whose message it is
 * (seed S23: every look at the record is logged; access-spec §5.3 row 28). A Binary is in no patient
 * compartment, so only the plain read (stored text, repository/stored.ts) knew its patients; a
 * history Bundle or a search with `_elements` shows the same bytes as a parsed resource, and was
 * logged under no one when the reader had no patient in context (a clinician). Over HTTP, real tokens.
 */
import { expect } from 'chai';
import type { Bundle } from 'fhir/r4';
import { buildWorld, type World } from '../access/world.js';
import { clinicianToken } from '../portal/clinician-token.js';
import { withAttachment } from '../portal/attachment-bundle.js';
import { call, diag } from '../portal/http.js';

describe('a message attachment is logged under its patient through every door (row 28, S23)', function () {
  this.timeout(300_000);
  let w: World;
  let clin: string;
  let binaryId: string;

  before(async () => {
    w = await buildWorld();
    clin = await clinicianToken(w);
    const r = await call(w, w.tokens.self, 'POST', '', withAttachment());
    if (r.status !== 200) throw new Error(diag(r));
    binaryId = String((r.body as Bundle).entry!.map((e) => e.response!.location!).find((l) => l.startsWith('Binary/'))!.split('/')[1]);
  });
  after(() => w?.s.close());

  const inKarisLog = async (): Promise<number> => {
    const res = await call(w, w.tokens.system, 'GET', `AuditEvent?patient=kari-nordmann&entity=Binary/${binaryId}&_count=1000`);
    expect(res.status, diag(res)).to.equal(200);
    return ((res.body as Bundle).entry ?? []).length;
  };

  const DOORS: Array<[string, () => string]> = [
    ['read', () => `Binary/${binaryId}`],
    ['vread', () => `Binary/${binaryId}/_history/1`],
    ['instance history', () => `Binary/${binaryId}/_history`],
    ['search with _elements', () => `Binary?_id=${binaryId}&_elements=contentType`],
    ['search with _summary=data', () => `Binary?_id=${binaryId}&_summary=data`],
  ];
  for (const [door, path] of DOORS) {
    it(`a clinician's ${door} shows the attachment and lands in Kari's log`, async () => {
      const before = await inKarisLog();
      const res = await call(w, clin, 'GET', path());
      expect(res.status, diag(res)).to.equal(200);
      expect(JSON.stringify(res.body), 'the attachment was shown').to.include(binaryId);
      expect(await inKarisLog(), `${door} is in Kari's access log`).to.equal(before + 1);
    });
  }

  it('a clinician\'s batch with a read of the attachment lands in Kari\'s log', async () => {
    const before = await inKarisLog();
    const res = await call(w, clin, 'POST', '', { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: `Binary/${binaryId}/_history` } }] });
    expect(res.status, diag(res)).to.equal(200);
    expect(JSON.stringify(res.body), 'the attachment was shown').to.include(binaryId);
    expect(await inKarisLog(), 'the batch is in Kari\'s access log').to.equal(before + 1);
  });

  it('a Binary whose message is gone, or that names none, is shown to the system client and logged under no patient', async () => {
    const lone = await call(w, w.tokens.system, 'POST', 'Binary', { resourceType: 'Binary', contentType: 'application/pdf', data: Buffer.from('%PDF-1.4 alene').toString('base64') });
    expect(lone.status, diag(lone)).to.equal(201);
    const id = String(lone.body.id);
    const res = await call(w, w.tokens.system, 'GET', `Binary/${id}/_history`);
    expect(res.status, diag(res)).to.equal(200);
    const logged = await call(w, w.tokens.system, 'GET', `AuditEvent?entity=Binary/${id}&_count=100`);
    expect(((logged.body as Bundle).entry ?? []).length).to.equal(0);
  });
});
