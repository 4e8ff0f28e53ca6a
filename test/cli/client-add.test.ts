/**
 * `npm run client:add` while a server runs (issue 16 §1): the server holds the embedded database's
 * folder lock, so the CLI registers through the server's registration endpoint; the client is then
 * in the server's database, usable at once.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { getClient } from '../../src/auth/clients.js';
import { acquireDataDirLock } from '../../src/db/lock.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { createTestContext, type TestContext } from '../support/app.js';

function runClientAdd(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'src/cli/client-add.ts'), ...args], { cwd: PROJECT_ROOT, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('client:add while the server runs', function () {
  this.timeout(120_000);
  let ctx: TestContext;
  let server: import('node:http').Server;
  let baseUrl: string;
  let dir: string;
  let lock: { release(): Promise<void> };

  before(async () => {
    ctx = await createTestContext();
    server = ctx.bareApp.listen(0);
    await new Promise((r) => server.once('listening', r));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hb-client-add-'));
    lock = await acquireDataDirLock(path.join(dir, 'data')); // as the running server holds it
  });
  after(async () => {
    await lock.release();
    server.close();
    await ctx.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('registers through the running server\'s registration endpoint and the server knows the client', async () => {
    const run = await runClientAdd(['--name', 'Min app', '--type', 'public', '--redirect-uri', 'http://localhost:8000/callback'], { DATABASE_URL: `pglite://${path.join(dir, 'data')}`, BASE_URL: baseUrl });
    expect(run.code, run.stderr).to.equal(0);
    const out = JSON.parse(run.stdout) as { client_id: string; token_endpoint_auth_method: string; registered_through: string; redirect_uris: string[] };
    expect(out).to.include({ token_endpoint_auth_method: 'none', registered_through: `${baseUrl}/auth/register` });
    expect(out.redirect_uris).to.deep.equal(['http://localhost:8000/callback']);
    const client = await getClient(ctx.db, out.client_id);
    expect(client?.clientName).to.equal('Min app');
  });

  it('says clearly when the folder is locked and no server answers at BASE_URL', async () => {
    const run = await runClientAdd(['--name', 'X', '--type', 'public', '--redirect-uri', 'http://localhost:8000/cb'], { DATABASE_URL: `pglite://${path.join(dir, 'data')}`, BASE_URL: 'http://127.0.0.1:9' });
    expect(run.code).to.equal(1);
    expect(run.stderr).to.contain('did not answer');
  });
});
