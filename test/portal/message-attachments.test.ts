/**
 * Attachments of messages (issue 13; access-spec §5.3 row 28), over HTTP with real tokens: inline or
 * as Binaries sent in the message's transaction, allowed types, the size cap (413), size and hash;
 * and a Binary readable exactly by those who may read its message — through read, search, vread,
 * _history, _include/_revinclude — compiled into the SQL, for every actor.
 */
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import type { Binary, Bundle, Communication, DocumentReference, Resource } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import { buildWorld, type TestedActor, type World } from '../access/world.js';
import { call, diag, type Res } from './http.js';
import { ATTACHMENT_URL as B, withAttachment } from './attachment-bundle.js';
import { clinicianToken } from './clinician-token.js';

const KARI = { reference: 'Patient/kari-nordmann' };
const CLINIC = { reference: 'Organization/helsebro-legesenter' };
const CAP = 64 * 1024;
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

const idsOf = (r: Res): string[] => ((r.body as Bundle).entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);
const createdId = (r: Res, type: string) => String(r.body.entry.find((e: { response: { location: string } }) => e.response.location.startsWith(type)).response.location.split('/')[1]);

describe('message attachments and who reads a Binary (issue 13, row 28)', function () {
  this.timeout(600_000);
  let w: World;
  let clin: string;
  let binaryId: string;
  let messageId: string;
  const since = new Date(Date.now() - 60_000).toISOString();
  const tokens = (a: TestedActor | 'clinician') => (a === 'clinician' ? clin : w.tokens[a]);

  before(async () => {
    w = await buildWorld({ messageMaxBytes: CAP });
    clin = await clinicianToken(w);
    const r = await call(w, w.tokens.self, 'POST', '', withAttachment({}));
    if (r.status !== 200) throw new Error(diag(r));
    binaryId = createdId(r, 'Binary');
    messageId = createdId(r, 'Communication');
  });
  after(() => w?.s.close());

  describe('sending', () => {
    it('message and Binary in one transaction → 200; the attachment url becomes Binary/<id>, the Binary belongs to the message', async () => {
      const m = await call(w, w.tokens.self, 'GET', `Communication/${messageId}`);
      expect(m.body.payload[1].contentAttachment.url).to.equal(`Binary/${binaryId}`);
      expect((await w.s.repo.read<Binary>('Binary', binaryId, SYSTEM_ACCESS)).securityContext).to.deep.equal({ reference: `Communication/${messageId}` });
    });
    it('inline attachments of every allowed type → 201; text/html → 422 naming contentType', async () => {
      for (const contentType of ['application/pdf', 'image/jpeg', 'image/png', 'image/heic', 'text/plain']) {
        const r = await call(w, w.tokens.standard, 'POST', 'Communication', { resourceType: 'Communication', status: 'completed', subject: KARI, recipient: [CLINIC], payload: [{ contentAttachment: { contentType, data: b64('x') } }] });
        expect(r.status, `${contentType} ${diag(r)}`).to.equal(201);
      }
      const html = await call(w, w.tokens.self, 'POST', 'Communication', { resourceType: 'Communication', status: 'completed', subject: KARI, recipient: [CLINIC], payload: [{ contentAttachment: { contentType: 'text/html', data: b64('<b>x</b>') } }] });
      expect([html.status, html.body.issue?.[0]?.expression]).to.deep.equal([422, ['Communication.payload[0].contentAttachment.contentType']]);
    });
    it('over MESSAGE_MAX_BYTES in total (inline + Binary) → 413, nothing stored; inline size or hash wrong → 422', async () => {
      const before = (await call(w, w.tokens.system, 'GET', 'Binary?_summary=count')).body.total;
      const half = Buffer.alloc(CAP / 2 + 1);
      const r = await call(w, w.tokens.self, 'POST', '', withAttachment({ data: b64(half) }, {}, { payload: [{ contentAttachment: { contentType: 'text/plain', data: b64(half) } }, { contentAttachment: { contentType: 'application/pdf', url: B } }] }));
      expect([r.status, r.body.issue?.[0]?.code]).to.deep.equal([413, 'too-long']);
      expect((await call(w, w.tokens.system, 'GET', 'Binary?_summary=count')).body.total).to.equal(before);
      const size = await call(w, w.tokens.self, 'POST', 'Communication', { resourceType: 'Communication', status: 'completed', subject: KARI, recipient: [CLINIC], payload: [{ contentAttachment: { contentType: 'text/plain', data: b64('abc'), size: 4 } }] });
      expect(size.status).to.equal(422);
      const hash = await call(w, w.tokens.self, 'POST', '', withAttachment({}, { hash: createHash('sha1').update('noe annet').digest('base64') }));
      expect([hash.status, hash.body.issue?.[0]?.expression]).to.deep.equal([422, ['Communication.payload[1].contentAttachment.hash']]);
    });
    it('a Binary alone, for an existing message, or one that its message does not carry → 422; Read may not send one (403)', async () => {
      const alone = await call(w, w.tokens.self, 'POST', 'Binary', { resourceType: 'Binary', contentType: 'text/plain', data: b64('x') });
      expect([alone.status, alone.body.issue?.[0]?.expression]).to.deep.equal([422, ['Binary.securityContext']]);
      const later = await call(w, w.tokens.self, 'POST', 'Binary', { resourceType: 'Binary', contentType: 'text/plain', securityContext: { reference: 'Communication/kari-melding-2026-10-15-innkalling' }, data: b64('x') });
      expect(later.status, 'hanging a file on a message already sent').to.equal(422);
      const bundle = withAttachment({});
      (bundle.entry![0]!.resource as Communication).payload = [{ contentString: 'uten vedlegg' }];
      expect((await call(w, w.tokens.self, 'POST', '', bundle)).status).to.equal(422);
      expect((await call(w, w.tokens.read, 'POST', '', withAttachment({}))).status).to.equal(403);
    });
    it('an attachment naming another message\'s Binary, or a url elsewhere → 422', async () => {
      const msg = (url: string) => ({ resourceType: 'Communication', status: 'completed', subject: KARI, recipient: [CLINIC], payload: [{ contentAttachment: { contentType: 'application/pdf', url } }] });
      const stolen = await call(w, w.tokens.self, 'POST', 'Communication', msg('Binary/kari-vedlegg-innkalling-2026-10-15'));
      expect([stolen.status, stolen.body.issue?.[0]?.expression]).to.deep.equal([422, ['Communication.payload[0].contentAttachment.url']]);
      expect((await call(w, w.tokens.self, 'POST', 'Communication', msg('https://evil.example/brev.pdf'))).status).to.equal(422);
    });
  });

  describe('reading a Binary = reading its message', () => {
    const READERS: Array<[TestedActor | 'clinician', boolean]> = [['self', true], ['standard', true], ['communicate', true], ['full', true], ['clinician', true], ['system', true], ['read', false], ['parent', false]];
    for (const [actor, sees] of READERS) {
      it(`${actor}: read, search, vread, _history and _revinclude ${sees ? 'show' : 'hide'} the attachment`, async () => {
        const t = tokens(actor);
        const read = await call(w, t, 'GET', `Binary/${binaryId}`);
        expect(read.status, `read ${diag(read)}`).to.equal(sees ? 200 : 404);
        if (sees) expect(Buffer.from(read.body.data, 'base64').toString()).to.equal('%PDF-1.4 brev');
        const search = await call(w, t, 'GET', `Binary?_id=${binaryId}`);
        expect(search.status).to.equal(200);
        expect(idsOf(search)).to.deep.equal(sees ? [`Binary/${binaryId}`] : []);
        expect((await call(w, t, 'GET', `Binary/${binaryId}/_history/1`)).status, 'vread').to.equal(sees ? 200 : 404);
        const history = await call(w, t, 'GET', `Binary/${binaryId}/_history`);
        expect(history.status === 200 ? idsOf(history) : [], 'instance history').to.deep.equal(sees ? [`Binary/${binaryId}`] : []);
        const typeHistory = await call(w, t, 'GET', `Binary/_history?_count=1000`);
        expect(idsOf(typeHistory).includes(`Binary/${binaryId}`), 'type history').to.equal(sees);
        const systemHistory = await call(w, t, 'GET', `_history?_count=1000&_since=${encodeURIComponent(since)}`);
        expect(idsOf(systemHistory).includes(`Binary/${binaryId}`), 'system history').to.equal(sees);
        const rev = await call(w, t, 'GET', `Communication?_id=${messageId}&_revinclude=Binary:security-context`);
        if (rev.status === 200) expect(idsOf(rev).includes(`Binary/${binaryId}`), '_revinclude').to.equal(sees);
        const inc = await call(w, t, 'GET', `Binary?_id=${binaryId}&_include=Binary:security-context`);
        expect(idsOf(inc).includes(`Communication/${messageId}`), '_include of the message').to.equal(sees);
      });
    }
    it('the demo letter\'s PDF: Kari reads it, Emma\'s parent and Kari\'s Read proxy do not', async () => {
      expect((await call(w, w.tokens.self, 'GET', 'Binary/kari-vedlegg-innkalling-2026-10-15')).status).to.equal(200);
      expect((await call(w, w.tokens.parent, 'GET', 'Binary/kari-vedlegg-innkalling-2026-10-15')).status).to.equal(404);
      expect((await call(w, w.tokens.read, 'GET', 'Binary?_id=kari-vedlegg-innkalling-2026-10-15')).body.total).to.equal(0);
    });
  });

  describe('what a Binary is visible through', () => {
    const store = async (r: Resource) => (await w.s.repo.create(r, SYSTEM_ACCESS)).resource.id!;
    it('no securityContext: closed to the patient side and to clinicians; the system sees it', async () => {
      const id = await store({ resourceType: 'Binary', contentType: 'text/plain', data: b64('løs') } as Binary);
      for (const a of ['self', 'full', 'clinician'] as const) expect((await call(w, tokens(a), 'GET', `Binary/${id}`)).status, a).to.equal(404);
      expect((await call(w, w.tokens.system, 'GET', `Binary/${id}`)).status).to.equal(200);
    });
    it('a personal note\'s attachment: Kari yes, her Full proxy yes, the clinician never (S16)', async () => {
      const id = await store({ resourceType: 'Binary', contentType: 'text/plain', securityContext: { reference: 'DocumentReference/kari-personlig-notat-1' }, data: b64('notat') } as Binary);
      expect((await call(w, w.tokens.self, 'GET', `Binary/${id}`)).status).to.equal(200);
      expect((await call(w, w.tokens.full, 'GET', `Binary/${id}`)).status).to.equal(200);
      expect((await call(w, clin, 'GET', `Binary/${id}`)).status).to.equal(404);
      expect((await call(w, w.tokens.communicate, 'GET', `Binary/${id}`)).status).to.equal(404);
    });
    it('another server\'s Communication/<id> lends no visibility; a Binary cannot borrow from a Binary', async () => {
      const abs = await store({ resourceType: 'Binary', contentType: 'text/plain', securityContext: { reference: `https://evil.example/fhir/Communication/${messageId}` }, data: b64('x') } as Binary);
      expect((await call(w, w.tokens.self, 'GET', `Binary/${abs}`)).status).to.equal(404);
      const chained = await store({ resourceType: 'Binary', contentType: 'text/plain', securityContext: { reference: `Binary/${binaryId}` }, data: b64('x') } as Binary);
      expect((await call(w, w.tokens.self, 'GET', `Binary/${chained}`)).status).to.equal(404);
    });
    it('the message deleted → its Binary is gone for the patient side through read, vread and history', async () => {
      const r = await call(w, w.tokens.self, 'POST', '', withAttachment({}));
      const [bin, comm] = [createdId(r, 'Binary'), createdId(r, 'Communication')];
      expect((await call(w, w.tokens.self, 'GET', `Binary/${bin}`)).status).to.equal(200);
      await w.s.repo.delete('Communication', comm, SYSTEM_ACCESS);
      expect((await call(w, w.tokens.self, 'GET', `Binary/${bin}`)).status).to.equal(404);
      expect((await call(w, w.tokens.self, 'GET', `Binary/${bin}/_history/1`)).status).to.equal(404);
      expect(idsOf(await call(w, w.tokens.self, 'GET', 'Binary/_history?_count=1000'))).to.not.include(`Binary/${bin}`);
      expect((await call(w, w.tokens.system, 'GET', `Binary/${bin}`)).status).to.equal(200);
    });
    it('a DocumentReference of Kari\'s record: her Read proxy reads the clinical note\'s attachment', async () => {
      const doc = (await w.s.repo.read<DocumentReference>('DocumentReference', 'kari-notat-2025-09-02', SYSTEM_ACCESS)).id!;
      const id = await store({ resourceType: 'Binary', contentType: 'application/pdf', securityContext: { reference: `DocumentReference/${doc}` }, data: b64('%PDF') } as Binary);
      expect((await call(w, w.tokens.read, 'GET', `Binary/${id}`)).status).to.equal(200);
      expect((await call(w, w.tokens.standard, 'GET', `Binary/${id}`)).status, 'Standard sees no clinical notes').to.equal(404);
    });
  });
});
