/**
 * Discovery documents: `{fhirBase}/.well-known/smart-configuration` (conformance.html#using-well-known,
 * access-spec §1.1), `{issuer}/.well-known/openid-configuration` (sso-openid-connect) and the user
 * access brand bundle (brands.html). All URLs absolute; always application/json.
 */
import type { Bundle, Endpoint, Organization } from 'fhir/r4';
import type { Config } from '../config/config.js';
import { ASSERTION_ALGS } from './client-assertion.js';
import { SIGNING_ALG } from './keys.js';

export const CAPABILITIES = [
  'launch-ehr',
  'launch-standalone',
  'authorize-post',
  'client-public',
  'client-confidential-symmetric',
  'client-confidential-asymmetric',
  'sso-openid-connect',
  'context-ehr-patient',
  'context-standalone-patient',
  'context-banner',
  'permission-patient',
  'permission-user',
  'permission-offline',
  'permission-online',
  'permission-v1',
  'permission-v2',
];

/** Every scope listed here is one the server grants (the spec: "SHALL support every scope it lists"). */
export const SCOPES_SUPPORTED = [
  'openid',
  'fhirUser',
  'profile',
  'launch',
  'launch/patient',
  'offline_access',
  'online_access',
  'patient/*.rs',
  'patient/*.cruds',
  'patient/*.read',
  'patient/*.write',
  'patient/*.*',
  'user/*.rs',
  'user/*.cruds',
  'system/*.rs',
  'system/*.cruds',
  'system/*.read',
  'system/*.*',
];

export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'];

export function endpoints(config: Config) {
  const auth = `${config.baseUrl}/auth`;
  return {
    issuer: config.baseUrl,
    jwks_uri: `${auth}/jwks`,
    authorization_endpoint: `${auth}/authorize`,
    token_endpoint: `${auth}/token`,
    introspection_endpoint: `${auth}/introspect`,
    revocation_endpoint: `${auth}/revoke`,
    registration_endpoint: `${auth}/register`,
    management_endpoint: `${auth}/manage`,
  };
}

export function smartConfiguration(config: Config): Record<string, unknown> {
  return {
    ...endpoints(config),
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    token_endpoint_auth_methods_supported: AUTH_METHODS,
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    scopes_supported: SCOPES_SUPPORTED,
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    capabilities: CAPABILITIES,
    user_access_brand_bundle: `${config.baseUrl}/auth/brands.json`,
    user_access_brand_identifier: brandIdentifier(config),
  };
}

export function openidConfiguration(config: Config): Record<string, unknown> {
  const e = endpoints(config);
  return {
    issuer: e.issuer,
    authorization_endpoint: e.authorization_endpoint,
    token_endpoint: e.token_endpoint,
    jwks_uri: e.jwks_uri,
    registration_endpoint: e.registration_endpoint,
    introspection_endpoint: e.introspection_endpoint,
    revocation_endpoint: e.revocation_endpoint,
    scopes_supported: SCOPES_SUPPORTED,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [SIGNING_ALG],
    token_endpoint_auth_methods_supported: AUTH_METHODS,
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    code_challenge_methods_supported: ['S256'],
    claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'fhirUser'],
    authorization_response_iss_parameter_supported: true,
    request_parameter_supported: false,
    ui_locales_supported: ['nb', 'en'],
  };
}

function brandIdentifier(config: Config): { system: string; value: string } {
  return { system: 'urn:ietf:rfc:3986', value: config.baseUrl };
}

/** One brand (this installation) with its one FHIR endpoint (SMART 2.2 brands.html, User Access Brand Bundle). */
export function brandBundle(config: Config): Bundle {
  const organization: Organization = {
    resourceType: 'Organization',
    id: 'brand',
    identifier: [brandIdentifier(config)],
    active: true,
    name: 'Helsebro',
    telecom: [{ system: 'url', value: config.baseUrl }],
    endpoint: [{ reference: `${config.baseUrl}/auth/brands.json#endpoint` }],
  };
  const endpoint: Endpoint = {
    resourceType: 'Endpoint',
    id: 'endpoint',
    status: 'active',
    connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'hl7-fhir-rest' },
    name: 'Helsebro FHIR R4',
    payloadType: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/endpoint-payload-type', code: 'none' }] }],
    address: config.fhirBase,
    extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/endpoint-fhir-version', valueCode: '4.0.1' }],
  };
  return {
    resourceType: 'Bundle',
    type: 'collection',
    timestamp: new Date().toISOString(),
    entry: [
      { fullUrl: `${config.baseUrl}/auth/brands.json#brand`, resource: organization },
      { fullUrl: `${config.baseUrl}/auth/brands.json#endpoint`, resource: endpoint },
    ],
  };
}
