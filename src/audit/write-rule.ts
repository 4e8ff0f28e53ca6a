/**
 * AuditEvent is never a stored resource: the access log lives in its own append-only table
 * (migration 007). This write rule closes the repository to AuditEvent for every caller, the
 * server's own code included, so nothing can put a log entry where the log is not kept.
 */
import type { WriteRule } from '../fhir/repository/write-rules.js';
import { logIsReadOnly } from './audit-routes.js';

export const auditEventIsReadOnly: WriteRule = async (change) => {
  if (change.resource.resourceType === 'AuditEvent') throw logIsReadOnly();
};
