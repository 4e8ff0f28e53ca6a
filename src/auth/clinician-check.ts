/**
 * Clinician access is re-checked on every request and every refresh (issue 10 hole 10; access-spec
 * §4.2 "gates are evaluated at authorize, at refresh and on every request"): the Practitioner the
 * grant names must still exist and not be `active: false`. Someone who leaves the organisation or
 * loses their authorisation stops on the next request, not when a 90-day refresh token runs out.
 */
import type { Practitioner } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../access/access-context.js';
import { DatabaseUnavailable } from '../db/unavailable.js';
import type { Repository } from '../fhir/repository/repository.js';

export async function clinicianStillActive(repo: Repository, grant: { kind: string; fhirUser: string | null }): Promise<boolean> {
  if (grant.kind !== 'user') return true;
  const id = grant.fhirUser?.startsWith('Practitioner/') ? grant.fhirUser.slice('Practitioner/'.length) : null;
  if (!id) return false;
  // A missing Practitioner ends the grant; a database outage stays a 503 (issue 17), not a 401 that
  // would log every clinician out while the database is away.
  const practitioner = await repo.read<Practitioner>('Practitioner', id, SYSTEM_ACCESS).catch((err: unknown) => {
    if (err instanceof DatabaseUnavailable) throw err;
    return null;
  });
  return !!practitioner && practitioner.active !== false;
}

/**
 * The same check, reused while the Practitioner's access version (read with the live grant,
 * migration 010) is unchanged: every write to the Practitioner bumps it in the write's transaction,
 * so a deactivation still acts on the next request without a read of the Practitioner on each one.
 */
export class ClinicianChecks {
  private readonly seen = new Map<string, { version: number; active: boolean }>();

  async stillActive(repo: Repository, grant: { kind: string; fhirUser: string | null; accessVersion?: number }): Promise<boolean> {
    if (grant.kind !== 'user') return true;
    const key = grant.fhirUser ?? '';
    const hit = this.seen.get(key);
    if (hit && grant.accessVersion !== undefined && hit.version === grant.accessVersion) return hit.active;
    const active = await clinicianStillActive(repo, grant);
    if (grant.accessVersion !== undefined) {
      if (this.seen.size >= 10_000) this.seen.clear();
      this.seen.set(key, { version: grant.accessVersion, active });
    }
    return active;
  }
}
