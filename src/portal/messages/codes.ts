/**
 * The messaging contract's vocabulary (issue 13; README "Messages"): who accepts messages from
 * patients, which clinician messages may not be answered, how the portal's user support is known,
 * and which attachment types a message may carry.
 */
import type { Attachment, Communication, Extension, Organization, Resource } from 'fhir/r4';

export const MESSAGE_EXT = {
  /** On Organization, HealthcareService, PractitionerRole: citizens may start a thread with it (FAQ 001). */
  acceptsPatientMessages: 'https://fhir.helsebro.no/StructureDefinition/accepts-patient-messages',
  /** On a clinician's Communication: `false` = the patient side may not reply (S26). */
  replyAllowed: 'https://fhir.helsebro.no/StructureDefinition/reply-allowed',
} as const;

/**
 * The portal's user support ("HelsaMi support", FAQ 001) is an Organization carrying this identifier.
 * It is always a valid recipient of a new thread, whatever its extension says: the FAQ names it as
 * a recipient every citizen has, so a data-entry slip cannot take it away.
 */
export const USER_SUPPORT_ID = { system: 'https://fhir.helsebro.no/NamingSystem/portal-service', value: 'user-support' } as const;

/** The types a patient may be written to about (issue 13). */
export const RECIPIENT_TYPES = ['Organization', 'HealthcareService', 'PractitionerRole'] as const;

/** PDF, JPEG, PNG, HEIC and plain text (issue 13); media type parameters (charset) are ignored. */
export const ALLOWED_CONTENT_TYPES: readonly string[] = ['application/pdf', 'image/jpeg', 'image/png', 'image/heic', 'text/plain'];

export const DEFAULT_MESSAGE_MAX_BYTES = 10 * 1024 * 1024;

export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

export function booleanExtension(resource: { extension?: Extension[] } | undefined, url: string): boolean | undefined {
  return resource?.extension?.find((e) => e.url === url)?.valueBoolean;
}

export function isUserSupport(resource: Resource | undefined): boolean {
  if (resource?.resourceType !== 'Organization') return false;
  return ((resource as Organization).identifier ?? []).some((i) => i.system === USER_SUPPORT_ID.system && i.value === USER_SUPPORT_ID.value);
}

/** Whether a thread may be started with this resource by the patient side. */
export function acceptsPatientMessages(resource: Resource | undefined): boolean {
  if (!resource || !(RECIPIENT_TYPES as readonly string[]).includes(resource.resourceType)) return false;
  if ((resource as { active?: boolean }).active === false) return false;
  return isUserSupport(resource) || booleanExtension(resource as { extension?: Extension[] }, MESSAGE_EXT.acceptsPatientMessages) === true;
}

/** `reply-allowed` false on the message answered forbids a patient-side reply (S26); absent = allowed. */
export function repliesAllowed(message: Communication): boolean {
  return booleanExtension(message, MESSAGE_EXT.replyAllowed) !== false;
}

/** The patient side acts as a Patient or a RelatedPerson; clinics and systems do not. */
export function isPatientSideRef(reference: string | undefined): boolean {
  return /^(Patient|RelatedPerson)\/[A-Za-z0-9\-.]{1,64}$/.test(reference ?? '');
}

/** Every attachment of a message, with the FHIRPath that names it (for errors). */
export function attachmentsOf(message: Communication): Array<{ attachment: Attachment; expression: string }> {
  return (message.payload ?? []).flatMap((p, i) => (p.contentAttachment ? [{ attachment: p.contentAttachment, expression: `Communication.payload[${i}].contentAttachment` }] : []));
}

/** `Binary/<id>` named by an attachment url or a payload reference, relative or under this server's base. */
export function binaryIdOf(url: string | undefined, fhirBase = ''): string | null {
  if (!url) return null;
  const local = fhirBase && url.startsWith(`${fhirBase}/`) ? url.slice(fhirBase.length + 1) : url;
  const m = /^Binary\/([A-Za-z0-9\-.]{1,64})$/.exec(local);
  return m ? m[1]! : null;
}
