/**
 * The plans of the statements a request sends, as they ran (EXPLAIN ANALYZE with the statement's own
 * parameters), for tests that assert what the database did for a request made over HTTP
 * (test/search/access-probe.test.ts, page-readout.test.ts). PostgreSQL and PGlite alike.
 */
import type { Observation } from 'fhir/r4';
import type { Db, Row } from '../../src/db/db.js';
import { countStatements } from './count-statements.js';

/** A node of `EXPLAIN (FORMAT JSON)`, with the fields these tests read. */
export interface PlanNode {
  'Node Type'?: string;
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  Output?: string[];
  Plans?: PlanNode[];
}

/**
 * Runs `request` and explains each statement it sends whose text `matches`, after the statement ran
 * (so the request's own result is untouched). VERBOSE adds each node's output columns.
 */
export async function explainAsRun<T>(db: Db, matches: (text: string) => boolean, request: () => Promise<T>, opts: { verbose?: boolean } = {}): Promise<{ result: T; plans: PlanNode[] }> {
  const plans: PlanNode[] = [];
  const counter = countStatements(db, async (text, running, q, params) => {
    const rows = await running;
    if (matches(text)) {
      const [plan] = await q.query<Row>(`EXPLAIN (ANALYZE, ${opts.verbose ? 'VERBOSE, ' : ''}FORMAT JSON) ${text}`, params);
      const raw = plan!['QUERY PLAN'];
      plans.push(((typeof raw === 'string' ? JSON.parse(raw) : raw) as Array<{ Plan: PlanNode }>)[0]!.Plan);
    }
    return rows;
  });
  try {
    return { result: await request(), plans };
  } finally {
    counter.stop();
  }
}

/** A citizen's heart-rate reading `i` minutes into 2026 (LOINC 8867-4), optionally their own device's (performer = the citizen). */
export function heartRate(patientId: string, i: number, opts: { ownDevice?: boolean } = {}): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
    subject: { reference: `Patient/${patientId}` },
    ...(opts.ownDevice ? { performer: [{ reference: `Patient/${patientId}` }] } : {}),
    effectiveDateTime: new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString(),
    valueQuantity: { value: 60 + (i % 40), unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  };
}
