/**
 * Bulk Data `$export` over HTTP with real tokens (issue 14 "A copy of one's data"): the citizen's own
 * export through the portal token, a Read proxy's (only what Read may see), a system client's,
 * cancellation, a job resumed by a fresh runner after its process stopped, output refused to others,
 * and the downloads in the access log.
 */
import { expect } from 'chai';
import type { Bundle, Resource } from 'fhir/r4';
import { createExportRunner } from '../../src/fhir/operations/export/runner.js';
import { createLogger } from '../../src/log.js';
import { buildWorld, type TestedActor, type World } from '../access/world.js';

interface Manifest { transactionTime: string; request: string; requiresAccessToken: boolean; output: Array<{ type: string; url: string; count: number }>; error: unknown[] }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Bulk Data $export (issue 14)', function () {
  this.timeout(300_000);
  let w: World;
  before(async () => {
    w = await buildWorld();
  });
  after(async () => {
    await w?.s.close();
  });

  const auth = (actor: TestedActor) => ({ authorization: `Bearer ${w.tokens[actor]}` });
  async function kickoff(actor: TestedActor, path: string, prefer = true): Promise<Response> {
    return fetch(`${w.s.fhirBase}/${path}`, { headers: { ...auth(actor), accept: 'application/fhir+json', ...(prefer ? { prefer: 'respond-async' } : {}) } });
  }
  async function poll(actor: TestedActor, status: string): Promise<{ res: Response; progress: string[] }> {
    const progress: string[] = [];
    for (let i = 0; i < 600; i++) {
      const res = await fetch(status, { headers: auth(actor) });
      if (res.status !== 202) return { res, progress };
      progress.push(res.headers.get('x-progress') ?? '');
      expect(res.headers.get('retry-after')).to.match(/^\d+$/);
      await sleep(50);
    }
    throw new Error('export did not finish');
  }
  async function exportAll(actor: TestedActor, path: string): Promise<{ manifest: Manifest; files: Map<string, Resource[]>; status: string }> {
    const k = await kickoff(actor, path);
    expect(k.status, await k.clone().text()).to.equal(202);
    const status = k.headers.get('content-location')!;
    expect(status).to.match(/\/fhir\/\$export-status\//);
    const { res } = await poll(actor, status);
    expect(res.status).to.equal(200);
    const manifest = (await res.json()) as Manifest;
    const files = new Map<string, Resource[]>();
    for (const o of manifest.output) {
      const f = await fetch(o.url, { headers: auth(actor) });
      expect(f.status).to.equal(200);
      expect(f.headers.get('content-type')).to.match(/^application\/fhir\+ndjson/);
      const lines = (await f.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Resource);
      expect(lines.length).to.equal(o.count);
      for (const r of lines) expect(r.resourceType).to.equal(o.type);
      files.set(o.type, [...(files.get(o.type) ?? []), ...lines]);
    }
    return { manifest, files, status };
  }
  const refsOf = (files: Map<string, Resource[]>) => new Set([...files.values()].flat().map((r) => `${r.resourceType}/${r.id}`));
  async function searchRefs(actor: TestedActor, type: string): Promise<string[] | null> {
    const res = await fetch(`${w.s.fhirBase}/${type}?_count=1000`, { headers: { ...auth(actor), accept: 'application/fhir+json' } });
    if (res.status !== 200) return null; // no search scope for the type (read only, e.g. the proxy's own RelatedPerson)
    const b = (await res.json()) as Bundle;
    return (b.entry ?? []).map((e) => `${e.resource!.resourceType}/${e.resource!.id}`);
  }

  it('the citizen exports their own record through the portal token: manifest, NDJSON per type, only their data', async () => {
    const { manifest, files } = await exportAll('self', 'Patient/kari-nordmann/$export');
    expect(manifest.requiresAccessToken).to.equal(true);
    expect(manifest.request).to.match(/\/Patient\/kari-nordmann\/\$export$/);
    expect(Date.parse(manifest.transactionTime)).to.be.a('number').and.not.NaN;
    expect(manifest.error).to.deep.equal([]);
    expect(files.get('Patient')!.map((p) => p.id)).to.deep.equal(['kari-nordmann']);
    const text = JSON.stringify([...files.values()]);
    expect(text).to.not.include('emma-johansen');
    // The same as what the token's searches show, type by type (the access filters, not a copy of them).
    for (const type of ['Observation', 'Appointment', 'DocumentReference', 'Consent']) {
      expect((files.get(type) ?? []).map((r) => `${type}/${r.id}`).sort()).to.deep.equal((await searchRefs('self', type))!.sort());
    }
  });

  it('a file download asking for Accept: application/fhir+ndjson (as the Bulk Data IG has clients do) gets NDJSON; XML is still 406', async () => {
    const { manifest } = await exportAll('self', 'Patient/kari-nordmann/$export?_type=Patient');
    const url = manifest.output[0]!.url;
    for (const accept of ['application/fhir+ndjson', 'application/ndjson', 'application/fhir+ndjson, application/fhir+json;q=0.5']) {
      const f = await fetch(url, { headers: { ...auth('self'), accept } });
      expect(f.status, accept).to.equal(200);
      expect(f.headers.get('content-type')).to.match(/^application\/fhir\+ndjson/);
      expect(JSON.parse((await f.text()).split('\n')[0]!).id).to.equal('kari-nordmann');
    }
    const xml = await fetch(url, { headers: { ...auth('self'), accept: 'application/fhir+xml' } });
    expect(xml.status).to.equal(406);
    expect(((await xml.json()) as { resourceType: string }).resourceType).to.equal('OperationOutcome');
    // NDJSON is for export files only; an ordinary read asking for it is still refused.
    const read = await fetch(`${w.s.fhirBase}/Patient/kari-nordmann`, { headers: { ...auth('self'), accept: 'application/fhir+ndjson' } });
    expect(read.status).to.equal(406);
  });

  it('a Read proxy’s export holds exactly what Read may see, less than Kari’s own', async () => {
    const own = refsOf((await exportAll('self', 'Patient/kari-nordmann/$export')).files);
    const read = refsOf((await exportAll('read', 'Patient/kari-nordmann/$export')).files);
    for (const ref of read) expect(own.has(ref), ref).to.equal(true);
    const missing = [...own].filter((r) => !read.has(r));
    expect(missing).to.include('DocumentReference/kari-personlig-notat-1'); // her personal note
    expect(missing.some((r) => r.startsWith('QuestionnaireResponse/'))).to.equal(true); // older answers
    for (const type of new Set([...read].map((r) => r.split('/')[0]!))) {
      const searched = await searchRefs('read', type);
      if (searched === null) continue;
      expect([...read].filter((r) => r.startsWith(`${type}/`)).sort(), type).to.deep.equal(searched.sort());
    }
  });

  it('a system client exports at system level and per patient; the patient side may not ask for a system-level export', async () => {
    const all = await exportAll('system', '$export?_type=Patient,Observation&_outputFormat=application%2Ffhir%2Bndjson');
    expect(all.manifest.output.map((o) => o.type).sort()).to.deep.equal(['Observation', 'Patient']);
    const patients = (all.files.get('Patient') ?? []).map((p) => p.id);
    expect(patients).to.include.members(['kari-nordmann', 'emma-johansen']);
    const emma = await exportAll('system', 'Patient/emma-johansen/$export?_type=Patient&_outputFormat=ndjson');
    expect(emma.files.get('Patient')!.map((p) => p.id)).to.deep.equal(['emma-johansen']);
    const refused = await kickoff('self', '$export');
    expect(refused.status).to.equal(403);
    expect(((await refused.json()) as { resourceType: string }).resourceType).to.equal('OperationOutcome');
    // Another patient's record is hidden (404), not exported.
    expect((await kickoff('self', 'Patient/emma-johansen/$export')).status).to.equal(404);
  });

  it('rejects a kick-off without Prefer: respond-async, an unknown format, type or _since (400 OperationOutcome)', async () => {
    for (const [path, prefer, where] of [
      ['Patient/kari-nordmann/$export', false, 'Prefer'],
      ['Patient/kari-nordmann/$export?_outputFormat=text/csv', true, '_outputFormat'],
      ['Patient/kari-nordmann/$export?_type=Nonsense', true, '_type'],
      ['Patient/kari-nordmann/$export?_since=yesterday', true, '_since'],
      ['Patient/kari-nordmann/$export?_typeFilter=Observation%3Fcode%3Dx', true, '_typeFilter'],
    ] as const) {
      const res = await kickoff('self', path, prefer);
      expect(res.status, path).to.equal(400);
      const body = (await res.json()) as { resourceType: string; issue: Array<{ diagnostics: string; expression?: string[] }> };
      expect(body.resourceType).to.equal('OperationOutcome');
      expect(body.issue[0]!.expression).to.deep.equal([where]);
    }
  });

  it('_since limits the export to resources changed after it', async () => {
    const { files } = await exportAll('self', `Patient/kari-nordmann/$export?_since=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`);
    expect(files.size).to.equal(0);
  });

  it('the status URL and output files belong to the requester: another token gets 404', async () => {
    const { manifest, status } = await exportAll('self', 'Patient/kari-nordmann/$export?_type=Patient');
    for (const other of ['read', 'full', 'system'] as const) {
      expect((await fetch(manifest.output[0]!.url, { headers: auth(other) })).status, other).to.equal(404);
      expect((await fetch(status, { headers: auth(other) })).status, other).to.equal(404);
    }
    expect((await fetch(manifest.output[0]!.url)).status).to.equal(401);
  });

  it('every download is in the patient’s access log', async () => {
    const { manifest } = await exportAll('read', 'Patient/kari-nordmann/$export?_type=Patient');
    const rows = await w.s.db.query<{ actor: string; query: string; shown: string[] }>(
      "SELECT actor, query, shown FROM access_log WHERE patient_id = 'kari-nordmann' AND query LIKE '$export%' ORDER BY seq");
    expect(rows.some((r) => r.query.startsWith('$export-output') && r.shown.includes('Patient/kari-nordmann') && r.actor === 'RelatedPerson/fullmakt-kari-ingrid')).to.equal(true);
    expect(rows.some((r) => r.query.startsWith('$export') && r.actor === 'RelatedPerson/fullmakt-kari-ingrid')).to.equal(true);
    expect(manifest.output.length).to.equal(1);
  });

  it('DELETE on the status URL cancels: 202, later polls 404, the files are gone', async () => {
    const k = await kickoff('self', 'Patient/kari-nordmann/$export');
    const status = k.headers.get('content-location')!;
    const del = await fetch(status, { method: 'DELETE', headers: auth('self') });
    expect(del.status).to.equal(202);
    expect((await fetch(status, { headers: auth('self') })).status).to.equal(404);
    await sleep(300);
    expect((await fetch(status, { headers: auth('self') })).status).to.equal(404);
    const id = status.split('/').at(-1)!;
    const parts = await w.s.db.query<{ n: string | number }>('SELECT count(*) AS n FROM export_parts WHERE job_id = $1', [id]);
    expect(Number(parts[0]!.n)).to.equal(0);
    const job = await w.s.db.query<{ status: string }>('SELECT status FROM export_jobs WHERE id = $1', [id]);
    expect(job[0]!.status).to.equal('cancelled');
    expect((await fetch(status, { method: 'DELETE', headers: auth('self') })).status).to.equal(404);
  });

  it('a job its process left running is resumed by the runner of the next process, without duplicates', async () => {
    const done = await exportAll('self', 'Patient/kari-nordmann/$export?_type=Patient,Observation,Appointment');
    const id = done.status.split('/').at(-1)!;
    const before = done.manifest.output.map((o) => ({ type: o.type, count: o.count }));
    // What a process stopped in the middle of Observation leaves: Appointment done, a half-written
    // Observation part, the job running with a heartbeat from before it died.
    await w.s.db.query("DELETE FROM export_parts WHERE job_id = $1 AND resource_type <> 'Appointment'", [id]);
    await w.s.db.query('INSERT INTO export_parts (job_id, resource_type, part, count, ndjson) VALUES ($1, $2, 1, 1, $3)', [id, 'Observation', '{"resourceType":"Observation","id":"half"}\n']);
    await w.s.db.query("UPDATE export_jobs SET status = 'running', done_types = '{Appointment}', heartbeat = now() - interval '1 hour', finished = NULL WHERE id = $1", [id]);
    expect((await fetch(done.status, { headers: auth('self') })).status).to.equal(202);
    const next = createExportRunner({ db: w.s.db, fhirBase: w.s.fhirBase, logger: createLogger('silent'), pageSize: 2 });
    next.start();
    try {
      const { res } = await poll('self', done.status);
      expect(res.status).to.equal(200);
      const manifest = (await res.json()) as Manifest;
      const counts = new Map<string, number>();
      for (const o of manifest.output) counts.set(o.type, (counts.get(o.type) ?? 0) + o.count);
      for (const b of before) expect(counts.get(b.type), b.type).to.equal(before.filter((x) => x.type === b.type).reduce((n, x) => n + x.count, 0));
      const obs: string[] = [];
      for (const o of manifest.output.filter((x) => x.type === 'Observation')) obs.push(...(await (await fetch(o.url, { headers: auth('self') })).text()).split('\n').filter(Boolean));
      expect(obs.join()).to.not.include('"half"');
      expect(new Set(obs).size).to.equal(obs.length);
    } finally {
      await next.stop();
    }
  });
});
