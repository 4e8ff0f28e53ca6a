/**
 * The write rule of citizen requests (issue 13): every create, update and patch of a Task whose code
 * is a request code, whichever door it came through (REST, batch/transaction entry, conditional
 * write), is judged here inside its transaction. Which actor may create, read or update which kind of
 * request at all is the policy's (access-spec §5.3 rows 23, 24); this rule judges the content.
 */
import type { Patient, Task } from 'fhir/r4';
import { businessRule } from '../../fhir/errors.js';
import type { Repository } from '../../fhir/repository/repository.js';
import type { WriteChange } from '../../fhir/repository/write-rules.js';
import { forbiddenAt, requestCodeOf, type RequestCode } from './codes.js';
import { decideNewRequest, FOCUS_TYPES } from './decide-request.js';
import { decideClinicAnswer, decidePatientUpdate } from './decide-update.js';
import { defaultOwnerOf, openRenewalOf, outputsOf, ownerOfFocus, patientRefOf, readRef, worksFor } from './facts.js';

export async function judgeRequestTask(change: WriteChange, tx: Repository, now: Date): Promise<void> {
  if (change.interaction === 'delete') return;
  const task = change.resource as Task;
  const previous = change.previous as Task | undefined;
  const code = requestCodeOf(previous ?? task);
  if (!code) return;
  if (previous && requestCodeOf(task) !== code) throw businessRule(`A ${code} request keeps its code`, 'Task.code');
  const side = change.access.side ?? 'system';
  if (!previous) {
    await judgeNew(change, task, code, tx, now);
    return;
  }
  if (side === 'patient') {
    const refusal = decidePatientUpdate(previous, task);
    if (refusal) throw refusal;
  } else {
    // "Clinicians see and answer requests for their organisation" (issue 13): a clinician holds a
    // role at the request's owner; backends (system/) answer for the organisation that runs them.
    if (side === 'clinician' && !(await worksFor(tx, change.access.actor ?? '', previous.owner?.reference))) {
      throw forbiddenAt(`${change.access.actor ?? 'This clinician'} holds no role at ${previous.owner?.reference ?? 'the owner'}, which answers this request`, 'Task.owner');
    }
    const refusal = decideClinicAnswer(previous, task, { code, outputs: await outputsOf(tx, task) });
    if (refusal) throw refusal;
  }
  // A backend's (system client's) own lastModified stands (a re-sent, unchanged record keeps it); otherwise the server's clock.
  if (side !== 'system' || !task.lastModified) task.lastModified = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

async function judgeNew(change: WriteChange, task: Task, code: RequestCode, tx: Repository, now: Date): Promise<void> {
  const patientSide = change.access.side === 'patient';
  const patient = await readRef<Patient>(tx, task.for, ['Patient']);
  let focus = FOCUS_TYPES[code].length > 0 ? await readRef(tx, task.focus, FOCUS_TYPES[code]) : undefined;
  // One open renewal per prescription: simultaneous renewals of the same one queue on its row, so the
  // second sees the first (committed) when it looks for an open one (PostgreSQL, READ COMMITTED).
  if (patientSide && code === 'renew-prescription' && focus?.resourceType === 'MedicationRequest') focus = await tx.lockForUpdate('MedicationRequest', focus.id!);
  const focusPatient = patientRefOf(focus);
  // Owners are derived only from the patient's own resources, so nothing about another record is used.
  const own = !!focus && focusPatient === task.for?.reference;
  const given = task.owner?.reference;
  const decision = decideNewRequest({
    task, code, patientSide, now, focus, focusPatient,
    patientRef: change.access.patientId ? `Patient/${change.access.patientId}` : null,
    focusOwner: own ? await ownerOfFocus(tx, focus, patient) : null,
    defaultOwner: await defaultOwnerOf(tx, patient),
    givenOwnerValid: !!given && given.startsWith('Organization/') && !!(await readRef(tx, task.owner, ['Organization'])),
    openDuplicate: own && patientSide ? await openRenewalOf(tx, task.focus!.reference!, task.id) : null,
  });
  if (!decision.ok) throw decision.error;
  Object.assign(task, decision.fill);
}
