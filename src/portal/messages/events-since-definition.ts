/**
 * The OperationDefinition of `$events-since` (issue 13, "Dette har skjedd siden sist"), served at
 * `[base]/OperationDefinition/events-since` and named by its canonical URL in the
 * CapabilityStatement. The event parts are derived from EVENT_SEARCHES, so the definition lists
 * exactly the kinds the operation answers with.
 */
import type { OperationDefinition, OperationDefinitionParameter } from 'fhir/r4';
import { EVENT_SEARCHES, type EventKind } from './events-since.js';

export const EVENTS_SINCE_CANONICAL = 'https://fhir.helsebro.no/OperationDefinition/events-since';

const KIND_TEXT: Readonly<Record<EventKind, string>> = {
  message: 'A message to the patient side sent after _since (not one the acting person sent themself)',
  result: 'A result released (tagged released) after _since',
  offer: 'An open earlier-time offer changed after _since',
  questionnaire: 'An open questionnaire to answer, changed after _since',
  'request-reply': 'A request (renewal, allergy, application, appeal, records, appointment change) the clinic has answered after _since',
};

function eventParts(): OperationDefinitionParameter[] {
  const types = new Map<EventKind, string>();
  for (const s of EVENT_SEARCHES) types.set(s.kind, s.type);
  return [...types].map(([kind, type]) => ({
    name: kind, use: 'out', min: 0, max: '*', type: type as OperationDefinitionParameter['type'],
    documentation: `${KIND_TEXT[kind]}: the ${type}, as the caller could read it.`,
  }));
}

export function eventsSinceDefinition(): OperationDefinition {
  return {
    resourceType: 'OperationDefinition',
    id: 'events-since',
    url: EVENTS_SINCE_CANONICAL,
    version: '1.0.0',
    name: 'EventsSince',
    title: 'Dette har skjedd siden sist — what happened since a moment',
    status: 'active',
    kind: 'operation',
    date: '2026-12-03',
    publisher: 'helsebro',
    description: 'For the token\'s patient and, for the first-party portal, every other patient the logged-in person may act for: '
      + 'new messages, released results, open earlier-time offers and questionnaires, and answered requests since _since. '
      + 'Each patient\'s events are searches under that relation\'s own access (gates, policy, the token\'s scopes) and are logged in that patient\'s access log. '
      + '400 without a valid _since; 403 for tokens that do not act for a patient.',
    affectsState: false,
    code: 'events-since',
    system: true,
    type: false,
    instance: false,
    parameter: [
      { name: '_since', use: 'in', min: 1, max: '1', type: 'instant', documentation: 'The moment to look from, an instant with a time zone (e.g. 2026-11-01T00:00:00Z).' },
      { name: 'since', use: 'out', min: 1, max: '1', type: 'instant', documentation: 'The _since asked for, normalised to UTC.' },
      { name: 'until', use: 'out', min: 1, max: '1', type: 'instant', documentation: 'When the answer was made: the _since of the next call.' },
      {
        name: 'patient', use: 'out', min: 0, max: '*', documentation: 'One group per patient the person acts for, the token\'s own patient first.',
        part: [
          { name: 'patient', use: 'out', min: 1, max: '1', type: 'Reference', targetProfile: ['http://hl7.org/fhir/StructureDefinition/Patient'], documentation: 'The patient the group is about.' },
          { name: 'relation', use: 'out', min: 1, max: '1', type: 'code', documentation: 'How the person acts for the patient: self, standard, read, communicate, full or parent.' },
          ...eventParts(),
        ],
      },
    ],
  };
}
