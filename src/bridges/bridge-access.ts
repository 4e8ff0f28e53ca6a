/**
 * The access context the bridges write with. A bridge token holds only `patient/Observation.c`
 * (access-spec §4.5, S27: nothing flows out to HealthKit or Google Fit), yet a push also writes the
 * Device and Provenance that describe the samples. So the router checks the token's grant per
 * sample, and the store writes with this context: confined to the token's patient, create-only,
 * and only the three resource types a bridge produces. Its read filters exist solely for the
 * conditional-create lookups inside the transaction; nothing read is ever returned to the client.
 *
 * The context is made by the same builder as the FHIR API's (access/context-builder.ts), from the
 * relation the resource server resolved for this request, so bridge writes pass the same write
 * rules and leave the same access log and Provenance as any other write (issue 10, "one builder").
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { RequestHandler } from 'express';
import type { Device, Observation, Provenance, Resource } from 'fhir/r4';
import type { AccessContext, WriteInteraction } from '../access/access-context.js';
import { buildAccessContext } from '../access/context-builder.js';
import type { Relation } from '../access/relations.js';
import { forbidden } from '../fhir/errors.js';
import type { Principal } from '../identity/principal.js';
import { OBSERVATION_CATEGORY } from './mapping.js';

export const BRIDGE_RESOURCE_TYPES = ['Observation', 'Device', 'Provenance'] as const;
const BRIDGE_CATEGORIES = new Set(['vital-signs', 'activity']);

/** The relation and client the resource server resolved for the bridge request being served. */
interface BridgeRequest {
  relation: Relation;
  clientId: string;
}
const currentRequest = new AsyncLocalStorage<BridgeRequest>();

/**
 * Wraps the resource server's authentication for the bridge routes: the relation it resolved (after
 * every gate) stays with the request, through body parsing and the store, until the write is built.
 */
export function withBridgeRequest(authenticate: RequestHandler): RequestHandler {
  return (req, res, next) => {
    void authenticate(req, res, (err?: unknown) => {
      const relation = res.locals.relation as Relation | undefined;
      const principal = res.locals.principal as Principal | undefined;
      if (err !== undefined || !relation || !principal) {
        next(err);
        return;
      }
      currentRequest.run({ relation, clientId: principal.clientId }, () => next());
    });
  };
}

/** Outside an authenticated request (tools, tests calling the store directly): the actor alone. */
function relationFor(patientId: string, actor: string | null): { relation: Relation; clientId: string } {
  const served = currentRequest.getStore();
  if (served && served.relation.patientId === patientId) return served;
  const self = actor === `Patient/${patientId}`;
  return { relation: { actor: self ? 'self' : 'full', patientId, actorRef: actor?.startsWith('Client/') ? null : actor, grantRef: null }, clientId: actor?.startsWith('Client/') ? actor.slice('Client/'.length) : 'unknown' };
}

export function bridgeWriteAccess(patientId: string, actor: string | null): AccessContext {
  const patient = `Patient/${patientId}`;
  const { relation, clientId } = relationFor(patientId, actor);
  return buildAccessContext({
    relation,
    clientId,
    fallbackActor: actor,
    filters: Object.freeze([
      { kind: 'types', allowed: BRIDGE_RESOURCE_TYPES },
      // Identifiers are matched only among this patient's resources, so a sample id chosen to
      // collide with another patient's can neither match nor reveal it.
      { kind: 'query', resourceType: 'Observation', query: `subject=${patient}` },
      { kind: 'query', resourceType: 'Device', query: `patient=${patient}` },
      { kind: 'query', resourceType: 'Provenance', query: `agent=${patient}` },
    ] as const),
    checkWrite(interaction: WriteInteraction, resource: Resource): void {
      if (interaction !== 'create') throw forbidden(`A device bridge only creates resources; ${interaction} is not allowed`);
      switch (resource.resourceType) {
        case 'Observation':
          return checkObservation(resource as Observation, patient);
        case 'Device':
          if ((resource as Device).patient?.reference !== patient) throw forbidden('A bridge Device must belong to the token’s patient');
          return;
        case 'Provenance':
          return checkProvenance(resource as Provenance, patient);
        default:
          throw forbidden(`A device bridge does not write ${resource.resourceType}`);
      }
    },
  });
}

function checkObservation(o: Observation, patient: string): void {
  if (o.subject?.reference !== patient) throw forbidden('A bridge Observation must have the token’s patient as subject');
  const categories = (o.category ?? []).flatMap((c) => c.coding ?? []);
  if (categories.length === 0 || !categories.every((c) => c.system === OBSERVATION_CATEGORY && BRIDGE_CATEGORIES.has(c.code ?? ''))) {
    throw forbidden('A bridge Observation must be in the vital-signs or activity category');
  }
}

function checkProvenance(p: Provenance, patient: string): void {
  if (!p.target.every((t) => t.reference?.startsWith('Observation/'))) throw forbidden('A bridge Provenance may only target Observations');
  if (!p.agent.some((a) => a.who.reference === patient)) throw forbidden('A bridge Provenance must name the token’s patient');
}
