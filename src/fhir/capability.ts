/**
 * The CapabilityStatement, generated from the same registry the router serves: every R4 type with
 * the interactions that really work and its search parameters, plus the SMART security extension.
 */
import type { CapabilityStatement, CapabilityStatementRestResource } from 'fhir/r4';
import type { Config } from '../config/config.js';
import { RESOURCE_TYPES, searchParamsFor } from './definitions/registry.js';
import { auditEventCapability } from '../audit/audit-view.js';
import { EVENTS_SINCE_CANONICAL } from '../portal/messages/events-since-definition.js';
import { accountOperationCanonical } from './interactions/account-definitions.js';

/** Operations every type supports. */
const TYPE_OPERATIONS = [{ name: 'validate', definition: 'http://hl7.org/fhir/OperationDefinition/Resource-validate' }];

/**
 * Patient's own operations: `$everything` is FHIR's (patient-operation-everything.html);
 * `$deactivate` / `$reactivate` are ours (access-spec: the citizen withdraws or restores consent).
 */
const PATIENT_OPERATIONS = [
  { name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' },
  { name: 'deactivate', definition: accountOperationCanonical('deactivate') },
  { name: 'reactivate', definition: accountOperationCanonical('reactivate') },
  // The Bulk Data patient-level export (issue 14; HL7 Bulk Data Access IG v2).
  { name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export' },
];

/** What a type means here beyond plain REST (issue 14: Subscriptions, the citizen's account records). */
const TYPE_DOCUMENTATION: Readonly<Record<string, string>> = {
  Subscription: 'R4 Subscriptions for backend clients (system/ scopes only). channel.type rest-hook only; criteria a search URL (e.g. Observation?patient=Patient/123); '
    + 'creates, updates and deletes that match are notified; payload absent = id-only (empty body; X-Helsebro-Resource, X-Helsebro-Interaction and X-Helsebro-Subscription headers), application/fhir+json = a history Bundle of ids, never content. '
    + 'The endpoint must be https (http to loopback in development mode); names are resolved and private, loopback, link-local, CGNAT, multicast and IPv6 ULA/link-local addresses refused (422 when literal); '
    + 'redirects are not followed; 5 s and 64 KiB per delivery; failures retried with backoff. status: requested → active, or error with the reason in Subscription.error.',
  Basic: 'The citizen\'s account records (CodeSystem https://fhir.helsebro.no/CodeSystem/account-record): notification-preferences, portal-settings and in-app notification. '
    + 'Read and written by the patient and parents of a child under 16 through the first-party portal only; proxies and third-party apps get 403.',
};

const TYPE_INTERACTIONS = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type'] as const;

export function capabilityStatement(config: Config, software = { name: 'helsebro', version: '0.1.0' }): CapabilityStatement {
  const resources: CapabilityStatementRestResource[] = RESOURCE_TYPES.map((type) => type === 'AuditEvent' ? auditEventCapability() : ({
    type: type as CapabilityStatementRestResource['type'],
    interaction: TYPE_INTERACTIONS.map((code) => ({ code })),
    versioning: 'versioned-update',
    readHistory: true,
    updateCreate: true,
    conditionalCreate: true,
    conditionalRead: 'full-support',
    conditionalUpdate: true,
    conditionalDelete: 'single',
    referencePolicy: ['literal', 'local'],
    searchInclude: ['*'],
    searchRevInclude: ['*'],
    searchParam: [...searchParamsFor(type).values()]
      .filter((p) => p.type !== 'special' && (p.expression || p.code === '_text' || p.code === '_content'))
      .map((p) => ({ name: p.code, definition: p.url, type: p.type })),
    operation: type === 'Patient' ? [...TYPE_OPERATIONS, ...PATIENT_OPERATIONS] : TYPE_OPERATIONS,
    ...(TYPE_DOCUMENTATION[type] ? { documentation: TYPE_DOCUMENTATION[type] } : {}),
  }));
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-11-22',
    kind: 'instance',
    software,
    implementation: { description: 'helsebro FHIR R4 server', url: config.fhirBase },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    patchFormat: ['application/json-patch+json'],
    rest: [
      {
        mode: 'server',
        security: {
          cors: true,
          service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }] }],
          extension: [
            {
              url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
              extension: [
                { url: 'authorize', valueUri: `${config.baseUrl}/auth/authorize` },
                { url: 'token', valueUri: `${config.baseUrl}/auth/token` },
                { url: 'introspect', valueUri: `${config.baseUrl}/auth/introspect` },
                { url: 'revoke', valueUri: `${config.baseUrl}/auth/revoke` },
                { url: 'register', valueUri: `${config.baseUrl}/auth/register` },
              ],
            },
          ],
        },
        resource: resources,
        interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'search-system' }, { code: 'history-system' }],
        // System-level Bulk Data export, for backend (system) clients (issue 14).
        operation: [
          { name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export' },
          // "Dette har skjedd siden sist" (issue 13): events since a moment, per patient the person acts for;
          // the definition is served at [base]/OperationDefinition/events-since (operation-definitions.ts).
          { name: 'events-since', definition: EVENTS_SINCE_CANONICAL },
        ],
        searchParam: [
          { name: '_type', type: 'token' },
          { name: '_id', type: 'token' },
          { name: '_lastUpdated', type: 'date' },
        ],
      },
    ],
  };
}
