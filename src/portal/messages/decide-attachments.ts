/**
 * A message's attachments as a pure decision (issue 13): inline `data` or a Binary of this server
 * that belongs to this very message (`Binary.securityContext`), of an allowed type (PDF, JPEG, PNG,
 * HEIC, plain text), with `size` and `hash` matching the bytes when stated, and all of them together
 * within the configured cap per message (413 above it, 422 for everything else).
 */
import { createHash } from 'node:crypto';
import type { Attachment, Binary } from 'fhir/r4';
import { businessRule, FhirError } from '../../fhir/errors.js';
import { ALLOWED_CONTENT_TYPES, mediaType } from './codes.js';

export interface AttachmentFact {
  /** FHIRPath of the attachment (or payload reference), for errors. */
  expression: string;
  /** The attachment as sent (undefined for `payload.contentReference`). */
  attachment: Attachment | undefined;
  /** Where the bytes are: inline, a Binary here (`binaryId`), or nowhere usable. */
  source: 'inline' | 'binary' | 'external' | 'empty';
  binaryId?: string;
  /** The Binary named, if it exists (read inside the write's transaction). */
  binary?: Binary;
}

export const bytesOf = (base64: string | undefined): Buffer => Buffer.from(base64 ?? '', 'base64');

export function decideAttachments(facts: readonly AttachmentFact[], messageRef: string, maxBytes: number): FhirError | null {
  let total = 0;
  for (const f of facts) {
    const at = f.expression;
    if (f.source === 'empty') return businessRule(`${at} has neither data nor url: attach the file inline (data) or as a Binary (url Binary/<id>)`, at);
    if (f.source === 'external') return businessRule(`${at}.url must name a Binary on this server (Binary/<id>); links to other places belong in the message text`, `${at}.url`);
    let contentType = f.attachment?.contentType;
    let bytes: Buffer;
    if (f.source === 'binary') {
      const b = f.binary;
      if (!b) return businessRule(`${at} names Binary/${f.binaryId}, which does not exist`, f.attachment ? `${at}.url` : at);
      if (b.securityContext?.reference !== messageRef) {
        return businessRule(`Binary/${f.binaryId} does not belong to this message: its securityContext must be ${messageRef} (it is read exactly by those who may read the message)`, f.attachment ? `${at}.url` : at);
      }
      if (contentType && mediaType(contentType) !== mediaType(b.contentType)) return businessRule(`${at}.contentType is ${contentType} but Binary/${f.binaryId} holds ${b.contentType}`, `${at}.contentType`);
      contentType ??= b.contentType;
      bytes = bytesOf(b.data);
      // Inline size and hash are checked by the validator (code-rules.ts); a Binary's are checked here.
      if (typeof f.attachment?.size === 'number' && f.attachment.size !== bytes.length) return businessRule(`${at}.size is ${f.attachment.size} but Binary/${f.binaryId} holds ${bytes.length} bytes`, `${at}.size`);
      if (typeof f.attachment?.hash === 'string') {
        const sha1 = createHash('sha1').update(bytes).digest('base64');
        if (f.attachment.hash.replace(/\s/g, '') !== sha1) return businessRule(`${at}.hash is not the base64 SHA-1 of Binary/${f.binaryId} (${sha1})`, `${at}.hash`);
      }
    } else bytes = bytesOf(f.attachment?.data);
    if (!ALLOWED_CONTENT_TYPES.includes(mediaType(contentType))) {
      return businessRule(`${at}.contentType ${contentType ? `"${contentType}" is not allowed` : 'is missing'}: a message may carry ${ALLOWED_CONTENT_TYPES.join(', ')}`, `${at}.contentType`);
    }
    total += bytes.length;
  }
  if (total > maxBytes) {
    return new FhirError(413, { code: 'too-long', diagnostics: `The attachments of this message hold ${total} bytes; at most ${maxBytes} bytes are accepted per message (MESSAGE_MAX_BYTES)`, expression: ['Communication.payload'] });
  }
  return null;
}
