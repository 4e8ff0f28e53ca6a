/**
 * The messaging decisions as plain functions (issue 13): recipients of a new thread, replies, the
 * read mark, attachments. The same rules are exercised over HTTP with real tokens in messages.test.ts.
 */
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import type { Binary, Communication, Resource } from 'fhir/r4';
import { acceptsPatientMessages, binaryIdOf, MESSAGE_EXT, USER_SUPPORT_ID } from '../../src/portal/messages/codes.js';
import { decideAttachments, type AttachmentFact } from '../../src/portal/messages/decide-attachments.js';
import { decideMessageUpdate, decideNewThread, decideReply } from '../../src/portal/messages/decide-message.js';
import { attachmentFacts } from '../../src/portal/messages/message-rule.js';
import { parseSince } from '../../src/portal/messages/events-since.js';

const accepts = (v: boolean) => [{ url: MESSAGE_EXT.acceptsPatientMessages, valueBoolean: v }];
const KARI = { reference: 'Patient/kari-nordmann' };
const CLINIC = { reference: 'Organization/helsebro-legesenter' };
const msg = (extra: Partial<Communication> = {}): Communication => ({ resourceType: 'Communication', status: 'completed', subject: KARI, ...extra });

describe('messages: who accepts a new thread (pure)', () => {
  const cases: Array<[string, Resource | undefined, boolean]> = [
    ['Organization with the extension true', { resourceType: 'Organization', extension: accepts(true) } as Resource, true],
    ['Organization with the extension false', { resourceType: 'Organization', extension: accepts(false) } as Resource, false],
    ['Organization without the extension', { resourceType: 'Organization' }, false],
    ['inactive Organization with the extension true', { resourceType: 'Organization', active: false, extension: accepts(true) } as Resource, false],
    ['HealthcareService with the extension true', { resourceType: 'HealthcareService', extension: accepts(true) } as Resource, true],
    ['PractitionerRole with the extension true', { resourceType: 'PractitionerRole', extension: accepts(true) } as Resource, true],
    ['Practitioner, even with the extension', { resourceType: 'Practitioner', extension: accepts(true) } as Resource, false],
    ['Patient', { resourceType: 'Patient' }, false],
    ['user support (identifier), no extension', { resourceType: 'Organization', identifier: [{ ...USER_SUPPORT_ID }] } as Resource, true],
    ['a missing resource', undefined, false],
  ];
  for (const [what, resource, expected] of cases) it(`${what} → ${expected ? 'accepted' : 'refused'}`, () => expect(acceptsPatientMessages(resource)).to.equal(expected));

  it('no recipient → 422 naming Communication.recipient', () => {
    const e = decideNewThread([]);
    expect(e?.status).to.equal(422);
    expect(e?.issues[0]?.expression).to.deep.equal(['Communication.recipient']);
  });
  it('the second recipient refuses → 422 naming it (reference and expression path)', () => {
    const e = decideNewThread([
      { expression: 'Communication.recipient[0]', reference: 'Organization/a', resource: { resourceType: 'Organization', extension: accepts(true) } as Resource },
      { expression: 'Communication.recipient[1]', reference: 'Organization/lab', resource: { resourceType: 'Organization', extension: accepts(false) } as Resource },
    ]);
    expect(e?.status).to.equal(422);
    expect(e?.issues[0]?.expression).to.deep.equal(['Communication.recipient[1]']);
    expect(e?.issues[0]?.diagnostics).to.contain('Organization/lab');
  });
});

describe('messages: replies (pure)', () => {
  const letter = msg({ id: 'l', sender: CLINIC, recipient: [KARI], topic: { text: 'Innkalling' }, category: [{ text: 'varsel' }] });
  it('a patient-side reply without recipient goes to the sender and inherits topic and category', () => {
    const d = decideReply({ reply: msg({ inResponseTo: [{ reference: 'Communication/l' }] }), answered: letter, patientSide: true });
    expect(d).to.deep.include({ ok: true, recipient: [CLINIC], topic: { text: 'Innkalling' } });
  });
  it('a patient-side reply to someone else → 422 naming Communication.recipient', () => {
    const d = decideReply({ reply: msg({ inResponseTo: [{ reference: 'Communication/l' }], recipient: [{ reference: 'Organization/other' }] }), answered: letter, patientSide: true });
    expect(d.ok).to.equal(false);
    if (!d.ok) expect(d.error.issues[0]?.expression).to.deep.equal(['Communication.recipient']);
  });
  it('reply-allowed false → 422 for the patient side, allowed for the clinician side', () => {
    const closed = { ...letter, extension: [{ url: MESSAGE_EXT.replyAllowed, valueBoolean: false }] };
    const reply = msg({ inResponseTo: [{ reference: 'Communication/l' }] });
    const d = decideReply({ reply, answered: closed, patientSide: true });
    expect(d.ok).to.equal(false);
    if (!d.ok) expect(d.error.status).to.equal(422);
    expect(decideReply({ reply, answered: closed, patientSide: false }).ok).to.equal(true);
  });
  it('a follow-up to the patient side\'s own message goes to that message\'s recipients', () => {
    const own = msg({ id: 'o', sender: KARI, recipient: [CLINIC] });
    expect(decideReply({ reply: msg({ inResponseTo: [{ reference: 'Communication/o' }] }), answered: own, patientSide: true })).to.deep.include({ ok: true, recipient: [CLINIC] });
  });
  it('the clinician side answering the patient goes to the patient; following up its own letter goes to its recipients', () => {
    const fromKari = msg({ id: 'q', sender: KARI, recipient: [CLINIC] });
    expect(decideReply({ reply: msg({ inResponseTo: [{ reference: 'Communication/q' }] }), answered: fromKari, patientSide: false })).to.deep.include({ ok: true, recipient: [KARI] });
    expect(decideReply({ reply: msg({ inResponseTo: [{ reference: 'Communication/l' }] }), answered: letter, patientSide: false })).to.deep.include({ ok: true, recipient: [KARI] });
  });
  it('unknown message, other subject, two inResponseTo → 422', () => {
    expect(decideReply({ reply: msg({ inResponseTo: [{ reference: 'Communication/x' }] }), answered: undefined, patientSide: true }).ok).to.equal(false);
    expect(decideReply({ reply: msg({ subject: { reference: 'Patient/emma' }, inResponseTo: [{ reference: 'Communication/l' }] }), answered: letter, patientSide: false }).ok).to.equal(false);
    expect(decideReply({ reply: msg({ inResponseTo: [{ reference: 'Communication/l' }, { reference: 'Communication/m' }] }), answered: letter, patientSide: true }).ok).to.equal(false);
  });
});

describe('messages: the read mark is the only change (pure)', () => {
  const now = new Date('2026-12-03T12:00:00Z');
  const fromClinic = msg({ id: 'c', sender: CLINIC, recipient: [KARI], payload: [{ contentString: 'Hei' }] });
  const fromKari = msg({ id: 'k', sender: KARI, recipient: [CLINIC], payload: [{ contentString: 'Hei' }] });
  it('the patient side marks a clinic message read → received is the server\'s time, whatever was sent', () => {
    expect(decideMessageUpdate(fromClinic, { ...fromClinic, received: '1999-01-01T00:00:00Z' }, 'patient', now)).to.deep.equal({ ok: true, received: now.toISOString() });
  });
  it('the clinician side marks a patient message read; not its own', () => {
    expect(decideMessageUpdate(fromKari, { ...fromKari, received: 'x' }, 'clinician', now).ok).to.equal(true);
    expect(decideMessageUpdate(fromClinic, { ...fromClinic, received: 'x' }, 'clinician', now).ok).to.equal(false);
    expect(decideMessageUpdate(fromKari, { ...fromKari, received: 'x' }, 'patient', now).ok).to.equal(false);
  });
  it('any other change → 403 naming the field; an unchanged version is no change', () => {
    const d = decideMessageUpdate(fromClinic, { ...fromClinic, payload: [{ contentString: 'Endret' }], received: 'x' }, 'patient', now);
    expect(d.ok).to.equal(false);
    if (!d.ok) expect([d.error.status, d.error.issues[0]?.expression]).to.deep.equal([403, ['Communication.payload']]);
    expect(decideMessageUpdate(fromClinic, { ...fromClinic, meta: { versionId: '9' } }, 'patient', now)).to.deep.equal({ ok: true });
  });
  it('a mark is never moved or removed', () => {
    const read = { ...fromClinic, received: '2026-12-01T00:00:00Z' };
    expect(decideMessageUpdate(read, { ...read, received: '2026-12-02T00:00:00Z' }, 'patient', now).ok).to.equal(false);
    const { received: _r, ...unread } = read;
    expect(decideMessageUpdate(read, unread as Communication, 'patient', now).ok).to.equal(false);
  });
});

describe('messages: attachments (pure)', () => {
  const pdf = Buffer.from('%PDF-1.4 test');
  const sha1 = createHash('sha1').update(pdf).digest('base64');
  const binary = (extra: Partial<Binary> = {}): Binary => ({ resourceType: 'Binary', contentType: 'application/pdf', securityContext: { reference: 'Communication/m' }, data: pdf.toString('base64'), ...extra });
  const inline = (contentType: string, data = 'aGVp'): AttachmentFact => ({ expression: 'Communication.payload[0].contentAttachment', attachment: { contentType, data }, source: 'inline' });
  const viaBinary = (b: Binary | undefined, attachment: AttachmentFact['attachment'] = { url: 'Binary/b' }): AttachmentFact => ({ expression: 'Communication.payload[1].contentAttachment', attachment, source: 'binary', binaryId: 'b', ...(b ? { binary: b } : {}) });

  for (const t of ['application/pdf', 'image/jpeg', 'image/png', 'image/heic', 'text/plain', 'text/plain; charset=utf-8']) it(`${t} inline → allowed`, () => expect(decideAttachments([inline(t)], 'Communication/m', 100)).to.equal(null));
  for (const t of ['text/html', 'application/zip', 'image/svg+xml', '']) {
    it(`"${t}" → 422 naming contentType`, () => {
      const e = decideAttachments([inline(t)], 'Communication/m', 100);
      expect([e?.status, e?.issues[0]?.expression]).to.deep.equal([422, ['Communication.payload[0].contentAttachment.contentType']]);
    });
  }
  it('the total over the cap → 413; exactly at the cap → allowed', () => {
    const at = Buffer.alloc(60).toString('base64');
    expect(decideAttachments([inline('text/plain', at), inline('text/plain', at)], 'Communication/m', 120)).to.equal(null);
    expect(decideAttachments([inline('text/plain', at), inline('text/plain', at)], 'Communication/m', 119)?.status).to.equal(413);
  });
  it('a Binary counts with its own bytes and type; size and hash are checked against it', () => {
    expect(decideAttachments([viaBinary(binary(), { url: 'Binary/b', size: pdf.length, hash: sha1 })], 'Communication/m', 1000)).to.equal(null);
    expect(decideAttachments([viaBinary(binary())], 'Communication/m', pdf.length - 1)?.status).to.equal(413);
    expect(decideAttachments([viaBinary(binary(), { url: 'Binary/b', size: 3 })], 'Communication/m', 1000)?.issues[0]?.expression).to.deep.equal(['Communication.payload[1].contentAttachment.size']);
    expect(decideAttachments([viaBinary(binary(), { url: 'Binary/b', hash: 'AAAA' })], 'Communication/m', 1000)?.issues[0]?.expression).to.deep.equal(['Communication.payload[1].contentAttachment.hash']);
    expect(decideAttachments([viaBinary(binary({ contentType: 'text/html' }))], 'Communication/m', 1000)?.status).to.equal(422);
    expect(decideAttachments([viaBinary(binary(), { url: 'Binary/b', contentType: 'image/png' })], 'Communication/m', 1000)?.status).to.equal(422);
  });
  it('a Binary of another message, a missing Binary, an external url, no data or url → 422', () => {
    expect(decideAttachments([viaBinary(binary({ securityContext: { reference: 'Communication/other' } }))], 'Communication/m', 1000)?.status).to.equal(422);
    expect(decideAttachments([viaBinary(undefined)], 'Communication/m', 1000)?.status).to.equal(422);
    expect(decideAttachments([{ expression: 'x', attachment: { url: 'https://evil.example/a.pdf' }, source: 'external' }], 'Communication/m', 1000)?.issues[0]?.expression).to.deep.equal(['x.url']);
    expect(decideAttachments([{ expression: 'x', attachment: {}, source: 'empty' }], 'Communication/m', 1000)?.status).to.equal(422);
  });
  it('where the bytes are: inline, Binary/<id> relative or under this base, payload.contentReference; other urls are external', () => {
    const m = msg({ payload: [
      { contentAttachment: { contentType: 'text/plain', data: 'aGVp' } },
      { contentAttachment: { url: 'https://fhir.example/fhir/Binary/b1' } },
      { contentAttachment: { url: 'https://other.example/fhir/Binary/b2' } },
      { contentReference: { reference: 'Binary/b3' } },
      { contentAttachment: { title: 'ingenting' } },
    ] });
    expect(attachmentFacts(m, 'https://fhir.example/fhir').map((f) => [f.source, f.binaryId ?? null])).to.deep.equal([['inline', null], ['binary', 'b1'], ['external', null], ['empty', null], ['binary', 'b3']]);
    expect(binaryIdOf('Binary/a/_history/1')).to.equal(null);
  });
});

describe('$events-since: _since (pure)', () => {
  it('an instant with a zone → normalised UTC; a date, a bare time or garbage → 400', () => {
    expect(parseSince('2026-11-01T01:00:00+01:00')).to.equal('2026-11-01T00:00:00.000Z');
    for (const bad of [undefined, '', '2026-11-01', '2026-11-01T00:00:00', 'yesterday', ['a']]) expect(() => parseSince(bad), String(bad)).to.throw('_since');
  });
});
