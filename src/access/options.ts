/**
 * The patient picker ("Hvem vil du bruke tjenesten på vegne av?"): the person themself and everyone
 * they may act for through a live fullmakt or as a parent, each with the SMART scope ceiling of
 * that relation derived from the policy table (access-spec §4.5), so the picker, the token and
 * the per-request decision can never disagree about what a level means.
 */
import type { Patient, RelatedPerson } from 'fhir/r4';
import { SYSTEM_ACCESS } from './access-context.js';
import type { Queryable } from '../db/db.js';
import type { Repository } from '../fhir/repository/repository.js';
import { findMatchingIds } from '../fhir/search/find-ids.js';
import { DNR_SYSTEM, FNR_SYSTEM, parseIdNumber } from '../fhir/validation/fnr.js';
import { displayName, type ActingOption, type ActingOptionsResolver } from '../identity/people.js';
import { selfGates } from './gates.js';
import { POLICY_TYPES, typeLetters, type Actor } from './policy.js';
import { relationThrough } from './relations.js';

const ALWAYS = 'openid fhirUser profile launch launch/patient offline_access online_access';

/** The most a token for this actor may carry: explicit types, never `patient/*` (access-spec §4.5). */
export function ceilingFor(actor: Actor): string {
  const typed = POLICY_TYPES.flatMap((t) => {
    const letters = typeLetters(actor, t);
    return letters ? [`patient/${t}.${letters}`] : [];
  });
  return [ALWAYS, ...typed].join(' ');
}

const LEVEL_TEXT: Record<string, [string, string]> = {
  standard: ['fullmakt – standard', 'authorisation – Standard'],
  read: ['fullmakt – lesetilgang', 'authorisation – Read'],
  communicate: ['fullmakt – kommunisere', 'authorisation – Communicate'],
  full: ['fullmakt – full tilgang', 'authorisation – Full'],
  parent: ['forelder', 'parent'],
};

export function accessOptionsResolver(db: Queryable, repo: Repository): ActingOptionsResolver {
  return async (person) => {
    const now = new Date();
    const options: ActingOption[] = [];
    const pidInfo = parseIdNumber(person.pid);
    if (person.selfPatientId) {
      const me = await repo.read<Patient>('Patient', person.selfPatientId, SYSTEM_ACCESS).catch(() => null);
      if (me && selfGates(me, pidInfo?.birthDate ?? null, now).ok) {
        options.push({
          patientId: me.id!, label: displayName(me), relation: 'self', relationNb: 'deg selv', relationEn: 'yourself',
          fhirUser: `Patient/${me.id}`, ceiling: ceilingFor('self'), needPatientBanner: false,
        });
      }
    }
    if (!pidInfo) return options;
    const system = pidInfo.kind === 'dnr' ? DNR_SYSTEM : FNR_SYSTEM;
    const rpIds = await findMatchingIds(db, 'RelatedPerson', `identifier=${system}|${person.pid}`, SYSTEM_ACCESS, 200);
    for (const rpId of rpIds) {
      const rp = await repo.read<RelatedPerson>('RelatedPerson', rpId, SYSTEM_ACCESS).catch(() => null);
      const patientId = rp?.patient?.reference?.startsWith('Patient/') ? rp.patient.reference.slice('Patient/'.length) : null;
      if (!rp || !patientId || patientId === person.selfPatientId || options.some((o) => o.patientId === patientId)) continue;
      const patient = await repo.read<Patient>('Patient', patientId, SYSTEM_ACCESS).catch(() => null);
      if (!patient) continue;
      const r = await relationThrough(db, repo, patient, rp, now);
      if (!r.ok) continue;
      const [nb, en] = LEVEL_TEXT[r.relation.actor] ?? ['', ''];
      options.push({
        patientId, label: displayName(patient), relation: r.relation.actor === 'parent' ? 'parent' : 'proxy', relationNb: nb, relationEn: en,
        fhirUser: `RelatedPerson/${rp.id}`, ceiling: ceilingFor(r.relation.actor), needPatientBanner: true,
      });
    }
    return options;
  };
}
