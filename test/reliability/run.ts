/**
 * npm run test:reliability [-- --only <name>]   (issue 17; not part of `npm test`)
 *
 * Runs every reliability scenario against real server processes (`node dist/main.js`, built first)
 * on the database of DATABASE_URL: PostgreSQL when it is a postgres:// URL (the outage scenario
 * then starts its own throwaway server with .ci/pg-throwaway.sh, never touching DATABASE_URL's),
 * PGlite folders otherwise. Prints one line per scenario and `N passed, N failed`; exit 1 on any failure.
 *
 * Sizes (CI defaults, full sizes of the issue in brackets):
 *   RELIABILITY_CRASH_ROUNDS      5   [20]  kill -9 rounds under 8 writers
 *   RELIABILITY_ATOMIC_TX         30  [200] transactions of 20 entries with one bad entry
 *   RELIABILITY_SOAK_MINUTES      1   [5 in the issue's CI, 30 full] — 1 keeps both databases inside CI's budget
 */
import { execFileSync, execSync } from 'node:child_process';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { databaseOutage, gracefulShutdown, killNineRounds, secondServerRefused } from './faults.js';
import { backupRestore, conditionalStorms, optimisticConcurrency, seedForBackup, soak, transactionAtomicity } from './data.js';
import { freshStore, ROOT, startServer, stopServer, systemToken, type Checks } from './harness.js';

const { values } = parseArgs({ options: { only: { type: 'string' }, 'no-build': { type: 'boolean', default: false } } });
const num = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
const url = process.env.DATABASE_URL ?? '';
const mode: 'pglite' | 'postgres' = /^postgres(ql)?:\/\//.test(url) ? 'postgres' : 'pglite';
const pgUrl = mode === 'postgres' ? url : undefined;

let passed = 0;
let failed = 0;
async function scenario(name: string, fn: () => Promise<Checks>): Promise<void> {
  if (values.only && !name.includes(values.only)) return;
  const t0 = Date.now();
  console.log(`  ${name}`);
  try {
    const checks = await fn();
    if (checks.failures.length === 0) {
      passed++;
      console.log(`  ✔ ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    } else {
      failed++;
      console.log(`  ✘ ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n${checks.failures.slice(0, 10).map((f) => `      - ${f}`).join('\n')}${checks.failures.length > 10 ? `\n      … and ${checks.failures.length - 10} more` : ''}`);
    }
  } catch (err) {
    failed++;
    console.log(`  ✘ ${name}: ${(err as Error).stack ?? err}`);
  }
}

const started = Date.now();
if (!values['no-build']) execSync('npm run build --silent', { cwd: ROOT, stdio: 'inherit' });
console.log(`reliability suite on ${mode} (load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.cpus().length} cores)`);

await scenario(`kill -9 during 8 concurrent writers × ${num('RELIABILITY_CRASH_ROUNDS', 5)} rounds`, () => killNineRounds(mode, pgUrl, num('RELIABILITY_CRASH_ROUNDS', 5)));

if (mode === 'postgres') {
  await scenario('PostgreSQL stopped (immediate) and started 3 s later under load', async () => {
    const out = execFileSync(`${ROOT}/.ci/pg-throwaway.sh`, { encoding: 'utf8' });
    const own = Object.fromEntries([...out.matchAll(/export (\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));
    try {
      return await databaseOutage(own.PG_THROWAWAY_DIR!, own.DATABASE_URL!);
    } finally {
      execFileSync(`${ROOT}/.ci/pg-throwaway.sh`, ['stop', own.PG_THROWAWAY_DIR!]);
    }
  });
}

await scenario('graceful shutdown under load', () => gracefulShutdown(mode, pgUrl));
if (mode === 'pglite') await scenario('a second server on the same PGlite folder is refused', () => secondServerRefused());

// One server for the data scenarios, then backup/restore of what they and the seed left behind.
const store = await freshStore(mode, pgUrl);
try {
  const server = await startServer(store, { probe: true });
  const running = { base: server.base, token: await systemToken(server.base), pid: server.child.pid!, probe: server.probe };
  await scenario('optimistic concurrency: 50 If-Match PUT, PATCH, DELETE', () => optimisticConcurrency(running));
  await scenario('conditional-create storms, plain and in transactions', () => conditionalStorms(running));
  await scenario(`transaction atomicity × ${num('RELIABILITY_ATOMIC_TX', 30)}`, () => transactionAtomicity(running, num('RELIABILITY_ATOMIC_TX', 30)));
  await scenario(`soak ${num('RELIABILITY_SOAK_MINUTES', 1)} min`, () => soak(running, num('RELIABILITY_SOAK_MINUTES', 1)));
  await seedForBackup(running);
  await stopServer(server);
  await scenario('backup and restore of a seeded database', () => backupRestore(store, mode, pgUrl));
} finally {
  await store.drop();
}

console.log(`\nreliability (${mode}, load average ${os.loadavg()[0]!.toFixed(1)}): ${passed} passed, ${failed} failed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
process.exit(failed === 0 ? 0 : 1);
