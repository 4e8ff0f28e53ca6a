/**
 * Deterministic identities of what the bridges write. Observation identifiers come from the
 * platform's own sample id so a re-push matches by conditional create; Devices and Provenances get
 * content-derived identifiers so they are written once per patient and source.
 */
import { createHash } from 'node:crypto';

export const SID = {
  healthKitUuid: 'https://fhir.helsebro.no/sid/healthkit-uuid',
  googleFitPoint: 'https://fhir.helsebro.no/sid/google-fit-point',
  googleFitDataSource: 'https://fhir.helsebro.no/sid/google-fit-data-source',
  /** Health Connect `metadata.id` (the record id Health Connect assigns). */
  healthConnectRecord: 'https://fhir.helsebro.no/sid/health-connect-record',
  /** SHA-256 of the writing app's package, record type and `metadata.clientRecordId`. */
  healthConnectClientRecord: 'https://fhir.helsebro.no/sid/health-connect-client-record',
  /** `<client-record key>@<clientRecordVersion>`: which version of the record the Observation holds. */
  healthConnectClientRecordVersion: 'https://fhir.helsebro.no/sid/health-connect-client-record-version',
  bridgeDevice: 'https://fhir.helsebro.no/sid/bridge-device',
  /** One push of samples from one source (Provenance.entity, role source). */
  bridgePush: 'https://fhir.helsebro.no/sid/bridge-push',
} as const;

/** SHA-256 hex of the parts joined with a separator that cannot occur in them unescaped. */
export function hashParts(...parts: readonly string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p.replaceAll('\\', '\\\\').replaceAll('\n', '\\n')).update('\n');
  return h.digest('hex');
}

/** A UUID-shaped name (RFC 9562 version 8 layout) derived from the parts, for `urn:uuid:` fullUrls. */
export function hashUuid(...parts: readonly string[]): string {
  const hex = hashParts(...parts);
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Google Fit has no sample id; a data point is identified by its stream, type and time span. */
export function googleFitPointKey(dataSourceId: string, dataTypeName: string, startNanos: string, endNanos: string): string {
  return hashParts(dataSourceId, dataTypeName, startNanos, endNanos);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/**
 * `identifier=system|value` for conditional create. Written raw: our systems are plain URLs and our
 * values UUIDs or hex digests, so nothing needs search escaping (`|`, `,`, `$`, `\`) or URL encoding.
 */
export function identifierQuery(system: string, value: string): string {
  return `identifier=${system}|${value}`;
}
