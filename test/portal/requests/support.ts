/** Shared pieces of the request tests (issue 13): clinician tokens through the HelseID stand-in, and request bodies. */
import type { Task, TaskInput } from 'fhir/r4';
import { APP_REDIRECT, exchange, launch, registerApp } from '../../auth/support.js';
import type { World } from '../../access/world.js';

export const TASK_CODE = 'https://fhir.helsebro.no/CodeSystem/task-code';
export const KARI = { reference: 'Patient/kari-nordmann' };
export const EMMA = { reference: 'Patient/emma-johansen' };
export const CLINIC = 'Organization/helsebro-legesenter';
export const MUNICIPALITY = 'Organization/baerum-kommune-helse-og-omsorg';
/** Anne Lund works at the clinic (PractitionerRole in demo-09); Magnus Vik, the lab physician, does not. */
export const HPR = { anne: '9999001', magnus: '9999002' } as const;

export async function clinicianToken(w: World, hpr: string): Promise<string> {
  const scope = 'openid fhirUser user/*.rs user/Task.u user/MedicationRequest.c user/AllergyIntolerance.c';
  const app = await registerApp(w.s, { client_name: `Journal ${hpr}`, redirect_uris: [APP_REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], scope });
  const t = await exchange(w.s, app.client_id, await launch(w.s, { clientId: app.client_id, pid: '', hpr, scope }));
  if (t.status !== 200) throw new Error(`clinician token for ${hpr}: ${JSON.stringify(t.body)}`);
  return String(t.body.access_token);
}

export const input = (name: string, value: Omit<TaskInput, 'type'>): TaskInput => ({ type: { text: name }, ...value } as TaskInput);

export function request(code: string, o: Partial<Task> = {}): Task {
  return { resourceType: 'Task', status: 'requested', intent: 'order', code: { coding: [{ system: TASK_CODE, code }] }, for: KARI, ...o };
}

export const renewal = (prescription: string, o: Partial<Task> = {}) => request('renew-prescription', { focus: { reference: `MedicationRequest/${prescription}` }, ...o });
export const allergyRequest = (text: string, o: Partial<Task> = {}) => request('add-allergy', { input: [input('allergy', { valueCodeableConcept: { text } }), input('reaction', { valueString: 'Elveblest' })], ...o });
