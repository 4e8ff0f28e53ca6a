/**
 * Medication comments (FAQ 001 "Can I see medications?": "add comments to the healthcare provider if
 * you use the medication differently than prescribed, for example, if you no longer take it"): a
 * patient-reported MedicationStatement (access-spec §4.4 row 5; `informationSource` from the token,
 * authorship.ts) whose `derivedFrom` names the prescription it comments on. The clinician finds the
 * comments beside the prescription with `MedicationStatement?derived-from=MedicationRequest/…` or
 * `MedicationRequest?_revinclude=MedicationStatement:derived-from` (profiles/SearchParameter-…).
 */
import type { MedicationStatement, Resource } from 'fhir/r4';
import { businessRule, type FhirError } from '../../fhir/errors.js';
import type { Repository } from '../../fhir/repository/repository.js';
import type { WriteChange } from '../../fhir/repository/write-rules.js';
import { forbiddenAt, splitRef } from './codes.js';
import { patientRefOf, readRef } from './facts.js';

export interface CommentFacts {
  statement: MedicationStatement;
  /** `Patient/…` of the token. */
  patientRef: string;
  /** Each `derivedFrom` entry with what it points at, as stored (undefined: not a known MedicationRequest). */
  derived: ReadonlyArray<{ reference: string | undefined; resource: Resource | undefined }>;
}

export function decideMedicationComment(f: CommentFacts): FhirError | null {
  for (const [i, d] of f.derived.entries()) {
    const where = `MedicationStatement.derivedFrom[${i}]`;
    if (splitRef({ reference: d.reference })?.[0] !== 'MedicationRequest') {
      return businessRule(`${where}: a patient's medication comment refers to one of their prescriptions (MedicationRequest/…), not ${d.reference ?? 'nothing'}`, where);
    }
    // 403 alike for unknown and other patients' prescriptions: ids in other records are not confirmed.
    if (!d.resource || patientRefOf(d.resource) !== f.patientRef) return forbiddenAt(`${where}: ${d.reference} is not one of this patient's prescriptions`, where);
  }
  return null;
}

export async function judgeMedicationComment(change: WriteChange, tx: Repository): Promise<void> {
  if (change.access.side !== 'patient' || change.interaction === 'delete') return;
  const statement = change.resource as MedicationStatement;
  const derived = await Promise.all((statement.derivedFrom ?? []).map(async (r) => ({ reference: r.reference, resource: await readRef(tx, r, ['MedicationRequest']) })));
  const refusal = decideMedicationComment({ statement, patientRef: `Patient/${change.access.patientId ?? ''}`, derived });
  if (refusal) throw refusal;
}
