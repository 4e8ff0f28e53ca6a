/**
 * The eligibility gates of access-spec §4.2 as plain functions over loaded records and a clock.
 * A failed gate ends every access through that relationship: the patient leaves the picker,
 * authorize and refresh refuse, and live tokens get 401. Each result names its gate so logs,
 * tests and the README speak the same language.
 */
import type { Address, Consent, Extension, Patient, RelatedPerson } from 'fhir/r4';
import { ageInYears, birthDateOf, osloDate } from '../identity/age.js';
import { CS } from './policy.js';

export type GateResult = { ok: true } | { ok: false; gate: string; why: string };
const OK: GateResult = { ok: true };
const fail = (gate: string, why: string): GateResult => ({ ok: false, gate, why });

export const EXT = {
  accountState: 'https://fhir.helsebro.no/StructureDefinition/account-state',
  addressProtection: 'https://fhir.helsebro.no/StructureDefinition/address-protection',
} as const;
export const PARENTAL_SYSTEM = 'http://hl7.no/fhir/CodeSystem/no-basis-parental-responsibility';
/** G9: foreldreansvar that gives access; `ukjent` (unknown) does not (S25). */
export const PARENTAL_CODES = ['felles', 'mor', 'far', 'medmor', 'andre'] as const;
export const PROXY_RELATIONSHIP = { system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'POWATT' } as const;
export const ADULT_AGE = 18;
export const CONSENT_AGE = 16;

const extCode = (r: { extension?: Extension[] }, url: string): string | undefined => {
  const e = r.extension?.find((x) => x.url === url);
  return e?.valueCode ?? e?.valueCoding?.code;
};

export const isDeceased = (p: Patient): boolean => p.deceasedBoolean === true || !!p.deceasedDateTime;
export const isDeactivated = (p: Patient): boolean => extCode(p, EXT.accountState) === 'deactivated';
export const protectionOf = (r: Patient | RelatedPerson): string => extCode(r, EXT.addressProtection) ?? 'ugradert';
export const isProtected = (r: Patient | RelatedPerson): boolean => protectionOf(r) !== 'ugradert';

/** G1 death and G2 deactivation apply to the patient and everyone acting for them. */
export function accountGates(patient: Patient): GateResult {
  if (isDeceased(patient)) return fail('G1', 'the patient is deceased');
  if (isDeactivated(patient)) return fail('G2', 'the patient has deactivated their account');
  return OK;
}

/** G14: a child under 16 has no account access of their own (S1). */
export function selfGates(patient: Patient, pidBirthDate: string | null, now: Date): GateResult {
  const birth = birthDateOf(patient) ?? pidBirthDate;
  if (!birth || ageInYears(birth, now) < CONSENT_AGE) return fail('G14', 'under 16: only parents have access');
  return accountGates(patient);
}

/** The proxy level a grant Consent carries, or null when it is not a proxy grant. */
export function proxyLevelOf(consent: Consent): string | null {
  return consent.policyRule?.coding?.find((c) => c.system === CS.proxyLevel)?.code ?? null;
}

function inPeriod(period: { start?: string; end?: string } | undefined, now: Date): boolean {
  const today = osloDate(now);
  if (period?.start && period.start.slice(0, 10) > today) return false;
  if (period?.end && period.end.slice(0, 10) < today) return false;
  return true;
}

/** G4 grant active and in its period; G5 grantee ≥ 18 today (A11: "over 18" = has turned 18). */
export function proxyGates(patient: Patient, consent: Consent, grantee: RelatedPerson, now: Date): GateResult {
  const account = accountGates(patient);
  if (!account.ok) return account;
  if (consent.status !== 'active') return fail('G4', `the grant is ${consent.status}`);
  if (!inPeriod(consent.provision?.period, now)) return fail('G4', 'the grant is outside its period');
  if (grantee.active === false) return fail('G4', 'the proxy is inactive');
  const birth = birthDateOf(grantee);
  if (!birth || ageInYears(birth, now) < ADULT_AGE) return fail('G5', 'the proxy is under 18');
  return OK;
}

/** The parental-responsibility code a register RelatedPerson carries, if any. */
export function parentalCode(rp: RelatedPerson): string | null {
  return rp.relationship?.flatMap((r) => r.coding ?? []).find((c) => c.system === PARENTAL_SYSTEM)?.code ?? null;
}

function addressKey(a: Address | undefined): string | null {
  if (!a) return null;
  const norm = (s: string | undefined) => (s ?? '').toLowerCase().replace(/\s+/g, ' ').trim();
  const key = [norm(a.line?.join(' ')), norm(a.postalCode), norm(a.city)].join('|');
  return key === '||' ? null : key;
}
const homeAddress = (r: Patient | RelatedPerson): string | null => addressKey(r.address?.find((a) => a.use === 'home') ?? r.address?.[0]);

/**
 * G8–G12 for a parent acting for a child: under 16 in Europe/Oslo (access ends at 00:00 on the 16th
 * birthday), parental responsibility, same home address as at least one parent, no protected address
 * on the child, the requester or (the stricter reading of A12) any parent, and no whole-account
 * clinician restriction.
 */
export function parentGates(child: Patient, parent: RelatedPerson, allParents: readonly RelatedPerson[], now: Date): GateResult {
  const account = accountGates(child);
  if (!account.ok) return account;
  const birth = birthDateOf(child);
  if (!birth || ageInYears(birth, now) >= CONSENT_AGE) return fail('G8', 'the child has turned 16');
  const code = parentalCode(parent);
  if (!code || !(PARENTAL_CODES as readonly string[]).includes(code) || parent.active === false) return fail('G9', 'no parental responsibility');
  const holders = allParents.filter((p) => p.active !== false && (PARENTAL_CODES as readonly string[]).includes(parentalCode(p) ?? ''));
  const childHome = homeAddress(child);
  if (!childHome || !holders.some((p) => homeAddress(p) === childHome)) return fail('G10', 'the child is not registered at a parent’s address');
  if (isProtected(child) || isProtected(parent) || holders.some(isProtected)) return fail('G11', 'a protected address applies');
  if (child.meta?.security?.some((s) => s.system === CS.proxyRestriction && s.code === 'no-parent')) return fail('G12', 'a clinician has closed the record to parents');
  return OK;
}
