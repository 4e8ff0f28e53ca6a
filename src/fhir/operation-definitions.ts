/**
 * OperationDefinitions of helsebro's own operations, served like `/metadata` without a token (they
 * describe the API, not anyone's data) at `[base]/OperationDefinition/{id}`. Ids not listed here fall
 * through to the generic router, so stored OperationDefinitions keep working.
 */
import type { NextFunction, Request, Response } from 'express';
import type { OperationDefinition } from 'fhir/r4';
import { sendJson } from '../http/respond.js';
import { eventsSinceDefinition } from '../portal/messages/events-since-definition.js';
import { accountOperationDefinition } from './interactions/account-definitions.js';

const PUBLISHED: Readonly<Record<string, () => OperationDefinition>> = {
  'events-since': eventsSinceDefinition,
  'Patient-deactivate': () => accountOperationDefinition('deactivate'),
  'Patient-reactivate': () => accountOperationDefinition('reactivate'),
};

export function publishedOperationDefinition(req: Request, res: Response, next: NextFunction): void {
  const make = PUBLISHED[String(req.params.id)];
  if (!make) return next();
  sendJson(req, res, 200, make());
}
