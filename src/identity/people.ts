/**
 * The logged-in person and the shape of the people they may act for. The access engine
 * (src/access/options.ts) resolves the options: themself, proxies and children (one token = one
 * patient, access-spec §0.1).
 */
import type { Patient } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../access/access-context.js';
import type { Queryable } from '../db/db.js';
import { findMatchingIds } from '../fhir/search/find-ids.js';
import { DNR_SYSTEM, FNR_SYSTEM, parseIdNumber } from '../fhir/validation/fnr.js';

export interface Person {
  /** Our own stable subject (auth_subjects). */
  sub: string;
  /** Fødselsnummer or D-number from ID-porten's `pid` claim. */
  pid: string;
  /** The person's own Patient, when they have a record here. */
  selfPatientId: string | null;
  /** Login session, for logout-bound grants. */
  sessionId: string | null;
  authTime: Date | null;
}

export interface ActingOption {
  patientId: string;
  label: string;
  relation: 'self' | 'proxy' | 'parent';
  relationNb: string;
  relationEn: string;
  /** The acting user as a reference: `Patient/<self>` or `RelatedPerson/<grant-specific id>`. */
  fhirUser: string;
  /** Most this actor may be granted for this patient (access-spec §4.5), as a scope string. */
  ceiling: string;
  /** Proxies see a banner naming the represented person (context-banner). */
  needPatientBanner: boolean;
}

export type ActingOptionsResolver = (person: Person) => Promise<ActingOption[]>;

/** The Patient whose FNR/DNR identifier is `pid`; null when none or more than one (a data error: refuse). */
export async function findPatientByPid(db: Queryable, pid: string): Promise<string | null> {
  const parsed = parseIdNumber(pid);
  if (!parsed) return null;
  const system = parsed.kind === 'dnr' ? DNR_SYSTEM : FNR_SYSTEM;
  const ids = await findMatchingIds(db, 'Patient', `identifier=${system}|${pid}`, SYSTEM_ACCESS, 2);
  return ids.length === 1 ? ids[0]! : null;
}

export function displayName(p: Patient): string {
  const name = p.name?.find((n) => n.use === 'official') ?? p.name?.[0];
  const text = name?.text ?? [...(name?.given ?? []), name?.family].filter(Boolean).join(' ');
  return text || 'Ukjent navn';
}
