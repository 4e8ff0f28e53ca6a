/**
 * The OperationDefinitions of `$deactivate` and `$reactivate` (issue 10; README "Deactivation";
 * access-spec A10), served at `[base]/OperationDefinition/Patient-deactivate` and `…/Patient-reactivate`
 * and named by these canonical URLs in the CapabilityStatement. They describe exactly what
 * account.ts answers: a Parameters with the account state and, for `$deactivate`, the grants it
 * suspended. The terms of use let a citizen withdraw consent and come back (seed: vilkår, "Du kan
 * når som helst trekke tilbake samtykket").
 */
import type { OperationDefinition } from 'fhir/r4';

const CANONICAL_BASE = 'https://fhir.helsebro.no/OperationDefinition/';

type AccountOp = 'deactivate' | 'reactivate';

const TEXT: Readonly<Record<AccountOp, { title: string; description: string; state: string }>> = {
  deactivate: {
    title: 'Deactivate the citizen\'s own account',
    description: 'The patient only (a patient token for themself; 403 for anyone else). Ends patient-facing access to the record at once for the patient, '
      + 'parents and proxies: every active proxy grant is set inactive and tagged https://fhir.helsebro.no/CodeSystem/grant-state|suspended, and every app grant '
      + 'except the portal\'s ends. Health personnel still see the record. Repeating it changes nothing more.',
    state: 'deactivated',
  },
  reactivate: {
    title: 'Reactivate the citizen\'s own account',
    description: 'The patient only, through the portal (the one door a deactivated patient keeps). Restores the patient\'s own access and records the terms '
      + 'acceptance if none is active. Suspended proxy grants stay off until the patient sets each one active again (access-spec A10); apps must ask again.',
    state: 'active',
  },
};

export const accountOperationCanonical = (op: AccountOp): string => `${CANONICAL_BASE}Patient-${op}`;

export function accountOperationDefinition(op: AccountOp): OperationDefinition {
  const text = TEXT[op];
  return {
    resourceType: 'OperationDefinition',
    id: `Patient-${op}`,
    url: accountOperationCanonical(op),
    version: '1.0.0',
    name: op === 'deactivate' ? 'PatientDeactivate' : 'PatientReactivate',
    title: text.title,
    status: 'active',
    kind: 'operation',
    date: '2026-12-03',
    publisher: 'helsebro',
    description: text.description,
    affectsState: true,
    code: op,
    resource: ['Patient'],
    system: false,
    type: false,
    instance: true,
    parameter: [
      { name: 'account-state', use: 'out', min: 1, max: '1', type: 'code', documentation: `The account's state after the operation: ${text.state}.` },
      {
        name: 'suspended', use: 'out', min: 0, max: '*', type: 'Reference', targetProfile: ['http://hl7.org/fhir/StructureDefinition/Consent'],
        documentation: op === 'deactivate' ? 'Each proxy grant (Consent) this call suspended.' : 'Never present: reactivation suspends nothing.',
      },
    ],
  };
}
