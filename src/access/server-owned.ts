/**
 * Server-owned fields (access-spec §5.2): register data belongs to the national registers and the
 * clinic, not to the citizen. A patient-side write (self, proxies, parents and their apps) that
 * changes one of them is refused with 403 naming the field; clinicians and backend clients write
 * them as before. Unchanged values pass (compared semantically, same-value.ts), so a PUT of the whole
 * Patient with a new phone number works. What the patient side may change on Patient is what is
 * left: `telecom`, `communication` and the contact preferences (parents for the child, A13; proxies
 * not at all, A7, policy row 1).
 */
import type { Coding, Extension, Patient, Resource } from 'fhir/r4';
import type { WriteRule } from '../fhir/repository/write-rules.js';
import { forbidden403 } from './authorship.js';
import { EXT } from './gates.js';
import { canonical, sameValue } from './same-value.js';

/** Patient elements the registers own; `deceased` covers deceased[x]. */
export const PATIENT_REGISTER_FIELDS = ['identifier', 'birthDate', 'deceased', 'gender', 'address', 'link', 'managingOrganization', 'generalPractitioner'] as const;
/** Extensions that carry register or account state (G2, G11): `$deactivate`/`$reactivate` and the register set them. */
export const SERVER_OWNED_EXTENSIONS: readonly string[] = [EXT.addressProtection, EXT.accountState];

const fieldValue = (p: Patient, field: (typeof PATIENT_REGISTER_FIELDS)[number]): unknown =>
  field === 'deceased' ? { boolean: p.deceasedBoolean, dateTime: p.deceasedDateTime } : (p as unknown as Record<string, unknown>)[field];

/** Security labels and tags as a set: order and display text do not make a change. */
const labels = (codings: readonly Coding[] | undefined): string => canonical([...new Set((codings ?? []).map((c) => `${c.system ?? ''}|${c.code ?? ''}`))].sort());

const ownedExtensions = (r: { extension?: Extension[] } | undefined): Extension[] => (r?.extension ?? []).filter((e) => SERVER_OWNED_EXTENSIONS.includes(e.url));

/**
 * Pure: the first server-owned field this write changes, as a FHIRPath expression, or null.
 * `previous` is the current version (undefined for a create: then any value set is a change).
 */
export function changedServerOwnedField(resource: Resource, previous: Resource | undefined): string | null {
  const type = resource.resourceType;
  if (labels(resource.meta?.security) !== labels(previous?.meta?.security)) return `${type}.meta.security`;
  if (labels(resource.meta?.tag) !== labels(previous?.meta?.tag)) return `${type}.meta.tag`;
  if (type !== 'Patient') return null;
  const p = resource as Patient;
  const before = previous as Patient | undefined;
  for (const field of PATIENT_REGISTER_FIELDS) {
    if (!sameValue(fieldValue(p, field), before ? fieldValue(before, field) : undefined)) return `Patient.${field === 'deceased' ? 'deceased[x]' : field}`;
  }
  for (const url of SERVER_OWNED_EXTENSIONS) {
    const now = ownedExtensions(p).filter((e) => e.url === url);
    const was = ownedExtensions(before).filter((e) => e.url === url);
    if (!sameValue(now, was)) return `Patient.extension('${url}')`;
  }
  return null;
}

export const serverOwnedFieldsRule: WriteRule = async ({ interaction, resource, previous, access }) => {
  if (access.side !== 'patient' || interaction === 'delete') return;
  const field = changedServerOwnedField(resource, previous);
  if (field) throw forbidden403(`${field} is owned by the national registers and the clinic; the patient side may not change it (access-spec §5.2)`, field);
};
