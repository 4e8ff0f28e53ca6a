/**
 * The citizen requests room as write rules (write-rules.ts port), installed by src/server.ts:
 * request Tasks (renewals, allergy additions, municipal applications, appeals, records requests) and
 * medication comments (patient-reported MedicationStatements about a prescription). Issue 13.
 */
import type { WriteRule } from '../../fhir/repository/write-rules.js';
import { judgeMedicationComment } from './medication-comment.js';
import { judgeRequestTask } from './request-rule.js';

export function requestRules(opts: { now?: () => Date } = {}): WriteRule[] {
  const now = opts.now ?? (() => new Date());
  return [
    async (change, tx) => {
      switch (change.resource.resourceType) {
        case 'Task': return judgeRequestTask(change, tx, now());
        case 'MedicationStatement': return judgeMedicationComment(change, tx);
        default: return;
      }
    },
  ];
}
