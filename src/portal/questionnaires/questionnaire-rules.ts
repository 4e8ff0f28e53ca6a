/**
 * Write rules of the questionnaires before an appointment (issue 12): a QuestionnaireResponse is
 * checked against its Questionnaire (validate-response.ts), a Questionnaire's initial values against
 * its own items, and a questionnaire Task is completed only with a completed response of its
 * patient to its Questionnaire.
 */
import type { Questionnaire, QuestionnaireResponse, Task } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../access/access-context.js';
import { businessRule, unprocessable } from '../../fhir/errors.js';
import type { Repository } from '../../fhir/repository/repository.js';
import type { WriteChange } from '../../fhir/repository/write-rules.js';
import { findMatchingIds } from '../../fhir/search/find-ids.js';
import { idOf, TASK_CODES, taskCodeOf } from '../booking/codes.js';
import { validateInitials, validateResponse } from './validate-response.js';

/** The Questionnaire a canonical (`url` or `url|version`) names; of several languages, the response's own. */
export async function findQuestionnaire(tx: Repository, canonical: string, language?: string): Promise<Questionnaire | undefined> {
  const [url, version] = canonical.split('|');
  const query = `url=${encodeURIComponent(url!)}${version ? `&version=${encodeURIComponent(version)}` : ''}`;
  const ids = await findMatchingIds(tx.queryable, 'Questionnaire', query, SYSTEM_ACCESS, 20);
  const found = await Promise.all(ids.map((id) => tx.read<Questionnaire>('Questionnaire', id, SYSTEM_ACCESS)));
  return found.find((q) => language && q.language === language) ?? found.sort((a, b) => (a.id! < b.id! ? -1 : 1))[0];
}

export async function judgeQuestionnaireResponse(change: WriteChange, tx: Repository): Promise<void> {
  if (change.interaction === 'delete') return;
  const r = change.resource as QuestionnaireResponse;
  if (!r.questionnaire) return;
  const q = await findQuestionnaire(tx, r.questionnaire, r.language);
  if (!q) throw businessRule(`QuestionnaireResponse.questionnaire "${r.questionnaire}" is not a Questionnaire known to this server, so the answers cannot be checked`, 'QuestionnaireResponse.questionnaire');
  const issues = validateResponse(q, r);
  if (issues.length > 0) throw unprocessable(issues);
}

export function judgeQuestionnaire(change: WriteChange): void {
  if (change.interaction === 'delete') return;
  const issues = validateInitials(change.resource as Questionnaire);
  if (issues.length > 0) throw unprocessable(issues);
}

/** Completing a questionnaire Task needs the completed answer of its patient to its Questionnaire. */
export async function judgeQuestionnaireTask(change: WriteChange, tx: Repository): Promise<void> {
  if (change.interaction === 'delete') return;
  const task = change.resource as Task;
  const previous = change.previous as Task | undefined;
  if (taskCodeOf(task) !== TASK_CODES.questionnaire || task.status !== 'completed' || previous?.status === 'completed') return;
  const canonical = task.input?.find((i) => i.valueCanonical)?.valueCanonical;
  const ref = task.output?.find((o) => o.valueReference)?.valueReference?.reference;
  const responseId = idOf(ref, 'QuestionnaireResponse');
  const response = responseId ? await tx.read<QuestionnaireResponse>('QuestionnaireResponse', responseId, SYSTEM_ACCESS).catch(() => undefined) : undefined;
  if (!response) throw businessRule('A questionnaire Task is completed with its answer: Task.output[0].valueReference = the QuestionnaireResponse', 'Task.output');
  if (response.status !== 'completed') throw businessRule(`${ref} is ${response.status}, not completed`, 'Task.output');
  if (response.subject?.reference !== task.for?.reference) throw businessRule(`${ref} is not the answer of ${task.for?.reference}`, 'Task.output');
  if (canonical && response.questionnaire?.split('|')[0] !== canonical.split('|')[0]) {
    throw businessRule(`${ref} answers ${response.questionnaire ?? 'no Questionnaire'}, not ${canonical}`, 'Task.output');
  }
}
