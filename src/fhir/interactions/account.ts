/**
 * `POST [base]/Patient/{id}/$deactivate` and `$reactivate`: the patient's own decision only
 * (S13, S14); nobody acting for them, and no app, may close or reopen the account on their behalf
 * (the resource server lets only the first-party portal through, src/auth/first-party.ts). After
 * the change the server's account hook runs (assembly: the app grants end on deactivation).
 */
import type { Request, Response } from 'express';
import type { Parameters } from 'fhir/r4';
import { deactivateAccount, reactivateAccount } from '../../access/account.js';
import type { Relation } from '../../access/relations.js';
import { sendJson } from '../../http/respond.js';
import { forbidden } from '../errors.js';
import { accessOf, type FhirDeps } from './context.js';

/** Called after an account change has been stored (src/server.ts wires the auth side's). */
export type OnAccountChange = (patientId: string, operation: '$deactivate' | '$reactivate') => Promise<void>;

export async function accountOperation(deps: FhirDeps & { onAccountChange?: OnAccountChange }, req: Request, res: Response, patientId: string, op: '$deactivate' | '$reactivate'): Promise<void> {
  accessOf(res);
  const relation = res.locals.relation as Relation | undefined;
  if (!relation || relation.actor !== 'self' || relation.patientId !== patientId) {
    throw forbidden(`Only the patient may ${op === '$deactivate' ? 'deactivate' : 'reactivate'} their own account`);
  }
  const change = op === '$deactivate' ? await deactivateAccount(deps.repo, patientId) : await reactivateAccount(deps.repo, patientId);
  await deps.onAccountChange?.(patientId, op);
  deps.logger.info('account state changed', { operation: op, suspendedGrants: change.suspended.length });
  const out: Parameters = {
    resourceType: 'Parameters',
    parameter: [
      { name: 'account-state', valueCode: op === '$deactivate' ? 'deactivated' : 'active' },
      ...change.suspended.map((ref) => ({ name: 'suspended', valueReference: { reference: ref } })),
    ],
  };
  sendJson(req, res, 200, out);
}
