/**
 * npm run import:apple-health -- <export.xml> --token <access token> [--base-url URL]
 *        [--batch 500] [--concurrency 2] [--skip N] [--quiet]
 *
 * Streams an Apple Health export (Health app → profile → Export All Health Data → export.xml)
 * into helsebro through the HealthKit bridge, as the patient the token belongs to. The token
 * needs `patient/Observation.c` (a bridge client's token is enough). Progress goes to stderr,
 * the JSON summary to stdout. After a failure the summary says `resumeWith`: run again with
 * `--skip <that number>`; re-sending more than needed is harmless (conditional create).
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { importAppleHealth, ImportError, type ImportProgress } from '../bridges/apple-import.js';

const USAGE = 'usage: import-apple-health <export.xml> --token <access token> [--base-url http://localhost:8080] [--batch 500] [--concurrency 2] [--skip N] [--quiet]';

function fail(message: string): never {
  console.error(message);
  console.error(USAGE);
  process.exit(2);
}

function positiveInt(value: string | undefined, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer ≥ ${min}, got "${value}"`);
  return n;
}

function formatProgress(p: ImportProgress): string {
  const pct = p.bytesTotal > 0 ? ((p.bytesRead / p.bytesTotal) * 100).toFixed(1) : '100.0';
  const rate = Math.round(p.sent / Math.max(p.elapsedMs / 1000, 0.001));
  return `import: ${pct} % of ${(p.bytesTotal / 1e6).toFixed(1)} MB · ${p.samplesRead} samples read · ${p.sent} sent (${rate}/s) · ${p.created} created · ${p.alreadyPresent} already present · ${p.rejected} rejected`;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      token: { type: 'string' },
      'token-file': { type: 'string' },
      'base-url': { type: 'string', default: 'http://localhost:8080' },
      batch: { type: 'string' },
      concurrency: { type: 'string' },
      skip: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const file = positionals[0];
  if (!file) fail('missing the export.xml file');
  if (!fs.existsSync(file)) fail(`no such file: ${file}`);
  // A token file keeps the token out of the shell history and the process list.
  const token = values['token-file'] ? fs.readFileSync(values['token-file'], 'utf8').trim() : values.token;
  if (!token) fail('missing --token or --token-file');

  const tty = process.stderr.isTTY;
  let lastLine = 0;
  const onProgress = values.quiet
    ? undefined
    : (p: ImportProgress) => {
        if (tty) process.stderr.write(`\r${formatProgress(p)}\u001b[K`);
        else if (Date.now() - lastLine >= 5000) {
          lastLine = Date.now();
          process.stderr.write(`${formatProgress(p)}\n`);
        }
      };
  try {
    const summary = await importAppleHealth({
      file,
      token,
      baseUrl: values['base-url']!,
      batchSize: positiveInt(values.batch, 'batch', 500),
      concurrency: positiveInt(values.concurrency, 'concurrency', 2),
      skip: positiveInt(values.skip, 'skip', 0, 0),
      onProgress,
    });
    if (onProgress) process.stderr.write(tty ? `\r${formatProgress(summary)}\u001b[K\n` : `${formatProgress(summary)}\n`);
    console.log(JSON.stringify(summary, null, 2));
  } catch (err) {
    if (!(err instanceof ImportError)) throw err;
    if (onProgress) process.stderr.write('\n');
    console.error(`import stopped: ${err.message}\nresume with: --skip ${err.summary.resumeWith}`);
    console.log(JSON.stringify(err.summary, null, 2));
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
