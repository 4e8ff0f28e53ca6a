/**
 * The messaging write rules (issue 13), installed by src/server.ts through the write-rules port, so
 * they hold for every door a Communication or Binary comes in by (REST, batch/transaction entries,
 * conditional writes, PUT/PATCH). They load the facts inside the write's transaction and apply the
 * pure decisions of decide-message.ts and decide-attachments.ts.
 *
 * Attachments are judged just before the transaction commits: a message and the Binaries that carry
 * its files are sent together in one transaction Bundle (each naming the other through `urn:uuid:`
 * fullUrls), in whatever order the entries come.
 */
import type { Binary, Communication, Resource } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../access/access-context.js';
import { businessRule } from '../../fhir/errors.js';
import type { Repository } from '../../fhir/repository/repository.js';
import type { WriteChange, WriteRule } from '../../fhir/repository/write-rules.js';
import { idOf, sameJson } from '../booking/codes.js';
import { attachmentsOf, binaryIdOf, DEFAULT_MESSAGE_MAX_BYTES, RECIPIENT_TYPES } from './codes.js';
import { decideAttachments, type AttachmentFact } from './decide-attachments.js';
import { decideMessageUpdate, decideNewThread, decideReply, type RecipientFact } from './decide-message.js';

export interface MessageSettings {
  /** Largest total of attachment bytes per message (MESSAGE_MAX_BYTES; issue 13 default 10 MB). */
  maxBytes: number;
  /** This server's FHIR base, so `<base>/Binary/<id>` attachment urls count as ours. */
  fhirBase: string;
  now: () => Date;
}

export function messageRules(opts: Partial<MessageSettings> = {}): WriteRule[] {
  const s: MessageSettings = { maxBytes: opts.maxBytes ?? DEFAULT_MESSAGE_MAX_BYTES, fhirBase: opts.fhirBase ?? '', now: opts.now ?? (() => new Date()) };
  return [
    async (change, tx) => {
      if (change.interaction === 'delete') return;
      if (change.resource.resourceType === 'Communication') return judgeMessage(change, tx, s);
      if (change.resource.resourceType === 'Binary') return judgeBinary(change, tx, s);
    },
  ];
}

async function judgeMessage(change: WriteChange, tx: Repository, s: MessageSettings): Promise<void> {
  const message = change.resource as Communication;
  const previous = change.previous as Communication | undefined;
  const side = change.access.side;
  if (previous && (side === 'patient' || side === 'clinician')) {
    const d = decideMessageUpdate(previous, message, side, s.now());
    if (!d.ok) throw d.error;
    if (d.received) message.received = d.received;
    return;
  }
  if (!previous && (side === 'patient' || side === 'clinician')) {
    if (message.inResponseTo?.length) {
      const answeredId = idOf(message.inResponseTo[0]?.reference, 'Communication');
      // Read as the writer sees it: a message outside their view is as unknown as a missing one.
      const answered = answeredId ? await tx.read<Communication>('Communication', answeredId, change.access).catch(() => undefined) : undefined;
      const d = decideReply({ reply: message, answered, patientSide: side === 'patient' });
      if (!d.ok) throw d.error;
      message.recipient = d.recipient;
      if (d.topic) message.topic = d.topic;
      if (d.category) message.category = d.category;
    } else if (side === 'patient') {
      const refusal = decideNewThread(await recipientFacts(message, tx));
      if (refusal) throw refusal;
    }
    if (side === 'patient') message.sent ??= s.now().toISOString();
  }
  if (!previous || !sameJson(previous.payload, message.payload)) pendingOf(tx, s).messages.add(message.id!);
}

async function recipientFacts(message: Communication, tx: Repository): Promise<RecipientFact[]> {
  return Promise.all(
    (message.recipient ?? []).map(async (r, i) => {
      const type = RECIPIENT_TYPES.find((t) => idOf(r.reference, t));
      const resource = type ? await tx.read<Resource>(type, idOf(r.reference, type)!, SYSTEM_ACCESS).catch(() => undefined) : undefined;
      return { expression: `Communication.recipient[${i}]`, reference: r.reference, resource };
    }),
  );
}

/**
 * A Binary belongs to the message named by its securityContext and is read as that message is
 * (access-spec §5.3 row 28). The patient side sends a Binary only together with its new message,
 * in the same transaction: otherwise a citizen could hang a file on a message they did not write.
 */
async function judgeBinary(change: WriteChange, tx: Repository, s: MessageSettings): Promise<void> {
  if (change.access.side !== 'patient') return;
  const binary = change.resource as Binary;
  if (!idOf(binary.securityContext?.reference, 'Communication')) {
    throw businessRule('A Binary sent by or for a patient is an attachment of a message: Binary.securityContext must name that Communication (sent in the same transaction)', 'Binary.securityContext');
  }
  pendingOf(tx, s).patientBinaries.add(binary.id!);
}

interface Pending {
  /** Messages created (or whose payload changed) in this transaction. */
  messages: Set<string>;
  /** Binaries the patient side wrote in this transaction. */
  patientBinaries: Set<string>;
}

const pendingByTx = new WeakMap<Repository, Pending>();

function pendingOf(tx: Repository, s: MessageSettings): Pending {
  let p = pendingByTx.get(tx);
  if (!p) {
    const pending: Pending = { messages: new Set(), patientBinaries: new Set() };
    p = pending;
    pendingByTx.set(tx, pending);
    tx.beforeCommit(pending, async (t) => {
      pendingByTx.delete(tx);
      await verifyBeforeCommit(pending, t, s);
    });
  }
  return p;
}

async function verifyBeforeCommit(p: Pending, tx: Repository, s: MessageSettings): Promise<void> {
  const read = <T extends Resource>(type: T['resourceType'], id: string) => tx.read<T>(type, id, SYSTEM_ACCESS).catch(() => undefined);
  for (const id of p.messages) {
    const message = await read<Communication>('Communication', id);
    if (!message) continue;
    const facts = await Promise.all(attachmentFacts(message, s.fhirBase).map(async (f) => (f.binaryId ? { ...f, binary: await read<Binary>('Binary', f.binaryId) } : f)));
    const refusal = decideAttachments(facts, `Communication/${id}`, s.maxBytes);
    if (refusal) throw refusal;
  }
  for (const id of p.patientBinaries) {
    const binary = await read<Binary>('Binary', id);
    const messageId = idOf(binary?.securityContext?.reference, 'Communication');
    const message = messageId && p.messages.has(messageId) ? await read<Communication>('Communication', messageId) : undefined;
    if (!message || !attachmentFacts(message, s.fhirBase).some((f) => f.binaryId === id)) {
      throw businessRule(`Binary/${id} must be an attachment of a message sent in the same transaction: its securityContext names ${binary?.securityContext?.reference ?? 'nothing'}, which is not a new message carrying it`, 'Binary.securityContext');
    }
  }
}

/** Where each attachment's bytes are (before the Binaries are read). */
export function attachmentFacts(message: Communication, fhirBase: string): AttachmentFact[] {
  const facts: AttachmentFact[] = attachmentsOf(message).map(({ attachment, expression }) => {
    if (attachment.data !== undefined) return { expression, attachment, source: 'inline' };
    if (!attachment.url) return { expression, attachment, source: 'empty' };
    const binaryId = binaryIdOf(attachment.url, fhirBase);
    return binaryId ? { expression, attachment, source: 'binary', binaryId } : { expression, attachment, source: 'external' };
  });
  (message.payload ?? []).forEach((p, i) => {
    const binaryId = binaryIdOf(p.contentReference?.reference, fhirBase);
    if (binaryId) facts.push({ expression: `Communication.payload[${i}].contentReference`, attachment: undefined, source: 'binary', binaryId });
  });
  return facts;
}
