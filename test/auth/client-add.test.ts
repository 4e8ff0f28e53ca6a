import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { getClient, matchesDigest } from '../../src/auth/clients.js';
import { openDatabase } from '../../src/db/open.js';

const run = promisify(execFile);

describe('npm run client:add', () => {
  it('registers a confidential client in the configured database and prints its secret once', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helsebro-client-add-'));
    try {
      const { stdout } = await run(
        process.execPath,
        ['--import', 'tsx', 'src/cli/client-add.ts', '--name', 'Journalapp', '--type', 'symmetric', '--redirect-uri', 'https://app.example/cb', '--client-id', 'journalapp'],
        { env: { ...process.env, DATABASE_URL: `pglite://${dir}`, LOG_LEVEL: 'silent' } },
      );
      const printed = JSON.parse(stdout) as { client_id: string; client_secret: string };
      expect(printed.client_id).to.equal('journalapp');
      const db = await openDatabase({ kind: 'pglite', dataDir: dir });
      try {
        const client = await getClient(db, 'journalapp');
        expect(client).to.include({ clientType: 'confidential-symmetric', authMethod: 'client_secret_basic' });
        expect(client!.redirectUris).to.deep.equal(['https://app.example/cb']);
        expect(matchesDigest(printed.client_secret, client!.secretHash)).to.equal(true);
      } finally {
        await db.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses metadata dynamic registration would refuse', async () => {
    const failure = await run(process.execPath, ['--import', 'tsx', 'src/cli/client-add.ts', '--name', 'Bad', '--type', 'public'], {
      env: { ...process.env, DATABASE_URL: 'pglite://memory', LOG_LEVEL: 'silent' },
    }).then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failure?.code).to.equal(2);
    expect(failure?.stderr).to.include('invalid_redirect_uri');
  });
});
