/**
 * Summarises V8 CPU profiles (`BENCH_PROFILE=dir npm run bench`) by self time: per function and per file
 * (node_modules grouped by package). Only samples from the first one whose stack passes through `--from`
 * (default the search request handler, `search@search-history`) onwards are counted, so the bench's data loading does not drown the rows measured.
 *
 *   npx tsx bench/profile-summary.ts /tmp/prof [--from=fn@file] [--top=40] [--wall]
 */
import fs from 'node:fs';
import path from 'node:path';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; startTime: number; samples: number[]; timeDeltas: number[] }

const args = process.argv.slice(2);
const dir = args.find((a) => !a.startsWith('--')) ?? '/tmp/prof';
// `name` or `name@file-part`: the request handler, not the searches the server runs at startup (terms).
const from = args.find((a) => a.startsWith('--from='))?.slice(7) ?? 'search@search-history';
const [fromFn, fromFile] = from.split('@') as [string, string | undefined];
const bySamples = !args.includes('--wall');
const top = Number(args.find((a) => a.startsWith('--top='))?.slice(6) ?? 40);

const byFn = new Map<string, number>();
const byFile = new Map<string, number>();
let total = 0;

function fileOf(url: string): string {
  if (!url) return '(native/gc/idle)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 13).split('/');
    return `npm:${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (url.startsWith('node:')) return url;
  const i = url.indexOf('/dist/');
  return i >= 0 ? url.slice(i + 1) : url.replace(/^file:\/\//, '');
}

for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.cpuprofile'))) {
  const p = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const passes = new Map<number, boolean>();
  const through = (id: number): boolean => {
    const known = passes.get(id);
    if (known !== undefined) return known;
    const n = byId.get(id)!;
    const up = parent.get(id);
    const v = (n.callFrame.functionName === fromFn && (!fromFile || n.callFrame.url.includes(fromFile))) || (up !== undefined && through(up));
    passes.set(id, v);
    return v;
  };
  let started = false;
  let counted = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    if (!started && through(id)) started = true;
    if (!started) continue;
    const n = byId.get(id)!;
    // Counted in samples, not the time between them: on a loaded machine the process is descheduled
    // between samples and the wall-clock gap lands on whatever ran last (often a socket write).
    const dt = bySamples ? 1000 : (p.timeDeltas[i + 1] ?? 0);
    if (n.callFrame.functionName === '(idle)') continue;
    const file = fileOf(n.callFrame.url);
    const fn = `${n.callFrame.functionName || '(anonymous)'} ${file}:${n.callFrame.lineNumber + 1}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + dt);
    byFile.set(file, (byFile.get(file) ?? 0) + dt);
    total += dt;
    counted += dt;
  }
  console.log(`${f}: ${(counted / 1000).toFixed(0)} ms busy counted`);
}

const show = (title: string, m: Map<string, number>) => {
  console.log(`\n## ${title} (self time, ${(total / 1000).toFixed(0)} ms busy)`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${((100 * v) / total).toFixed(1).padStart(5)} %  ${(v / 1000).toFixed(0).padStart(6)} ms  ${k}`);
};
if (bySamples) console.log('\n(one sample counted as 1 ms: shares of samples, not wall time; --wall for wall time)');
show('by file', byFile);
show('by function', byFn);
