/** A new message to the clinic with a PDF attachment as its own Binary, for the attachment tests (row 28). */
import type { Binary, Bundle, Communication } from 'fhir/r4';

/** The fullUrls of the Binary and of the message in the Bundle; each names the other. */
export const ATTACHMENT_URL = 'urn:uuid:6f1f0c4e-3a55-4c3e-9b0e-1d2a3b4c5d01';
export const MESSAGE_URL = 'urn:uuid:6f1f0c4e-3a55-4c3e-9b0e-1d2a3b4c5d02';

/** Kari's message to the clinic and its Binary in one transaction; each part can be overridden. */
export function withAttachment(binary: Partial<Binary> = {}, attachment: Record<string, unknown> = {}, message: Partial<Communication> = {}): Bundle {
  return {
    resourceType: 'Bundle', type: 'transaction',
    entry: [
      { fullUrl: MESSAGE_URL, request: { method: 'POST', url: 'Communication' }, resource: { resourceType: 'Communication', status: 'completed', subject: { reference: 'Patient/kari-nordmann' }, recipient: [{ reference: 'Organization/helsebro-legesenter' }], payload: [{ contentString: 'Se vedlegg' }, { contentAttachment: { contentType: 'application/pdf', url: ATTACHMENT_URL, title: 'brev.pdf', ...attachment } }], ...message } },
      { fullUrl: ATTACHMENT_URL, request: { method: 'POST', url: 'Binary' }, resource: { resourceType: 'Binary', contentType: 'application/pdf', securityContext: { reference: MESSAGE_URL }, data: Buffer.from('%PDF-1.4 brev').toString('base64'), ...binary } as Binary },
    ],
  };
}
