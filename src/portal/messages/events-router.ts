/**
 * `GET [base]/$events-since?_since=<instant>` (issue 13, "Dette har skjedd siden sist"): for the
 * logged-in person and each patient they act for, what happened since the moment — new messages,
 * released results, earlier-time offers, questionnaires to answer and answered requests — as a
 * Parameters resource with one `patient` group per patient.
 *
 * Every patient's events are searched under the AccessContext the access engine makes for that
 * relation (gates, policy and the token's scopes), and logged in that patient's access log under that
 * relation before the answer is sent. Only the first-party portal looks across the people a person
 * acts for (as only it administers grants); any other app gets the token's own patient only.
 */
import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import type { Parameters, ParametersParameter, Patient, RelatedPerson } from 'fhir/r4';
import { SYSTEM_ACCESS, type AccessContext } from '../../access/access-context.js';
import type { AccessEngine } from '../../access/engine.js';
import type { Config } from '../../config/config.js';
import type { Repository } from '../../fhir/repository/repository.js';
import { FhirError } from '../../fhir/errors.js';
import { DNR_SYSTEM, FNR_SYSTEM } from '../../fhir/validation/fnr.js';
import { findPatientByPid, type ActingOption, type Person } from '../../identity/people.js';
import type { Principal } from '../../identity/principal.js';
import { negotiate } from '../../http/negotiate.js';
import { sendJson, type Auditor } from '../../http/respond.js';
import { eventsOf, parseSince } from './events-since.js';

export const EVENTS_SINCE_PATH = '/fhir/$events-since';

export interface EventsRouterDeps {
  config: Config;
  repo: Repository;
  authenticate: RequestHandler;
  engine: Pick<AccessEngine, 'toAccess' | 'actingOptions'>;
  /** The first-party portal's client id (src/auth/clients.ts PORTAL_CLIENT_ID). */
  portalClientId: string;
}

interface Group {
  patientId: string;
  relation: string;
  access: AccessContext;
  auditor: Auditor | undefined;
}

export function eventsSinceRouter(deps: EventsRouterDeps): Router {
  const router = express.Router({ caseSensitive: true });
  const handle = async (req: Request, res: Response) => {
    const since = parseSince(req.query._since);
    const until = new Date().toISOString();
    const access = res.locals.access as AccessContext | undefined;
    const principal = res.locals.principal as Principal | undefined;
    if (!access || !principal) throw new FhirError(401, { code: 'login', diagnostics: 'Authentication required' });
    if (principal.kind !== 'patient' || !access.patientId) {
      throw new FhirError(403, { code: 'forbidden', diagnostics: '$events-since is the patient portal\'s overview: it needs a token acting for a patient' });
    }
    const own: Group = { patientId: access.patientId, relation: String((res.locals.relation as { actor?: string } | undefined)?.actor ?? ''), access, auditor: res.locals.auditor as Auditor | undefined };
    const groups = principal.clientId === deps.portalClientId ? [own, ...(await otherGroups(deps, principal, req))] : [own];
    const parameter: ParametersParameter[] = [{ name: 'since', valueInstant: since }, { name: 'until', valueInstant: until }];
    for (const g of groups) {
      const events = await eventsOf(deps.repo.queryable, g.access, since, { fhirBase: deps.config.fhirBase, maxPerKind: deps.config.searchMaxCount });
      const group: ParametersParameter = {
        name: 'patient',
        part: [{ name: 'patient', valueReference: { reference: `Patient/${g.patientId}` } }, { name: 'relation', valueCode: g.relation }, ...events],
      };
      // Logged before shown, in that patient's log under the relation it was seen through (S23).
      await g.auditor?.(req, { resourceType: 'Parameters', parameter: [group] } satisfies Parameters, 200);
      parameter.push(group);
    }
    // Every group is logged above; the response itself is not logged a second time.
    res.locals.auditor = undefined;
    sendJson(req, res, 200, { resourceType: 'Parameters', parameter } satisfies Parameters);
  };
  router.get(EVENTS_SINCE_PATH, negotiate, deps.authenticate, (req: Request, res: Response, next: NextFunction) => {
    handle(req, res).catch(next);
  });
  return router;
}

/** The other patients the person may act for, each with the engine's own decision for that relation. */
async function otherGroups(deps: EventsRouterDeps, principal: Principal, req: Request): Promise<Group[]> {
  const person = await personOf(deps.repo, principal);
  if (!person) return [];
  const groups: Group[] = [];
  for (const option of await deps.engine.actingOptions(person)) {
    if (option.patientId === principal.patientId) continue;
    const locals: Record<string, unknown> = {};
    const as: Principal = { ...principal, patientId: option.patientId, fhirUser: option.fhirUser };
    // The same gates and policy as a token for that relation; the token's scopes still bound it.
    const access = await deps.engine.toAccess(as, req, { locals }).catch(() => null);
    if (access) groups.push({ patientId: option.patientId, relation: relationOf(option, locals), access, auditor: locals.auditor as Auditor | undefined });
  }
  return groups;
}

const relationOf = (option: ActingOption, locals: Record<string, unknown>): string => String((locals.relation as { actor?: string } | undefined)?.actor ?? option.relation);

/** The logged-in person behind a patient token: their national id, read from whom the token acts as. */
async function personOf(repo: Repository, principal: Principal): Promise<Person | null> {
  const [type, id] = (principal.fhirUser ?? '').split('/');
  if (!id || (type !== 'Patient' && type !== 'RelatedPerson')) return null;
  const who = await repo.read<Patient | RelatedPerson>(type, id, SYSTEM_ACCESS).catch(() => null);
  const pid = who?.identifier?.find((i) => i.system === FNR_SYSTEM || i.system === DNR_SYSTEM)?.value;
  if (!pid) return null;
  const selfPatientId = type === 'Patient' ? id : await findPatientByPid(repo.queryable, pid);
  return { sub: principal.sub ?? '', pid, selfPatientId, sessionId: null, authTime: null };
}
