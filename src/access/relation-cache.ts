/**
 * The relation facts of a token, resolved once and reused while they cannot have changed (issue 11
 * §2 "one round trip to authenticate and authorise"). Resolving a proxy's relation reads the Patient,
 * the RelatedPerson, its grant Consents and the terms acceptance: four to six statements on every
 * request. An entry here is used only when
 *  - the subject's access version, read by the resource server in the same statement as the live
 *    grant, is the one the entry was resolved under: every write to a resource the facts come from
 *    bumps it in the write's own transaction (migration 010), in whichever process wrote it; and
 *  - the calendar day in Europe/Oslo is the one it was resolved on: ages (the 16th and 18th
 *    birthdays) and grant periods turn at Oslo midnight (gates.ts), and nothing else in the gates
 *    depends on the clock; and
 *  - the Terms of Use in force are the ones it was resolved under: the operator's new version
 *    (TERMS_VERSION, or configureTerms) must stop every relation whose patient has not accepted it.
 * So revocation, death, deactivation and a birthday still act on the very next request (access-spec
 * §4.2, S13). The version is read *before* resolving: a change committed meanwhile carries a newer
 * version, so at worst the next request resolves again.
 */
import { osloDate } from '../identity/age.js';
import { currentTerms } from '../identity/terms.js';
import type { Resolution, WhoActs } from './relations.js';

interface Entry {
  version: number;
  day: string;
  terms: string;
  resolution: Resolution;
}

/** Enough for every citizen active at once on one process; beyond it the oldest entries go first. */
const MAX_ENTRIES = 50_000;

export class RelationCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxEntries = MAX_ENTRIES) {}

  /**
   * The cached resolution for `who` under `version`, or `resolve()`'s (then kept). Without a
   * version (a caller that did not read one) nothing is cached.
   */
  async resolve(who: WhoActs, version: number | null | undefined, resolve: () => Promise<Resolution>, now = new Date()): Promise<Resolution> {
    if (version === null || version === undefined || who.kind === 'system') return resolve();
    const key = `${who.kind}|${who.patientId ?? ''}|${who.fhirUser ?? ''}`;
    const day = osloDate(now);
    const terms = currentTerms().version;
    const hit = this.entries.get(key);
    if (hit && hit.version === version && hit.day === day && hit.terms === terms) return hit.resolution;
    const resolution = await resolve();
    // Map order is insertion order: deleting before setting keeps the least recently resolved first.
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, { version, day, terms, resolution });
    return resolution;
  }
}

/** The subject whose access version covers a token's relation facts (migration 010), or null. */
export function accessSubjectOf(who: WhoActs): string | null {
  if (who.kind === 'user') return who.fhirUser?.startsWith('Practitioner/') ? who.fhirUser : null;
  if (who.kind === 'patient' && who.patientId) return `Patient/${who.patientId}`;
  return null;
}
