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

/** Statements that read resource rows without an access predicate, each for a stated reason. */
const EXEMPT: Array<{ file: string; sql: RegExp; why: string }> = [
  { file: 'fhir/repository/repository.ts', sql: /FOR UPDATE/, why: 'the write path locks the current row; visibleRow decides before anything is answered' },
  { file: 'fhir/search/execute.ts', sql: /max\(seq\)/, why: 'the snapshot bound reads no resource content' },
  // pageOf(chosen): every `chosen` is a seq list picked from the filtered matches (`m`, or resources under
  // `firstWhere`), each a statement this check sees on its own; the join only reads those rows out.
  { file: 'fhir/search/execute.ts', sql: /JOIN \(\$\{chosen\}\) pg ON pg\.seq = r\.seq/, why: 'reads out the page rows the filtered matches chose' },
  // Migration 006's data step reads stored versions to index them and hands nothing to a caller;
  // the next test keeps it reachable from the migrator only.
  { file: 'fhir/repository/repository.ts', sql: /^SELECT \(SELECT count\(\*\) FROM resources\)/, why: 'backup progress counts rows and returns no content' },
  { file: 'fhir/search/version-backfill.ts', sql: /resource_history/, why: 'migration data step, never on a request path' },
  { file: 'fhir/repository/stored.ts', sql: /SELECT sc\.compartments FROM resources sc/, why: 'which patients a shown Binary belongs to, for the access log only; returns no content' },
  { file: 'fhir/repository/prelock.ts', sql: /FOR UPDATE$/, why: 'a transaction Bundle locks its PUT targets; the next statement judges visibility (visibleVersionsFrom) before anything is answered' },
  { file: 'fhir/search/subscription-watch.ts', sql: /^EXISTS \(SELECT 1 FROM resources s WHERE s\.resource_type = 'Subscription'/, why: 'whether a backend Subscription watches a type, asked by a commit; one boolean, no content' },
  { file: 'fhir/repository/binary-owners.ts', sql: /SELECT 'ref' AS kind, o\.resource_type \|\| '\/' \|\| o\.id AS key, o\.compartments FROM resources o/, why: 'the same, for Binaries shown other than as stored text; returns patient ids, no content' },
];

// visibleVersionsFrom (fhir/repository/history.ts) is the per-version form of the same compiled predicate.
const ACCESS_CALL = /\b(compileAccessPredicate|accessPredicateFor|ctx\.accessPredicate|visibleVersionsFrom)\(/;

/** The string and template literals of a source text (templates with their `${…}` kept), in order. */
function literals(text: string): string[] {
  const out: string[] = [];
  const template = (start: number): number => {
    // text[start] is the opening backtick; returns the index of the closing one.
    let i = start + 1;
    while (i < text.length && text[i] !== '`') {
      if (text[i] === '\\') i += 2;
      else if (text[i] === '$' && text[i + 1] === '{') {
        let depth = 1;
        i += 2;
        while (i < text.length && depth > 0) {
          if (text[i] === '`') i = template(i);
          else if (text[i] === "'" || text[i] === '"') i = quoted(i);
          else if (text[i] === '{') depth++;
          else if (text[i] === '}') depth--;
          i++;
        }
      } else i++;
    }
    return i;
  };
  const quoted = (start: number): number => {
    let i = start + 1;
    while (i < text.length && text[i] !== text[start] && text[i] !== '\n') i += text[i] === '\\' ? 2 : 1;
    return i;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '`' || c === "'" || c === '"') {
      const end = c === '`' ? template(i) : quoted(i);
      out.push(text.slice(i + 1, end));
      i = end;
    }
  }
  return out;
}

/**
 * The SQL statements of a file that read `resources`/`resource_history`, each with whether one of its
 * interpolations is an access predicate: a direct call, or a name the enclosing function derives from
 * one (`predicate = compileAccessPredicate(…)`, `where.push(accessPredicateFor(…))`, `whereSql = where.join(…)`).
 */
export function readingStatements(file: string, text: string): Array<{ file: string; sql: string; filtered: boolean }> {
  const out: Array<{ file: string; sql: string; filtered: boolean }> = [];
  // Functions and methods start at column 0 or 2 (the project's formatting).
  const chunks = text.split(/\n(?=(?:export )?(?:async )?function | {2}(?:private |public |static )*(?:async )?[a-zA-Z]+(?:<[^>\n]*>)?\()/);
  for (const chunk of chunks) {
    const derived = new Set<string>();
    for (let changed = true; changed; ) {
      changed = false;
      const feeds = (rhs: string) => ACCESS_CALL.test(rhs) || [...derived].some((n) => new RegExp(`\\b${n}\\b`).test(rhs));
      for (const m of chunk.matchAll(/\b(?:const|let)\s+(\w+)(?::[^=]+)?\s*=\s*([\s\S]*?);\n/g)) {
        if (!derived.has(m[1]!) && feeds(m[2]!)) { derived.add(m[1]!); changed = true; }
      }
      for (const m of chunk.matchAll(/\b(\w+)\.push\(([\s\S]*?)\);\n/g)) {
        if (!derived.has(m[1]!) && feeds(m[2]!)) { derived.add(m[1]!); changed = true; }
      }
    }
    for (const sql of literals(chunk).filter((l) => /\b(?:FROM|JOIN)\s+(?:resources|resource_history)\b/i.test(l))) {
      // Writes (INSERT … SELECT from their own input rows) answer nothing to a caller.
      if (!/\bSELECT\b/i.test(sql) || /\bINSERT\s+INTO\b/i.test(sql)) continue;
      const interpolations = [...sql.matchAll(/\$\{([^}]*)\}/g)].map((x) => x[1]!);
      const filtered = interpolations.some((e) => ACCESS_CALL.test(e) || [...derived].some((n) => new RegExp(`\\b${n}\\b`).test(e)));
      out.push({ file, sql: sql.replace(/\s+/g, ' ').trim(), filtered });
    }
  }
  return out;
}

const RESOURCE_SQL = /\b(FROM|JOIN|INTO|UPDATE)\s+(resources|resource_history|sp_[a-z_]+)\b/i;

describe('architecture: every path to patient data goes through the access decision', () => {
  it('only the repository and the search engine query the resource tables', () => {
    const allowed = (f: string) => f.startsWith('fhir/repository/') || f.startsWith('fhir/search/') || f === 'seed/seed.ts';
    const offenders = sources.filter((s) => RESOURCE_SQL.test(code(s.text)) && !allowed(s.file)).map((s) => s.file);
    expect(offenders).to.deep.equal([]);
  });

  it('every statement that reads resource rows carries the compiled access predicate', () => {
    // Statement by statement, not file by file: a file that merely mentions visibleRow used to pass
    // while its vread selected from resource_history without any predicate (issue 10).
    const readers = sources.filter((s) => s.file.startsWith('fhir/')).flatMap((s) => readingStatements(s.file, code(s.text)));
    expect(readers.length).to.be.greaterThan(5);
    const unfiltered = readers.filter((r) => !r.filtered && !EXEMPT.some((e) => e.file === r.file && e.sql.test(r.sql))).map((r) => `${r.file}: ${r.sql.slice(0, 90)}`);
    expect(unfiltered).to.deep.equal([]);
  });

  it('the migration data step that reads versions unfiltered is reached from the migrator only', () => {
    const users = sources.filter((x) => /version-backfill\.js/.test(code(x.text))).map((x) => x.file);
    expect(users).to.deep.equal(['db/migrate.ts']);
  });

  it('the statement check is not fooled: an unfiltered SELECT beside a visibleRow call is caught', () => {
    const fake = "async vread(type, id, access) {\n    const current = await this.visibleRow(type, id, access);\n    await this.queryable.query('SELECT content FROM resource_history WHERE id = $1', [id]);\n  }\n";
    expect(readingStatements('fhir/fake.ts', fake).map((r) => r.filtered)).to.deep.equal([false]);
    const real = "function f(access, params) {\n  const predicate = compileAccessPredicate('*', access.filters, 'r', params);\n  return q.query(`SELECT r.id FROM resources r WHERE (${predicate})`, params);\n}\n";
    expect(readingStatements('fhir/fake.ts', real).map((r) => r.filtered)).to.deep.equal([true]);
  });

  it('the unfiltered SYSTEM_ACCESS is never used by a request handler', () => {
    const requestPaths = sources.filter((s) => /^(fhir\/(interactions|bundle|routes)|http\/|bridges\/|app\.ts)/.test(s.file));
    for (const s of requestPaths) expect(/SYSTEM_ACCESS/.test(code(s.text)), s.file).to.equal(false);
    // Where it is used, it is internal work: seeding, the engine's own lookups, the log, terms, login,
    // and the portal's write rules (the slot a booking takes, offers the server creates; issue 12), and
    // notification delivery (issue 14: the outbox worker finds recipients and preferences, no caller waits).
    const users = sources.filter((s) => /\bSYSTEM_ACCESS\b/.test(code(s.text))).map((s) => s.file.split('/')[0]);
    for (const u of new Set(users)) expect(['access', 'audit', 'auth', 'cli', 'identity', 'seed', 'portal', 'notify'], u).to.include(u);
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

/** Module specifiers a source imports (static and dynamic), with whether the import is type-only. */
function importsOf(text: string): Array<{ spec: string; typeOnly: boolean }> {
  const found: Array<{ spec: string; typeOnly: boolean }> = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'";]*?from\s+['"]([^'"]+)['"]/gm)) found.push({ spec: m[3]!, typeOnly: !!m[2] });
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push({ spec: m[1]!, typeOnly: false });
  return found;
}
/** The src-relative module an import points at (e.g. `auth/scopes`), or the package name. */
function target(file: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  return path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, '');
}

describe('architecture: layer directions (issue 10, "put access below auth")', () => {
  const importing = (prefix: string) => sources.filter((s) => s.file.startsWith(prefix)).flatMap((s) => importsOf(s.text).map((i) => ({ file: s.file, ...i, to: target(s.file, i.spec) })));

  it('access/ and identity/ import neither auth/ nor express: auth calls access, never the reverse', () => {
    const offenders = [...importing('access/'), ...importing('identity/')].filter((i) => i.to.startsWith('auth/') || i.to === 'express').map((i) => `${i.file} → ${i.spec}`);
    expect(offenders).to.deep.equal([]);
  });

  it('fhir/ never imports auth/', () => {
    expect(importing('fhir/').filter((i) => i.to.startsWith('auth/')).map((i) => `${i.file} → ${i.spec}`)).to.deep.equal([]);
  });

  it('fhir/repository/ imports no rule from access/ (only the AccessContext type)', () => {
    const offenders = importing('fhir/repository/').filter((i) => i.to.startsWith('access/') && !(i.typeOnly && i.to === 'access/access-context')).map((i) => `${i.file} → ${i.spec}`);
    expect(offenders).to.deep.equal([]);
  });

  it('only server.ts assembles the write rules into the repository', () => {
    const ruleModules = ['access/authorship', 'access/confine', 'access/server-owned', 'access/unique-national-id', 'access/grant-rules'];
    const outsideAccess = sources.filter((s) => !s.file.startsWith('access/')).flatMap((s) => importsOf(s.text).map((i) => ({ file: s.file, to: target(s.file, i.spec) })));
    expect([...new Set(outsideAccess.filter((i) => ruleModules.includes(i.to)).map((i) => i.file))]).to.deep.equal(['server.ts']);
    const assemblers = sources.filter((s) => /new Repository\([^)]*rules\s*:/.test(code(s.text)) || /\bwriteRules\(\)/.test(code(s.text))).map((s) => s.file);
    expect(assemblers.filter((f) => f !== 'fhir/repository/repository.ts')).to.deep.equal(['server.ts']);
  });

  it('every AccessContext is made by the one builder (context-builder.ts), except the server’s own SYSTEM_ACCESS', () => {
    // An AccessContext literal has `checkWrite(`/`checkWrite:` beside `filters`; only the builder and access-context.ts may write one.
    const makers = sources.filter((s) => /\bcheckWrite\s*[:(]/.test(code(s.text)) && /\bfilters\s*:/.test(code(s.text)) && !/buildAccessContext\(/.test(code(s.text)));
    expect(makers.map((s) => s.file).filter((f) => f !== 'access/access-context.ts' && f !== 'access/context-builder.ts' && f !== 'access/scope-access.ts')).to.deep.equal([]);
  });
});
