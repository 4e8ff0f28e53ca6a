/**
 * Who a verified access token speaks for. The resource server builds it from the token and the live
 * grant row; the access engine turns it into an AccessContext.
 */
import type { Scope } from './scopes.js';

export interface Principal {
  /** patient = a citizen's launch (self or, later, on behalf of someone); user = clinician; system = backend service. */
  kind: 'patient' | 'user' | 'system';
  clientId: string;
  /** The authenticated person's subject at this server (absent for system tokens). */
  sub?: string;
  scopes: readonly Scope[];
  /** Launch patient context: every patient/ scope is confined to this Patient id (app-launch §launch context). */
  patientId?: string;
  /** The acting user as a FHIR reference (`Patient/…`, `RelatedPerson/…`), the id_token `fhirUser`. */
  fhirUser?: string;
  grantId: string;
  tokenId: string;
  /**
   * The access version of the subject the relation facts belong to, read with the live grant
   * (migration 010); lets the access engine reuse a relation resolved under the same version.
   */
  accessVersion?: number;
}
