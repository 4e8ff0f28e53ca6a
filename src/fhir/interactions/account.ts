/**
 * `POST [base]/Patient/{id}/$deactivate` and `$reactivate`: the patient's own decision only
 * (S13, S14); nobody acting for them, and no app, may close or reopen the account on their behalf.
 */
import type { Request, Response } from 'express';
import type { Parameters } from 'fhir/r4';
import { deactivateAccount, reactivateAccount } from '../../access/account.js';
import type { Relation } from '../../access/relations.js';
import { sendJson } from '../../http/respond.js';
import { forbidden } from '../errors.js';
import { accessOf, type FhirDeps } from './context.js';

export async function accountOperation(deps: FhirDeps, req: Request, res: Response, patientId: string, op: string): Promise<void> {
  accessOf(res);
  const relation = res.locals.relation as Relation | undefined;
  if (!relation || relation.actor !== 'self' || relation.patientId !== patientId) {
    throw forbidden(`Only the patient may ${op === '$deactivate' ? 'deactivate' : 'reactivate'} their own account`);
  }
  const change = op === '$deactivate' ? await deactivateAccount(deps.repo, patientId) : await reactivateAccount(deps.repo, patientId);
  deps.logger.info('account state changed', { patient: patientId, operation: op, suspendedGrants: change.suspended.length });
  const out: Parameters = {
    resourceType: 'Parameters',
    parameter: [
      { name: 'account-state', valueCode: op === '$deactivate' ? 'deactivated' : 'active' },
      ...change.suspended.map((ref) => ({ name: 'suspended', valueReference: { reference: ref } })),
    ],
  };
  sendJson(req, res, 200, out);
}
