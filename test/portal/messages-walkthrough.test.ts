/**
 * The README's message walkthrough, run verbatim: every `curl` line between the
 * `messages-walkthrough` markers is parsed (method, headers, body, URL with $B and $T) and sent to a
 * fresh server with the demo data and Kari's portal token; each answers the status its comment names.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { PROJECT_ROOT } from '../../src/paths.js';
import { buildWorld, type World } from '../access/world.js';

interface Step {
  line: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  expected: number;
}

/** Words of a shell line: single quotes literal, double quotes with `\$` and `\"` escapes, spaces split. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      let out = '';
      for (; line[j] !== '"'; j++) {
        if (line[j] === '\\' && /[$"\\`]/.test(line[j + 1] ?? '')) out += line[++j];
        else out += line[j] === '$' ? '\uE000' : line[j];
      }
      word = (word ?? '') + out;
      i = j;
    } else if (c === ' ') {
      if (word !== null) words.push(word);
      word = null;
    } else word = (word ?? '') + (c === '$' ? '\uE000' : c);
  }
  if (word !== null) words.push(word);
  return words;
}

export function walkthroughSteps(readme: string, vars: Record<string, string>): Step[] {
  const block = /<!-- messages-walkthrough:start -->\s*```sh\n([\s\S]*?)```\s*<!-- messages-walkthrough:end -->/.exec(readme)?.[1];
  if (!block) throw new Error('README has no messages walkthrough');
  // `\uE000NAME` marks a variable the shell would expand; an escaped `\$` stays a literal dollar.
  const expand = (w: string) => w.replace(/\uE000\{?([A-Za-z_]+)\}?/g, (_m, name: string) => {
    if (!(name in vars)) throw new Error(`the walkthrough uses $${name}, which the test does not set`);
    return vars[name]!;
  });
  const steps: Step[] = [];
  let expected = 0;
  for (const line of block.split('\n')) {
    const status = /\(→ (\d{3})/.exec(line);
    if (line.startsWith('#') && status) expected = Number(status[1]);
    if (!line.startsWith('curl ')) continue;
    const words = shellWords(line).map(expand);
    const step: Step = { line, method: 'GET', url: '', headers: {}, expected };
    for (let i = 1; i < words.length; i++) {
      const w = words[i]!;
      if (w === '-s') continue;
      if (w === '-X') step.method = words[++i]!;
      else if (w === '-H') {
        const [k, ...v] = words[++i]!.split(':');
        step.headers[k!.trim().toLowerCase()] = v.join(':').trim();
      } else if (w === '-d') step.body = words[++i]!;
      else step.url = w;
    }
    steps.push(step);
  }
  return steps;
}

describe('README: the message walkthrough works verbatim (issue 13)', function () {
  this.timeout(600_000);
  let w: World;
  before(async () => {
    w = await buildWorld();
  });
  after(() => w?.s.close());

  it('the shell words are read as the shell reads them', () => {
    expect(shellWords(`curl -s -H "Authorization: Bearer $T" "$B/\\$events-since?x=1" -d '{"a":"$b"}'`).map((x) => x.replace(/\uE000/g, '<var>'))).to.deep.equal([
      'curl', '-s', '-H', 'Authorization: Bearer <var>T', '<var>B/$events-since?x=1', '-d', '{"a":"$b"}',
    ]);
  });

  it('every step answers the status the README names', async () => {
    const readme = fs.readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
    const steps = walkthroughSteps(readme, { B: w.s.fhirBase, T: w.tokens.self });
    expect(steps.length).to.be.greaterThan(8);
    const seen: Array<Record<string, unknown>> = [];
    for (const step of steps) {
      const res = await fetch(step.url, { method: step.method, headers: step.headers, ...(step.body !== undefined ? { body: step.body } : {}) });
      const text = await res.text();
      expect(res.status, `${step.line}\n→ ${text.slice(0, 300)}`).to.equal(step.expected);
      seen.push(JSON.parse(text) as Record<string, unknown>);
    }
    // What the comments promise beyond the status.
    const reply = seen[5] as { recipient: Array<{ reference: string }>; topic: { text: string } };
    expect(reply.recipient[0]!.reference).to.equal('HealthcareService/hjertepoliklinikk');
    expect(reply.topic.text).to.equal('Innkalling til hjertepoliklinikken');
    expect(JSON.stringify(seen[7])).to.contain('Communication.recipient[0]');
    expect(JSON.stringify(seen[8])).to.contain('kari-melding-2026-11-22-brukerstotte');
    expect((seen[9] as { resourceType: string }).resourceType).to.equal('Parameters');
  });
});
