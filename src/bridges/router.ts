/**
 * `POST /bridges/healthkit`, `POST /bridges/google-fit` (issue 6 §2) and `POST /bridges/health-connect`
 * (issue 15). Authorised by a SMART
 * token that grants `patient/Observation.c` (granular `?category=…|vital-signs` / `|activity`
 * honoured per sample); the subject is always the token's patient; the answer is 200 with one
 * outcome per sample and never contains stored data (privacy policy §10: "No information is
 * provided by HelsaMi to HealthKit and Google Fit"; access-spec S27).
 */
import { fhirJsonDepthGuard } from '../http/json-depth.js';
import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import type { AccessContext } from '../access/access-context.js';
import type { Principal } from '../identity/principal.js';
import { scopeRestrictions } from '../identity/scopes.js';
import { FhirError, forbidden } from '../fhir/errors.js';
import type { Logger } from '../log.js';
import { convertGoogleFit } from './google-fit.js';
import { describeGrant, grantChecker } from './grant.js';
import { convertHealthConnect } from './health-connect.js';
import { convertHealthKit } from './healthkit.js';
import type { BridgeContext, ConvertedSample, Platform } from './sample.js';
import { storeSamples, type ProcessTransaction, type SampleOutcome } from './store.js';

export interface BridgesDeps {
  /** The SMART resource-server step: verifies the bearer token and sets `res.locals.principal`, or fails with 401. */
  authenticate: RequestHandler;
  processTransaction: ProcessTransaction;
  /** Largest accepted body in bytes (config.bodyLimit). */
  bodyLimit: number;
  logger?: Logger;
  now?: () => Date;
}

export interface BridgeResponse {
  platform: Platform;
  /** `received` counts outcomes (samples); Health Connect adds `records`, the records sent. */
  summary: { received: number; records?: number; created: number; updated: number; alreadyPresent: number; rejected: number };
  outcomes: SampleOutcome[];
}

type Converter = (body: unknown, ctx: BridgeContext) => ConvertedSample[];

export function createBridgesRouter(deps: BridgesDeps): Router {
  const router = express.Router();
  // Authenticate before parsing, so an unauthenticated client cannot make the server parse megabytes.
  const json = express.json({ limit: deps.bodyLimit, type: ['application/json', 'application/fhir+json'], verify: fhirJsonDepthGuard });
  router.post('/bridges/healthkit', deps.authenticate, json, handler(deps, 'healthkit', convertHealthKit));
  router.post('/bridges/google-fit', deps.authenticate, json, handler(deps, 'google-fit', convertGoogleFit));
  router.post('/bridges/health-connect', deps.authenticate, json, handler(deps, 'health-connect', convertHealthConnect));
  return router;
}

function handler(deps: BridgesDeps, platform: Platform, convert: Converter): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    push(deps, platform, convert, req, res).catch(next);
  };
}

async function push(deps: BridgesDeps, platform: Platform, convert: Converter, req: Request, res: Response): Promise<void> {
  const principal = bridgePrincipal(res);
  const restrictions = scopeRestrictions(principal.scopes, 'patient', 'Observation', 'c');
  if (restrictions === null) {
    throw forbidden('The token does not grant patient/Observation.c').withHeader('WWW-Authenticate', 'Bearer error="insufficient_scope", scope="patient/Observation.c"');
  }
  const ctx: BridgeContext = { patientId: principal.patientId!, now: (deps.now ?? (() => new Date()))(), enterer: principal.fhirUser };
  const admits = grantChecker(restrictions);
  const converted = convert(req.body, ctx).map((s): ConvertedSample => {
    if (s.status !== 'valid' || admits(s.observation)) return s;
    const category = s.observation.category?.[0]?.coding?.[0]?.code;
    const where = { ...(s.record !== undefined ? { record: s.record } : {}), ...(s.part !== undefined ? { part: s.part } : {}) };
    return { index: s.index, id: s.id, ...where, status: 'rejected', reason: `category "${category}" is outside the token's grant (${describeGrant(restrictions)})` };
  });
  const outcomes = await storeSamples(deps.processTransaction, converted, ctx, principal.fhirUser ?? `Client/${principal.clientId}`, res.locals.access as AccessContext | undefined);
  const summary = summarize(outcomes);
  if (platform === 'health-connect') summary.records = (req.body as { records: unknown[] }).records.length;
  const body: BridgeResponse = { platform, summary, outcomes };
  deps.logger?.info('bridge push', { requestId: res.locals.requestId, platform, client: principal.clientId, ...body.summary });
  res.status(200).type('application/json').send(JSON.stringify(body));
}

/** Only a patient-context token can push: the subject of every sample is that patient, nobody else. */
function bridgePrincipal(res: Response): Principal {
  const principal = res.locals.principal as Principal | undefined;
  if (!principal) throw new FhirError(401, { code: 'login', diagnostics: 'Authentication required' }).withHeader('WWW-Authenticate', 'Bearer realm="helsebro"');
  if (principal.kind !== 'patient' || !principal.patientId) {
    throw forbidden('Device bridges need a patient-context token (launch/patient with patient/Observation.c)').withHeader(
      'WWW-Authenticate',
      'Bearer error="insufficient_scope", scope="launch/patient patient/Observation.c"',
    );
  }
  return principal;
}

export function summarize(outcomes: readonly SampleOutcome[]): BridgeResponse['summary'] {
  const count = (status: SampleOutcome['status']) => outcomes.filter((o) => o.status === status).length;
  return { received: outcomes.length, created: count('created'), updated: count('updated'), alreadyPresent: count('already-present'), rejected: count('rejected') };
}
