/**
 * The architecture rule of issue 5: all data access goes through the access decision point. These
 * checks read the source, so a new module that queries resources directly, or reaches for the
 * unfiltered SYSTEM_ACCESS from a request path, fails the build instead of leaking.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';

const SRC = path.resolve('src');
const files = (dir: string): string[] =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? files(path.join(dir, d.name)) : d.name.endsWith('.ts') ? [path.join(dir, d.name)] : []));
const sources = files(SRC).map((f) => ({ file: path.relative(SRC, f).split(path.sep).join('/'), text: fs.readFileSync(f, 'utf8') }));
const code = (t: string) => t.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');

const RESOURCE_SQL = /\b(FROM|JOIN|INTO|UPDATE)\s+(resources|resource_history|sp_[a-z_]+)\b/i;

describe('architecture: every path to patient data goes through the access decision', () => {
  it('only the repository and the search engine query the resource tables', () => {
    const allowed = (f: string) => f.startsWith('fhir/repository/') || f.startsWith('fhir/search/') || f === 'seed/seed.ts';
    const offenders = sources.filter((s) => RESOURCE_SQL.test(code(s.text)) && !allowed(s.file)).map((s) => s.file);
    expect(offenders).to.deep.equal([]);
  });

  it('every module that reads resource rows applies the compiled access predicate', () => {
    const readers = sources.filter((s) => s.file.startsWith('fhir/') && /\bFROM\s+(resources|resource_history)\b/i.test(code(s.text)));
    expect(readers.length).to.be.greaterThan(2);
    for (const r of readers) {
      expect(/accessPredicateFor|compileAccessPredicate|ctx\.accessPredicate\(|visibleRow/.test(r.text), r.file).to.equal(true);
    }
  });

  it('the unfiltered SYSTEM_ACCESS is never used by a request handler', () => {
    const requestPaths = sources.filter((s) => /^(fhir\/(interactions|bundle|routes)|http\/|bridges\/|app\.ts)/.test(s.file));
    for (const s of requestPaths) expect(/SYSTEM_ACCESS/.test(code(s.text)), s.file).to.equal(false);
    // Where it is used, it is internal work: seeding, the engine's own lookups, the log, terms, login,
    // and the portal's write rules (the slot a booking takes, offers the server creates; issue 12).
    const users = sources.filter((s) => /\bSYSTEM_ACCESS\b/.test(code(s.text))).map((s) => s.file.split('/')[0]);
    for (const u of new Set(users)) expect(['access', 'audit', 'auth', 'cli', 'seed', 'portal'], u).to.include(u);
  });

  it('every FHIR interaction handler takes its access context from the authenticated request', () => {
    for (const s of sources.filter((x) => x.file.startsWith('fhir/interactions/') && x.file !== 'fhir/interactions/context.ts')) {
      const usesRepo = /deps\.repo\./.test(s.text) || /executeSearch|readHistory/.test(s.text);
      if (usesRepo) expect(/accessOf\(res\)/.test(s.text), s.file).to.equal(true);
    }
  });

  it('the policy is one table: no other module names proxy levels or slice rules', () => {
    const mentions = sources.filter((s) => /['"](communicate|personal-note)['"]/.test(code(s.text))).map((s) => s.file);
    for (const m of mentions) expect(m, m).to.match(/^(access\/|auth\/people\.ts)/);
  });
});
