/**
 * The README's requests walkthrough, run verbatim (issue 13 "the walkthroughs work verbatim on a fresh
 * npm start"): every `curl` line of the block after `<!-- requests-walkthrough -->` is parsed (method,
 * headers, body, URL), `$B`/`$T` and `<id from step N>` are filled in, and the status its comment
 * promises ("→ 201") is asserted, so the text and the server cannot drift apart.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { buildWorld, type World } from '../../access/world.js';

interface Step {
  n: number;
  expect: number;
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** Splits a shell line into words, honouring single and double quotes (enough for the README's curl lines). */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /'([^']*)'|"([^"]*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

export function walkthroughSteps(readme: string, marker: string): Step[] {
  const start = readme.indexOf(marker);
  if (start < 0) throw new Error(`README has no ${marker}`);
  const block = readme.slice(start).split('```sh\n')[1]!.split('```')[0]!;
  const steps: Step[] = [];
  let pending: { n: number; expect: number } | null = null;
  for (const line of block.split('\n')) {
    const comment = /^# (\d+)\. .*\(→ (\d{3})/.exec(line);
    if (comment) pending = { n: Number(comment[1]), expect: Number(comment[2]) };
    if (!line.startsWith('curl ')) continue;
    if (!pending) throw new Error(`curl line without a numbered "(→ status)" comment: ${line}`);
    // `<id from step N>` holds spaces; keep it one word.
    const w = words(line.replace(/<id from step (\d+)>/g, '{{id$1}}')).slice(1);
    const step: Step = { ...pending, method: 'GET', url: '', headers: {} };
    for (let i = 0; i < w.length; i++) {
      if (w[i] === '-s') continue;
      if (w[i] === '-H') { const [k, ...v] = w[++i]!.split(':'); step.headers[k!.trim().toLowerCase()] = v.join(':').trim(); continue; }
      if (w[i] === '-X') { step.method = w[++i]!; continue; }
      if (w[i] === '-d') { step.body = w[++i]!; continue; }
      step.url = w[i]!;
    }
    steps.push(step);
    pending = null;
  }
  return steps;
}

describe('README: the requests walkthrough runs verbatim (issue 13)', function () {
  this.timeout(600_000);
  let w: World;

  before(async () => {
    w = await buildWorld();
  });
  after(() => w?.s.close());

  it('every step answers the status its comment promises', async () => {
    const readme = fs.readFileSync(path.join(process.cwd(), 'README.md'), 'utf8');
    const steps = walkthroughSteps(readme, '<!-- requests-walkthrough -->');
    expect(steps.map((s) => s.n)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const ids = new Map<number, string>();
    const bodies = new Map<number, Record<string, unknown>>();
    for (const step of steps) {
      const fill = (s: string) => s.replace(/\$B/g, w.s.fhirBase).replace(/\$T/g, w.tokens.self).replace(/\{\{id(\d+)\}\}/g, (_, n: string) => ids.get(Number(n)) ?? 'missing');
      const headers = Object.fromEntries(Object.entries(step.headers).map(([k, v]) => [k, fill(v)]));
      const res = await fetch(fill(step.url), { method: step.method, headers, ...(step.body ? { body: step.body } : {}) });
      const body = (await res.json()) as Record<string, unknown>;
      expect(res.status, `step ${step.n}: ${JSON.stringify(body).slice(0, 300)}`).to.equal(step.expect);
      if (typeof body.id === 'string') ids.set(step.n, body.id);
      bodies.set(step.n, body);
    }
    // What the comments say besides the status.
    const listed = ((bodies.get(1)!.entry ?? []) as Array<{ resource: { id: string; status: string } }>).map((e) => `${e.resource.id}:${e.resource.status}`);
    expect(listed).to.include.members(['kari-resept-metformin:active', 'kari-resept-levaxin:active', 'kari-resept-ibuprofen:stopped']);
    expect(bodies.get(2)).to.deep.include({ owner: { reference: 'Organization/helsebro-legesenter' }, requester: { reference: 'Patient/kari-nordmann' } });
    expect((bodies.get(3)!.issue as Array<{ expression: string[] }>)[0]!.expression).to.deep.equal(['Task.focus']);
    expect((bodies.get(4)!.issue as Array<{ expression: string[] }>)[0]!.expression).to.deep.equal(['Task.status']);
    const allergyTasks = ((bodies.get(6)!.entry ?? []) as Array<{ resource: { id: string; status: string } }>).map((e) => `${e.resource.id}:${e.resource.status}`);
    expect(allergyTasks).to.include.members([`${ids.get(5)}:requested`, 'kari-allergi-notter:rejected']);
    expect(bodies.get(8)!.status).to.equal('cancelled');
    expect(bodies.get(9)!.informationSource).to.deep.equal({ reference: 'Patient/kari-nordmann' });
  });
});
