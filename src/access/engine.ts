/**
 * The access engine as the server plugs it in: the per-request hook of the resource server
 * (relation → gates → decision → access log), the refresh gate of the token endpoint, and the
 * patient picker. One place decides; the repository only executes the filters it is given.
 */
import type { AccessContext } from './access-context.js';
import type { Db } from '../db/db.js';
import { unauthorized } from '../fhir/errors.js';
import type { Repository } from '../fhir/repository/repository.js';
import type { Logger } from '../log.js';
import type { Principal } from '../identity/principal.js';
import type { ActingOptionsResolver } from '../identity/people.js';
import { AccessLog, accessEvents, shownResources, type AccessFacts } from '../audit/access-log.js';
import type { RestInteraction } from '../audit/audit-event.js';
import { decideAccess, type DecideOptions } from './decide.js';
import { accessOptionsResolver } from './options.js';
import { resolveRelation, type Relation, type WhoActs } from './relations.js';

/**
 * What the engine reads of an HTTP request and where it leaves the request's relation and auditor.
 * Structural, so the access layer needs neither express nor the resource server (auth calls access).
 */
export interface RequestFacts {
  method: string;
  path: string;
  query: unknown;
}
export interface ResponseLocals {
  locals: Record<string, unknown>;
}

export interface AccessEngine {
  toAccess(principal: Principal, req: RequestFacts, res: ResponseLocals): Promise<AccessContext>;
  /** The refresh gate: does the relation a grant was issued for still pass every gate (access-spec §4.2)? */
  gate: (who: WhoActs) => Promise<boolean>;
  actingOptions: ActingOptionsResolver;
  accessLog: AccessLog;
}

/** A deactivated patient keeps exactly one door open: reactivating their own account (S14). */
const REACTIVATE = /^\/Patient\/([^/]+)\/\$reactivate$/;

export function createAccessEngine(db: Db, repo: Repository, logger: Logger, opts: DecideOptions = {}): AccessEngine {
  const accessLog = new AccessLog(repo, logger);
  return {
    accessLog,
    actingOptions: accessOptionsResolver(db, repo),
    gate: async (grant) => (await resolveRelation(db, repo, { kind: grant.kind, patientId: grant.patientId, fhirUser: grant.fhirUser })).ok,
    async toAccess(principal, req, res) {
      const resolution = await resolveRelation(db, repo, { kind: principal.kind, patientId: principal.patientId ?? null, fhirUser: principal.fhirUser ?? null });
      let relation: Relation;
      if (resolution.ok) relation = resolution.relation;
      else if (resolution.gate === 'G2' && resolution.relation?.actor === 'self' && req.method === 'POST' && REACTIVATE.exec(req.path)?.[1] === resolution.relation.patientId) {
        relation = resolution.relation;
      } else {
        logger.info('access denied by gate', { gate: resolution.gate, why: resolution.why, client: principal.clientId, grant: principal.grantId });
        throw unauthorized('login');
      }
      res.locals.relation = relation;
      const facts: Omit<AccessFacts, 'interaction' | 'query'> = {
        who: relation.actorRef, clientId: principal.clientId, grant: relation.grantRef, contextPatientId: relation.patientId,
      };
      res.locals.auditor = (r: RequestFacts, body: unknown) => {
        const interaction = interactionOf(r);
        // Writes are logged inside their own transaction (decide.ts recordWrite), not here.
        if (WRITES.has(interaction)) return Promise.resolve();
        const query = interaction === 'search' ? new URLSearchParams(r.query as Record<string, string>).toString() : '';
        return accessLog.record(accessEvents({ ...facts, interaction, ...(query ? { query } : {}) }, shownResources(body)));
      };
      return decideAccess(principal, relation, opts);
    },
  };
}

const WRITES = new Set<RestInteraction>(['create', 'update', 'patch', 'delete']);

function interactionOf(req: RequestFacts): RestInteraction {
  const parts = req.path.split('/').filter(Boolean);
  if (parts.some((p) => p.startsWith('$'))) return 'operation';
  if (parts.includes('_history')) return parts.length === 4 ? 'vread' : 'history';
  switch (req.method) {
    case 'GET':
    case 'HEAD':
      return parts.length === 2 ? 'read' : 'search';
    case 'POST':
      return parts.length <= 1 && !parts[0] ? 'operation' : parts.at(-1) === '_search' ? 'search' : 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
    default:
      return 'operation';
  }
}
