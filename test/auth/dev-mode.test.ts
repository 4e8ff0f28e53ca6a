/**
 * Issue 10 hole 11: development mode stays on this machine. The ID-porten and HelseID stand-ins
 * listen on loopback only, and the server says at start, as a warning, that it runs in development
 * mode (config validation: test/config.test.ts).
 */
import net from 'node:net';
import os from 'node:os';
import { expect } from 'chai';
import { testConfig } from '../../src/config/config.js';
import { startDevIdp } from '../../src/dev-idp/start.js';
import { createLogger } from '../../src/log.js';
import { buildServer, createRepository } from '../../src/server.js';
import { openTestDatabase } from '../support/app.js';

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 2000 }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
    socket.on('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

describe('development mode safety (issue 10 hole 11)', function () {
  this.timeout(30_000);

  it('the login stand-ins listen on loopback only', async function () {
    const external = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
    const idp = await startDevIdp(testConfig({ devIdpPort: 0 }));
    const helseid = await startDevIdp(testConfig({ devIdpPort: 0 }), { flavour: 'helseid' });
    try {
      for (const origin of [idp.issuer, idp.loginOrigin, helseid.issuer, helseid.loginOrigin]) {
        const port = Number(new URL(origin).port);
        expect(await connects('127.0.0.1', port), origin).to.equal(true);
        // A machine without a non-loopback interface cannot show the negative case; the positive one above still ran.
        if (external) expect(await connects(external, port), `${origin} via ${external}`).to.equal(false);
      }
      const res = await fetch(`${idp.issuer}/.well-known/openid-configuration`);
      expect(res.status).to.equal(200);
    } finally {
      await idp.close();
      await helseid.close();
    }
  });

  it('warns at start that this is development mode; production does not', async () => {
    const lines: string[] = [];
    const logger = createLogger('info', {}, (l) => lines.push(l));
    const db = await openTestDatabase();
    try {
      await buildServer({ config: testConfig(), db, logger, repo: createRepository(db), devIdp: false });
      const warn = lines.map((l) => JSON.parse(l) as { level: string; msg: string }).find((l) => l.level === 'warn' && /DEVELOPMENT MODE/.test(l.msg));
      expect(warn, lines.join('\n')).not.to.equal(undefined);
      expect(warn!.msg).to.contain('dev-system');
      lines.length = 0;
      await buildServer({ config: testConfig({ production: true }), db, logger, repo: createRepository(db), devIdp: false });
      expect(lines.some((l) => l.includes('DEVELOPMENT MODE'))).to.equal(false);
      // The authorization server finishes its start-up work before the database closes.
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      await db.close();
    }
  });
});
