/**
 * Loads what the request decisions need, inside the write's transaction and with the server's own
 * access (the decision, not the loader, says what the caller may learn): the focus and its patient,
 * the Organization responsible for it, the patient's own clinic, open duplicates, the answer's
 * outputs and whether a clinician works for the owner.
 */
import type { DocumentReference, HealthcareService, MedicationRequest, Patient, PractitionerRole, Reference, Resource, ServiceRequest, Task } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../access/access-context.js';
import type { Repository } from '../../fhir/repository/repository.js';
import { findMatchingIds } from '../../fhir/search/find-ids.js';
import { TASK_CODE_SYSTEM } from '../booking/codes.js';
import { OPEN_STATUSES, REQUEST_CODES, splitRef } from './codes.js';

export async function readRef<T extends Resource>(tx: Repository, ref: Reference | undefined, types?: readonly string[]): Promise<T | undefined> {
  const parts = splitRef(ref);
  if (!parts || (types && !types.includes(parts[0]))) return undefined;
  return tx.read<T>(parts[0], parts[1], SYSTEM_ACCESS).catch(() => undefined);
}

/** The patient a clinical resource belongs to (`subject` or `patient`). */
export function patientRefOf(r: Resource | undefined): string | null {
  const x = r as { subject?: Reference; patient?: Reference } | undefined;
  const ref = x?.subject?.reference ?? x?.patient?.reference;
  return ref?.startsWith('Patient/') ? ref : null;
}

/** The Organization behind a reference: itself, a PractitionerRole's or HealthcareService's, or a Practitioner's only active role's. */
export async function organizationOf(tx: Repository, ref: Reference | undefined): Promise<string | null> {
  const parts = splitRef(ref);
  if (!parts) return null;
  const [type, id] = parts;
  if (type === 'Organization') return (await readRef(tx, ref)) ? `Organization/${id}` : null;
  if (type === 'PractitionerRole') return (await readRef<PractitionerRole>(tx, ref))?.organization?.reference ?? null;
  if (type === 'HealthcareService') return (await readRef<HealthcareService>(tx, ref))?.providedBy?.reference ?? null;
  if (type === 'Practitioner') {
    const orgs = new Set((await rolesOf(tx, `Practitioner/${id}`)).map((r) => r.organization?.reference).filter((o): o is string => !!o));
    return orgs.size === 1 ? [...orgs][0]! : null;
  }
  return null;
}

async function rolesOf(tx: Repository, practitioner: string): Promise<PractitionerRole[]> {
  const ids = await findMatchingIds(tx.queryable, 'PractitionerRole', `practitioner=${practitioner}`, SYSTEM_ACCESS, 100);
  const roles = await Promise.all(ids.map((id) => tx.read<PractitionerRole>('PractitionerRole', id, SYSTEM_ACCESS).catch(() => undefined)));
  return roles.filter((r): r is PractitionerRole => !!r && r.active !== false);
}

/** Whether the practitioner holds an active role at the organisation (clinicians answer their organisation's requests). */
export async function worksFor(tx: Repository, practitioner: string, organization: string | undefined): Promise<boolean> {
  if (!organization) return false;
  return (await rolesOf(tx, practitioner)).some((r) => r.organization?.reference === organization);
}

async function firstOrganization(tx: Repository, refs: ReadonlyArray<Reference | undefined>): Promise<string | null> {
  for (const r of refs) {
    const org = await organizationOf(tx, r);
    if (org) return org;
  }
  return null;
}

/**
 * Who is responsible for the focus: a prescription's prescriber's organisation (requester, then
 * performer); a decision's custodian or author (DocumentReference), or performer or requester
 * (ServiceRequest). Kari's prescriber is a Practitioner: the patient's own clinic is the fallback.
 */
export async function ownerOfFocus(tx: Repository, focus: Resource | undefined, patient: Patient | undefined): Promise<string | null> {
  if (!focus) return null;
  switch (focus.resourceType) {
    case 'MedicationRequest': {
      const mr = focus as MedicationRequest;
      return (await firstOrganization(tx, [mr.requester, mr.performer])) ?? patient?.managingOrganization?.reference ?? null;
    }
    case 'DocumentReference': {
      const d = focus as DocumentReference;
      return firstOrganization(tx, [d.custodian, ...(d.author ?? [])]);
    }
    case 'ServiceRequest': {
      const s = focus as ServiceRequest;
      return firstOrganization(tx, [...(s.performer ?? []), s.requester]);
    }
    default:
      return null;
  }
}

/** The patient's own clinic: the managing organisation, else their GP's organisation. */
export async function defaultOwnerOf(tx: Repository, patient: Patient | undefined): Promise<string | null> {
  return firstOrganization(tx, [patient?.managingOrganization, ...(patient?.generalPractitioner ?? [])]);
}

/** An open renewal request of the same prescription (one at a time: the clinic answers the first). */
export async function openRenewalOf(tx: Repository, focus: string, except: string | undefined): Promise<string | null> {
  const ids = await findMatchingIds(tx.queryable, 'Task', `code=${TASK_CODE_SYSTEM}|${REQUEST_CODES.renew}&focus=${focus}&status=${OPEN_STATUSES}`, SYSTEM_ACCESS, 2);
  const other = ids.find((id) => id !== except);
  return other ? `Task/${other}` : null;
}

export async function outputsOf(tx: Repository, task: Task): Promise<Array<{ reference: string; resource: Resource | undefined }>> {
  const refs = (task.output ?? []).flatMap((o) => (o.valueReference?.reference ? [o.valueReference] : []));
  return Promise.all(refs.map(async (r) => ({ reference: r.reference!, resource: await readRef(tx, r) })));
}
