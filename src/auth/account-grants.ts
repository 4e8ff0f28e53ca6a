/**
 * What an account change means for the citizen's app grants (issue 10 hole 10; S13 "the services
 * will immediately become unavailable to you … and others to whom you have granted access"):
 * `$deactivate` ends every app grant for the patient, so their refresh tokens stop working, and
 * records each in the security log. The first-party portal's grant survives: it is the one door a
 * deactivated patient keeps, `$reactivate` (S14). Reactivation restores no app grant; apps ask again.
 */
import type { SecurityEvents } from '../audit/security-events.js';
import type { Queryable } from '../db/db.js';
import { PORTAL_CLIENT_ID } from './clients.js';
import { exchangedOnly, revokePatientAppGrants } from './grants.js';

export type AccountChangeHook = (patientId: string, operation: '$deactivate' | '$reactivate') => Promise<void>;

export function endAppGrantsOnDeactivation(deps: { db: Queryable; events: SecurityEvents }): AccountChangeHook {
  return async (patientId, operation) => {
    if (operation !== '$deactivate') return;
    // Every grant ends; only those whose code was exchanged were ever the person's (issue 16 §3) and are logged.
    const ended = await exchangedOnly(deps.db, await revokePatientAppGrants(deps.db, patientId, PORTAL_CLIENT_ID, 'account deactivated'));
    for (const g of ended) {
      await deps.events.record({ kind: 'grant-revoked', clientId: g.clientId, patientId: g.patientId, actor: g.fhirUser, grantId: g.grantId, reason: 'account deactivated' });
    }
  };
}
