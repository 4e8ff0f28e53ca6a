/**
 * The access engine as the server plugs it in: the per-request hook of the resource server
 * (relation → gates → decision → access log), the refresh gate of the token endpoint, and the
 * patient picker. One place decides; the repository only executes the filters it is given.
 */
import type { AccessContext, LivenessGuard } from './access-context.js';
import type { Db } from '../db/db.js';
import { FhirError, unauthorized } from '../fhir/errors.js';
import { currentTerms } from '../identity/terms.js';
import type { Repository } from '../fhir/repository/repository.js';
import type { Logger } from '../log.js';
import type { Principal } from '../identity/principal.js';
import type { ActingOptionsResolver } from '../identity/people.js';
import { AccessLog, responseRows, shownResources } from '../audit/access-log.js';
import { binaryOwners } from '../fhir/repository/binary-owners.js';
import { ClientNames } from '../audit/client-names.js';
import { actorFacts } from '../audit/facts.js';
import type { ActorFacts } from '../audit/access-log.js';
import { decideAccess, type DecideOptions } from './decide.js';
import { accessOptionsResolver } from './options.js';
import { RelationCache } from './relation-cache.js';
import { resolveRelation, type Relation, type WhoActs } from './relations.js';

/**
 * What the engine reads of an HTTP request and where it leaves the request's relation and auditor.
 * Structural, so the access layer needs neither express nor the resource server (auth calls access).
 */
export interface RequestFacts {
  method: string;
  path: string;
  query: unknown;
  originalUrl: string;
  baseUrl: string;
  get(header: string): string | undefined;
}
export interface ResponseLocals {
  locals: Record<string, unknown>;
}

export interface AccessEngine {
  /** `liveness`: the grant check is left to the read's statement (resource-server.ts); the context carries it. */
  toAccess(principal: Principal, req: RequestFacts, res: ResponseLocals, liveness?: LivenessGuard): Promise<AccessContext>;
  /** The refresh gate: does the relation a grant was issued for still pass every gate (access-spec §4.2)? */
  gate: (who: WhoActs) => Promise<boolean>;
  actingOptions: ActingOptionsResolver;
  accessLog: AccessLog;
}

/**
 * The decision of a token's requests within one second, made once (issue 11 §1 "reuse the access
 * decision"; a portal page's burst of reads and searches, or an app's, arrives within one). The
 * decision is a function of the principal — fixed by the token id (its claims and grant) and the
 * access version it was checked under —, of the relation, of the client's name and of the slice
 * variables, whose clock reads to the second (decide.ts `sliceVars`). The relation is the object the
 * relation cache keeps for that version, Oslo day and Terms version (relation-cache.ts), so a change
 * to any access fact, a new day or new terms means another relation object and a fresh decision.
 * Without an access version (a caller that read none) nothing is kept.
 */
class DecisionCache {
  private readonly byRelation = new WeakMap<Relation, Map<string, { facts: ActorFacts; access: AccessContext }>>();

  of(principal: Principal, relation: Relation, clientName: string | null, now: Date, decide: () => { facts: ActorFacts; access: AccessContext }): { facts: ActorFacts; access: AccessContext } {
    if (principal.accessVersion === undefined) return decide();
    const key = `${principal.tokenId}|${principal.accessVersion}|${Math.floor(now.getTime() / 1000)}|${clientName ?? ''}`;
    let byKey = this.byRelation.get(relation);
    const hit = byKey?.get(key);
    if (hit) return hit;
    const made = decide();
    if (!byKey) this.byRelation.set(relation, (byKey = new Map()));
    // One entry per token and second is live at a time; older seconds are dropped wholesale.
    if (byKey.size >= 64) byKey.clear();
    byKey.set(key, made);
    return made;
  }
}

/** A deactivated patient keeps exactly one door open: reactivating their own account (S14). */
const REACTIVATE = /^\/Patient\/([^/]+)\/\$reactivate$/;

export function createAccessEngine(db: Db, repo: Repository, logger: Logger, opts: DecideOptions = {}): AccessEngine {
  const accessLog = new AccessLog(db, logger);
  const clientNames = new ClientNames(db);
  const relations = new RelationCache();
  const decided = new DecisionCache();
  return {
    accessLog,
    actingOptions: accessOptionsResolver(db, repo),
    gate: async (grant) => (await resolveRelation(db, repo, { kind: grant.kind, patientId: grant.patientId, fhirUser: grant.fhirUser })).ok,
    async toAccess(principal, req, res, liveness) {
      const who: WhoActs = { kind: principal.kind, patientId: principal.patientId ?? null, fhirUser: principal.fhirUser ?? null };
      // Resolved again only when an access fact changed or the Oslo day turned (relation-cache.ts).
      const resolution = await relations.resolve(who, principal.accessVersion, () => resolveRelation(db, repo, who));
      let relation: Relation;
      if (resolution.ok) relation = resolution.relation;
      else if (resolution.gate === 'G2' && resolution.relation?.actor === 'self' && req.method === 'POST' && REACTIVATE.exec(req.path)?.[1] === resolution.relation.patientId) {
        relation = resolution.relation;
      } else {
        logger.info('access denied by gate', { gate: resolution.gate, why: resolution.why, client: principal.clientId, grant: principal.grantId });
        if (resolution.gate === 'G15') throw termsNotCurrent(resolution.relation?.actor === 'self');
        throw unauthorized('login');
      }
      res.locals.relation = relation;
      // The app's registered name, looked up once per client and cached (issue 10 §6).
      const clientName = await clientNames.nameOf(principal.clientId);
      const now = opts.now ?? new Date();
      const { facts, access } = decided.of(principal, relation, clientName, now, () => ({
        facts: actorFacts(relation, principal.clientId, clientName),
        access: decideAccess(principal, relation, { ...opts, clientName, now }),
      }));
      // Every response with patient data is logged before it is sent (src/audit/access-log.ts).
      res.locals.auditor = async (r: RequestFacts, body: unknown, status: number) => {
        const q = r.originalUrl.indexOf('?');
        const query = q < 0 ? '' : r.originalUrl.slice(q + 1);
        const path = `${r.baseUrl}${r.path}`.replace(/^\/fhir(?=\/|$)/, '');
        // A Binary shown other than as stored text (history, includes, $everything) is logged under its message's patients.
        const owners = await binaryOwners(db, shownResources(body));
        return accessLog.recordRows(responseRows(facts, { method: r.method, path, query, ifNoneExist: r.get('if-none-exist') }, body, status, undefined, owners));
      };
      // The grant check a read or search carries is this request's own (resource-server.ts).
      return liveness ? Object.freeze({ ...access, liveness }) : access;
    },
  };
}

/**
 * 401 when the Terms of Use in force are not accepted (issue 14): nothing is served until the
 * citizen logs in again and accepts. Unlike other 401s the reason is stated, because the citizen
 * must act on it.
 */
function termsNotCurrent(self: boolean): FhirError {
  const { version } = currentTerms();
  const diagnostics = self
    ? `The Terms of Use have changed (version ${version}); log in again in the Helsebro portal and accept them before using the service`
    : `The patient has not yet accepted the Terms of Use in force (version ${version}); you may act for them again once they have`;
  return new FhirError(401, { code: 'login', diagnostics }).withHeader('WWW-Authenticate', 'Bearer realm="helsebro", error="invalid_token", error_description="The Terms of Use in force are not accepted"');
}
