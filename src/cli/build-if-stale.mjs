// `npm start` runs this before the server (issue 11 item 7: a restart after a crash is ready in ≤ 3 s).
// It rebuilds only when a source file, a migration or the build configuration is newer than the last
// build; tsc itself then recompiles incrementally (tsconfig.build.json `incremental`). Plain ESM so it
// needs no compile step of its own.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const stamp = path.join(root, 'dist', '.tsbuildinfo');

function newest(dir) {
  let max = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    max = Math.max(max, entry.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return max;
}

const built = fs.existsSync(stamp) && fs.existsSync(path.join(root, 'dist', 'main.js')) ? fs.statSync(stamp).mtimeMs : 0;
const inputs = Math.max(newest(path.join(root, 'src')), ...['tsconfig.json', 'tsconfig.build.json', 'package.json'].map((f) => fs.statSync(path.join(root, f)).mtimeMs));
if (built >= inputs && process.argv[2] !== '--force') {
  process.stdout.write('build: dist/ is up to date\n');
} else {
  process.stdout.write('build: compiling changed sources (tsc, incremental)\n');
  execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  fs.cpSync(path.join(root, 'src', 'db', 'migrations'), path.join(root, 'dist', 'db', 'migrations'), { recursive: true });
  // tsc leaves the build-info file untouched when nothing it tracks changed (e.g. only a migration did).
  const now = new Date();
  fs.utimesSync(stamp, now, now);
}
