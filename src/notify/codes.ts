/**
 * The vocabulary of notifications (issue 14): events, channels, and the Basic resources of the
 * citizen's account (profiles/CodeSystem-account-record.json and the extensions beside it).
 */
export const ACCOUNT_RECORD = 'https://fhir.helsebro.no/CodeSystem/account-record';
export const EVENT_SYSTEM = 'https://fhir.helsebro.no/CodeSystem/notification-event';
export const CHANNEL_SYSTEM = 'https://fhir.helsebro.no/CodeSystem/notification-channel';

export const EXT = {
  preference: 'https://fhir.helsebro.no/StructureDefinition/notification-preference',
  shortcut: 'https://fhir.helsebro.no/StructureDefinition/portal-shortcut',
  event: 'https://fhir.helsebro.no/StructureDefinition/notification-event',
  focus: 'https://fhir.helsebro.no/StructureDefinition/notification-focus',
  read: 'https://fhir.helsebro.no/StructureDefinition/notification-read',
} as const;

export const EVENTS = ['new-message', 'result-released', 'questionnaire', 'earlier-time-offer', 'request-answered', 'proxy-grant-given'] as const;
export type EventKind = (typeof EVENTS)[number];
export const CHANNELS = ['in-app', 'sms', 'email'] as const;
export type Channel = (typeof CHANNELS)[number];

export const RECORD_KINDS = ['notification-preferences', 'portal-settings', 'notification'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

export const isEvent = (c: unknown): c is EventKind => (EVENTS as readonly unknown[]).includes(c);
export const isChannel = (c: unknown): c is Channel => (CHANNELS as readonly unknown[]).includes(c);

/**
 * What the citizen is told, in every channel. Deliberately without content: a text message or an
 * e-mail leaves the health service's control, so it says only that there is something to see
 * (Normen, "taushetsbelagte opplysninger" are not sent by SMS/e-mail).
 */
export const EVENT_TEXT: Readonly<Record<EventKind, string>> = {
  'new-message': 'Du har fått en ny melding i Helsebro.',
  'result-released': 'Et nytt prøvesvar er klart i Helsebro.',
  questionnaire: 'Du har fått et spørreskjema å fylle ut i Helsebro før timen din.',
  'earlier-time-offer': 'Du har fått tilbud om en tidligere time i Helsebro.',
  'request-answered': 'Du har fått svar på en henvendelse i Helsebro.',
  'proxy-grant-given': 'Du har fått fullmakt til å bruke Helsebro på vegne av en annen person.',
};
