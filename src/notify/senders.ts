/**
 * Outgoing channels (issue 14): SMS and e-mail through pluggable senders. The development senders
 * append one JSON line per message to a file in NOTIFY_OUTBOX_DIR and never touch the network; a
 * production installation hands in senders for its SMS gateway and mail relay (e.g. the national
 * notification service) with the same interface.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { EventKind } from './codes.js';

export interface OutgoingMessage {
  /** Outbox row id and channel: the same message is never sent twice under one key (receivers deduplicate on it). */
  key: string;
  channel: 'sms' | 'email';
  to: string;
  event: EventKind;
  text: string;
  /** Where in the portal to look. */
  link: string;
}

export interface Sender {
  send(message: OutgoingMessage): Promise<void>;
}

export interface Senders {
  sms: Sender;
  email: Sender;
}

/** An 11-digit run is what a fødselsnummer or D-number looks like; none may leave in a message. */
const NATIONAL_ID = /(?<!\d)\d{11}(?!\d)/;

export function assertNoNationalId(message: OutgoingMessage): void {
  if (NATIONAL_ID.test(JSON.stringify(message))) throw new Error('refusing to send a message that contains an 11-digit number (a national identity number must never leave in a notification)');
}

/** Development senders: `sms.ndjson` and `email.ndjson` in `dir`, one JSON object per line. */
export function fileSenders(dir: string): Senders {
  const sender = (file: string): Sender => ({
    async send(message) {
      assertNoNationalId(message);
      await fs.mkdir(dir, { recursive: true });
      await fs.appendFile(path.join(dir, file), `${JSON.stringify({ ...message, at: new Date().toISOString() })}\n`, 'utf8');
    },
  });
  return { sms: sender('sms.ndjson'), email: sender('email.ndjson') };
}
