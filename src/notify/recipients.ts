/**
 * Where a notification goes: the recipient's own record (for in-app notifications and their
 * preferences) and their mobile number and e-mail address. A proxy or grantee (RelatedPerson) is
 * found as a citizen with a record of their own through their national identifier; without one
 * they can be reached only at the contact details on the RelatedPerson.
 */
import type { ContactPoint, Patient, RelatedPerson } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../access/access-context.js';
import type { Repository } from '../fhir/repository/repository.js';
import { findMatchingIds } from '../fhir/search/find-ids.js';
import { DNR_SYSTEM, FNR_SYSTEM } from '../fhir/validation/fnr.js';

export interface Destination {
  /** The Patient id of the recipient's own record, or null when they have none. */
  record: string | null;
  phone: string | null;
  email: string | null;
}

function mobile(telecom: readonly ContactPoint[] | undefined): string | null {
  const phones = (telecom ?? []).filter((t) => (t.system === 'sms' || t.system === 'phone') && t.value && !t.period?.end);
  return (phones.find((t) => t.system === 'sms') ?? phones.find((t) => t.use === 'mobile') ?? phones[0])?.value ?? null;
}

function email(telecom: readonly ContactPoint[] | undefined): string | null {
  return (telecom ?? []).find((t) => t.system === 'email' && t.value && !t.period?.end)?.value ?? null;
}

export async function resolveRecipient(repo: Repository, ref: string): Promise<Destination | null> {
  const [type, id] = ref.split('/');
  if (!id) return null;
  if (type === 'Patient') {
    const p = await repo.read<Patient>('Patient', id, SYSTEM_ACCESS).catch(() => null);
    return p ? { record: id, phone: mobile(p.telecom), email: email(p.telecom) } : null;
  }
  if (type !== 'RelatedPerson') return null;
  const rp = await repo.read<RelatedPerson>('RelatedPerson', id, SYSTEM_ACCESS).catch(() => null);
  if (!rp) return null;
  const nid = rp.identifier?.find((i) => (i.system === FNR_SYSTEM || i.system === DNR_SYSTEM) && i.value);
  const ownId = nid ? (await findMatchingIds(repo.queryable, 'Patient', `identifier=${nid.system}|${nid.value}`, SYSTEM_ACCESS, 1))[0] : undefined;
  const own = ownId ? await repo.read<Patient>('Patient', ownId, SYSTEM_ACCESS).catch(() => null) : null;
  return {
    record: own?.id ?? null,
    phone: mobile(own?.telecom) ?? mobile(rp.telecom),
    email: email(own?.telecom) ?? email(rp.telecom),
  };
}
