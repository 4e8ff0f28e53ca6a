/**
 * The bench's ceiling (issue 11 §8): a minimal Express + `pg` (or PGlite) server that answers the
 * bench's scenarios with the same SQL shape on the same data, and nothing else — no token, no access
 * decision, no access log, no validation, no search-parameter extraction beyond the few index rows the
 * bench's searches use. Its rate is what the database and Node's HTTP stack allow on this machine in
 * this run; helsebro's rate is reported as a ratio of it.
 *
 *   DATABASE_URL=postgres://…|pglite://<folder> PORT=… WORKERS=… node --import tsx bench/ceiling.ts
 *
 * Same URLs as helsebro: GET /fhir/Observation/:id, GET /fhir/Patient/:id/Observation,
 * GET /fhir/Observation?patient=&code=, GET /fhir/AuditEvent?patient=, POST /fhir/Observation,
 * POST /fhir (transaction), POST /bridges/healthkit. Prints `ceiling listening <port>` when ready.
 */
import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import pg from 'pg';
import type { Bundle, Observation } from 'fhir/r4';

type Query = <T = Record<string, unknown>>(text: string, params?: unknown[]) => Promise<T[]>;

const url = process.env.DATABASE_URL ?? '';
const workers = url.startsWith('pglite://') ? 1 : Number(process.env.WORKERS ?? 1);

async function connect(): Promise<Query> {
  if (url.startsWith('pglite://')) {
    const { PGlite } = await import('@electric-sql/pglite');
    const db = await PGlite.create({ dataDir: url.slice('pglite://'.length), relaxedDurability: false });
    return async (text, params) => (await db.query(text, params)).rows as never;
  }
  pg.types.setTypeParser(1184, (v) => v);
  const pool = new pg.Pool({ connectionString: url, max: 20 });
  return async (text, params) => (await pool.query(text, params)).rows as never;
}

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const searchset = (rows: Array<{ t: string }>) => `{"resourceType":"Bundle","type":"searchset","entry":[${rows.map((r) => `{"resource":${r.t},"search":{"mode":"match"}}`).join(',')}]}`;

/** One statement: every resource, history row and the bench searches' index rows (patient, subject, code, category, date). */
const INSERT = `
  WITH d AS (SELECT x.id, x.content, x.pid, x.system, x.code, x.eff, nextval('history_seq') AS seq, now() AS at
               FROM jsonb_to_recordset($1::jsonb) AS x(id text, content jsonb, pid text, system text, code text, eff timestamptz)),
    r AS (INSERT INTO resources (resource_type, id, version_id, last_updated, deleted, content, compartments, seq)
          SELECT 'Observation', id, 1, at, false, content, ARRAY[pid], seq FROM d),
    h AS (INSERT INTO resource_history (seq, resource_type, id, version_id, last_updated, deleted, method, content, compartments, access_seq)
          SELECT seq, 'Observation', id, 1, at, false, 'POST', content, ARRAY[pid], seq FROM d),
    f AS (INSERT INTO sp_reference (resource_type, resource_id, code, target_type, target_id, seq)
          SELECT 'Observation', id, c, 'Patient', pid, seq FROM d, unnest(ARRAY['patient', 'subject']) AS c),
    t AS (INSERT INTO sp_token (resource_type, resource_id, code, system, value, seq)
          SELECT 'Observation', id, 'code', system, code, seq FROM d
          UNION ALL SELECT 'Observation', id, 'category', 'http://terminology.hl7.org/CodeSystem/observation-category', 'vital-signs', seq FROM d)
  INSERT INTO sp_date (resource_type, resource_id, code, low, high, seq) SELECT 'Observation', id, 'date', eff, eff, seq FROM d WHERE eff IS NOT NULL`;

function rowOf(o: Observation): Record<string, unknown> {
  const id = randomUUID();
  const coding = o.code?.coding?.[0];
  return { id, content: { ...o, id }, pid: o.subject?.reference?.split('/')[1] ?? null, system: coding?.system ?? null, code: coding?.code ?? null, eff: o.effectiveDateTime ?? null };
}

async function serve(): Promise<void> {
  const q = await connect();
  const app = express();
  app.use(express.json({ limit: '50mb', type: ['application/json', 'application/fhir+json'] }));

  app.get('/fhir/Observation/:id', async (req: Request, res: Response) => {
    const rows = await q<{ t: string; version_id: number }>("SELECT content::text AS t, version_id FROM resources WHERE resource_type = 'Observation' AND id = $1 AND NOT deleted", [req.params.id]);
    if (!rows[0]) return void res.status(404).end();
    res.setHeader('ETag', `W/"${rows[0].version_id}"`);
    res.status(200).type(FHIR_JSON).send(rows[0].t);
  });
  app.get('/fhir/Patient/:pid/Observation', async (req: Request, res: Response) => {
    // The shape helsebro's compartment search has (search/execute.ts): the patient's resources found
    // through their reference index rows (the compartment's parameters), collected first (`m`), and
    // only those sorted; the page's content is read by seq. `compartments && ARRAY[…]` ordered by
    // last_updated planned badly on PGlite (17–64 req/s at 1,000 × 50, below helsebro's own rate), which
    // made that row's ratio meaningless; this shape answers 175–217 req/s there (4 December).
    const rows = await q<{ t: string }>(
      `WITH m AS MATERIALIZED (SELECT r.seq, r.last_updated, r.id FROM resources r
              WHERE r.seq IN (SELECT cr.seq FROM sp_reference cr WHERE cr.resource_type = 'Observation' AND cr.code = ANY(ARRAY['subject', 'performer'])
                                AND cr.target_type = 'Patient' AND cr.target_id = $1)
                AND r.resource_type = 'Observation' AND NOT r.deleted)
       SELECT r.content::text AS t FROM (SELECT seq, last_updated, id FROM m ORDER BY last_updated DESC, id LIMIT 20) p JOIN resources r ON r.seq = p.seq
        ORDER BY p.last_updated DESC, p.id`,
      [req.params.pid],
    );
    res.status(200).type(FHIR_JSON).send(searchset(rows));
  });
  app.get('/fhir/Observation', async (req: Request, res: Response) => {
    const [system, code] = String(req.query.code ?? '').split('|');
    const rows = await q<{ t: string }>(
      `SELECT r.content::text AS t FROM resources r WHERE r.resource_type = 'Observation' AND NOT r.deleted
          AND r.seq IN (SELECT seq FROM sp_reference WHERE resource_type = 'Observation' AND code = 'patient' AND target_type = 'Patient' AND target_id = $1)
          AND r.seq IN (SELECT seq FROM sp_token WHERE resource_type = 'Observation' AND code = 'code' AND system = $2 AND value = $3)
        ORDER BY r.last_updated DESC, r.id LIMIT 20`,
      [String(req.query.patient ?? '').replace(/^Patient\//, ''), system, code],
    );
    res.status(200).type(FHIR_JSON).send(searchset(rows));
  });
  app.get('/fhir/AuditEvent', async (req: Request, res: Response) => {
    const rows = await q<{ t: string }>(
      `SELECT json_build_object('resourceType', 'AuditEvent', 'id', id, 'recorded', recorded, 'agent', json_build_array(json_build_object('who', json_build_object('reference', actor), 'requestor', true)),
              'entity', (SELECT json_agg(json_build_object('what', json_build_object('reference', s))) FROM unnest(shown) AS s), 'outcome', outcome)::text AS t
         FROM access_log WHERE patient_id = $1 ORDER BY recorded DESC, seq DESC LIMIT 20`,
      [String(req.query.patient ?? '').replace(/^Patient\//, '')],
    );
    res.status(200).type(FHIR_JSON).send(searchset(rows));
  });
  app.post('/fhir/Observation', async (req: Request, res: Response) => {
    const row = rowOf(req.body as Observation);
    await q(INSERT, [JSON.stringify([row])]);
    res.status(201).type(FHIR_JSON).send(JSON.stringify(row.content));
  });
  app.post('/fhir', async (req: Request, res: Response) => {
    const rows = ((req.body as Bundle).entry ?? []).map((e) => rowOf(e.resource as Observation));
    await q(INSERT, [JSON.stringify(rows)]);
    res.status(200).type(FHIR_JSON).send(JSON.stringify({ resourceType: 'Bundle', type: 'transaction-response', entry: rows.map((r) => ({ response: { status: '201 Created', location: `Observation/${r.id}/_history/1` } })) }));
  });
  app.post('/bridges/healthkit', async (req: Request, res: Response) => {
    const pid = String(req.query.patient ?? '');
    const samples = (req.body as { samples: Array<{ uuid: string; type: string; value: number; unit: string; startDate: string }> }).samples;
    const rows = samples.map((s) =>
      rowOf({
        resourceType: 'Observation', status: 'final', identifier: [{ system: 'https://developer.apple.com/healthkit', value: s.uuid }],
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
        code: { coding: [{ system: 'https://developer.apple.com/healthkit', code: s.type }] }, subject: { reference: `Patient/${pid}` },
        effectiveDateTime: s.startDate, valueQuantity: { value: s.value, unit: s.unit },
      }),
    );
    await q(INSERT, [JSON.stringify(rows)]);
    res.status(200).json({ summary: { received: rows.length, created: rows.length, rejected: 0 } });
  });
  app.use((err: Error, _req: Request, res: Response, _next: unknown) => void res.status(500).json({ error: err.message }));

  const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    const addr = server.address();
    if (!cluster.isWorker) console.log(`ceiling listening ${typeof addr === 'object' && addr ? addr.port : ''}`);
    else process.send?.('ready');
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

if (workers > 1 && cluster.isPrimary) {
  let ready = 0;
  for (let i = 0; i < workers; i++) {
    cluster.fork().on('message', (m) => {
      if (m === 'ready' && ++ready === workers) console.log(`ceiling listening ${process.env.PORT}`);
    });
  }
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
    setTimeout(() => process.exit(0), 2000).unref();
    cluster.on('exit', () => Object.keys(cluster.workers ?? {}).length === 0 && process.exit(0));
  });
} else {
  serve().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
