/**
 * An in-process helsebro built by the same `buildServer` as main.ts (so the bridges are mounted
 * exactly as in production, behind the real resource server), and real access
 * tokens minted by the auth module (client, grant, signed JWT) for a real Patient who has accepted
 * the terms, so requests pass the real resource-server checks.
 */
import type { Express } from 'express';
import type { Patient } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';
import { saveClient } from '../../src/auth/clients.js';
import { createGrant } from '../../src/auth/grants.js';
import { KeyStore } from '../../src/auth/keys.js';
import { recordTermsAcceptance } from '../../src/identity/terms.js';
import { signAccessToken } from '../../src/auth/tokens.js';
import { testConfig, type Config } from '../../src/config/config.js';
import type { Db } from '../../src/db/db.js';
import type { Repository } from '../../src/fhir/repository/repository.js';
import { createLogger } from '../../src/log.js';
import { buildServer, createRepository } from '../../src/server.js';
import { openTestDatabase } from '../support/app.js';

export const BRIDGE_CLIENT = 'test-healthkit-bridge';
const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
export const VITALS_SCOPE = `patient/Observation.c?category=${CATEGORY}|vital-signs`;
export const ACTIVITY_SCOPE = `patient/Observation.c?category=${CATEGORY}|activity`;
/** What access-spec §4.5 grants a HealthKit / Google Fit bridge client. */
export const BRIDGE_SCOPE = `launch/patient offline_access ${VITALS_SCOPE} ${ACTIVITY_SCOPE}`;

export interface BridgeServer {
  app: Express;
  db: Db;
  repo: Repository;
  config: Config;
  keys: KeyStore;
  close(): Promise<void>;
}

export async function startBridgeServer(): Promise<BridgeServer> {
  const config = testConfig();
  const db = await openTestDatabase();
  const repo = createRepository(db);
  const logger = createLogger('silent');
  const { app, extraClosers } = await buildServer({ config, db, logger, repo, devIdp: false });
  // Tokens are signed with the server's key: KeyStore keeps the signing key in the database.
  const keys = new KeyStore(db);
  await saveClient(db, {
    clientId: BRIDGE_CLIENT,
    clientName: 'Test HealthKit bridge',
    clientType: 'public',
    authMethod: 'none',
    redirectUris: ['https://bridge.example/callback'],
    launchUris: [],
    grantTypes: ['authorization_code', 'refresh_token'],
    scope: BRIDGE_SCOPE,
    jwksUri: null,
    jwks: null,
    firstParty: false,
  });
  return {
    app,
    db,
    repo,
    config,
    keys,
    // What the server started (outbox worker, offer expiry, access-log batch) stops before the database closes.
    close: async () => {
      for (const close of extraClosers) await close();
      await db.close();
    },
  };
}

export async function createPatient(server: BridgeServer, family: string): Promise<string> {
  const patient: Patient = { resourceType: 'Patient', name: [{ family, given: ['Test'] }], birthDate: '1980-02-29' };
  const { resource } = await server.repo.create(patient, SYSTEM_ACCESS);
  await recordTermsAcceptance(server.repo, resource.id!);
  return resource.id!;
}

/** A live access token for `patientId` with `scope`, as the token endpoint would issue it. */
export async function tokenFor(server: BridgeServer, patientId: string | null, scope: string, kind: 'patient' | 'system' = 'patient'): Promise<string> {
  const fhirUser = patientId ? `Patient/${patientId}` : null;
  const grant = await createGrant(server.db, {
    clientId: BRIDGE_CLIENT,
    kind,
    sub: null,
    patientId,
    fhirUser,
    scope,
    context: {},
    sessionId: null,
    authTime: null,
    ttlSeconds: 3600,
  });
  const { token } = await signAccessToken(server.keys, server.config, { grantId: grant.grantId, clientId: BRIDGE_CLIENT, scope, patientId, fhirUser, ttl: 300 });
  return token;
}

/** Stored, current resources of a type in a patient's compartment (or referencing the patient for Device/Provenance). */
export async function countFor(server: BridgeServer, type: 'Observation' | 'Device' | 'Provenance', patientId: string): Promise<number> {
  const patient = `Patient/${patientId}`;
  const sql = {
    Observation: "SELECT count(*) AS n FROM resources WHERE resource_type = 'Observation' AND NOT deleted AND content->'subject'->>'reference' = $1",
    Device: "SELECT count(*) AS n FROM resources WHERE resource_type = 'Device' AND NOT deleted AND content->'patient'->>'reference' = $1",
    Provenance: "SELECT count(*) AS n FROM resources WHERE resource_type = 'Provenance' AND NOT deleted AND content->'agent' @> jsonb_build_array(jsonb_build_object('who', jsonb_build_object('reference', $1::text)))",
  }[type];
  const rows = await server.db.query<{ n: number | string }>(sql, [patient]);
  return Number(rows[0]!.n);
}
