import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { importAppleHealth, ImportError } from '../../src/bridges/apple-import.js';
import { SKIP_BP_COMPONENT, SKIP_UNMAPPED } from '../../src/bridges/apple-export.js';
import { writeExport, type GenerateStats } from '../../src/bridges/generate-export.js';
import { BRIDGE_SCOPE, countFor, createPatient, startBridgeServer, tokenFor, type BridgeServer } from './http-support.js';

describe('Apple Health importer against a running server', function () {
  this.timeout(180_000);
  let server: BridgeServer;
  let http: Server;
  let baseUrl: string;
  let dir: string;
  let file: string;
  let stats: GenerateStats;

  before(async () => {
    server = await startBridgeServer();
    http = server.app.listen(0, '127.0.0.1');
    await new Promise((r) => http.once('listening', r));
    baseUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hb-import-'));
    file = path.join(dir, 'export.xml');
    // Small on purpose: the write path, not the file size, sets the time (the bench covers 200,000).
    stats = await writeExport(file, { records: 240, seed: 3 });
  });
  after(async () => {
    await new Promise((r) => http.close(r));
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('imports a generated export: every mapped sample sent, in-bed sleep rejected, the rest created', async () => {
    const patient = await createPatient(server, 'Import');
    const token = await tokenFor(server, patient, BRIDGE_SCOPE);
    const s = await importAppleHealth({ file, baseUrl, token, batchSize: 50, concurrency: 2 });
    expect(s.samplesRead).to.equal(stats.mapped);
    expect(s.sent).to.equal(stats.mapped);
    expect(s.rejected).to.equal(stats.rejected);
    expect(s.created).to.equal(stats.mapped - stats.rejected);
    expect(s.alreadyPresent).to.equal(0);
    expect(s.rejectedByType).to.deep.equal({ HKCategoryTypeIdentifierSleepAnalysis: stats.rejected });
    expect(s.rejectedExamples[0]!.reason).to.match(/InBed is not counted/);
    expect(s.bytesRead).to.equal(s.bytesTotal);
    expect(s.notImported[`HKQuantityTypeIdentifierBloodPressureSystolic: ${SKIP_BP_COMPONENT}`]).to.equal(stats.correlations);
    expect(Object.keys(s.notImported).some((k) => k.endsWith(SKIP_UNMAPPED))).to.equal(true);
    expect(s.resumeWith).to.equal(undefined);
    expect(await countFor(server, 'Observation', patient)).to.equal(stats.mapped - stats.rejected);
    expect(s.peakRssMb).to.be.greaterThan(0);
  });

  it('importing the same file again stores nothing new (idempotent), and --skip passes samples over', async () => {
    const patient = await createPatient(server, 'Igjen');
    const token = await tokenFor(server, patient, BRIDGE_SCOPE);
    await importAppleHealth({ file, baseUrl, token, batchSize: 80 });
    const again = await importAppleHealth({ file, baseUrl, token, batchSize: 60, concurrency: 3 });
    expect(again).to.deep.include({ created: 0, alreadyPresent: stats.mapped - stats.rejected, rejected: stats.rejected });
    const skipped = await importAppleHealth({ file, baseUrl, token, skip: stats.mapped - 10 });
    expect(skipped).to.deep.include({ skippedBySkipOption: stats.mapped - 10, sent: 10 });
    expect(await countFor(server, 'Observation', patient)).to.equal(stats.mapped - stats.rejected);
  });

  it('stops on a failing batch, says where to resume, and a resumed run completes the import exactly', async () => {
    const patient = await createPatient(server, 'Avbrutt');
    const token = await tokenFor(server, patient, BRIDGE_SCOPE);
    let calls = 0;
    const flaky: typeof fetch = async (input, init) => {
      calls++;
      if (calls === 3) return new Response('{"resourceType":"OperationOutcome"}', { status: 503 });
      return fetch(input, init);
    };
    let error: ImportError | undefined;
    await importAppleHealth({ file, baseUrl, token, batchSize: 50, concurrency: 1, attempts: 1, fetch: flaky }).catch((e: unknown) => (error = e as ImportError));
    expect(error).to.be.instanceOf(ImportError);
    expect(error!.summary.resumeWith).to.equal(100);
    expect(error!.message).to.match(/503/);
    const resumed = await importAppleHealth({ file, baseUrl, token, batchSize: 50, skip: error!.summary.resumeWith });
    expect(resumed.sent).to.equal(stats.mapped - 100);
    expect(await countFor(server, 'Observation', patient)).to.equal(stats.mapped - stats.rejected);
  });

  it('a transient failure is retried; a refused token stops at once without retrying', async () => {
    const patient = await createPatient(server, 'Forsøk');
    const token = await tokenFor(server, patient, BRIDGE_SCOPE);
    let failures = 0;
    const onceFlaky: typeof fetch = async (input, init) => {
      if (failures++ === 0) throw new TypeError('fetch failed: ECONNRESET');
      return fetch(input, init);
    };
    const s = await importAppleHealth({ file, baseUrl, token, batchSize: 100, attempts: 3, fetch: onceFlaky });
    expect(s.created).to.equal(stats.mapped - stats.rejected);

    let calls = 0;
    const counting: typeof fetch = async (input, init) => {
      calls++;
      return fetch(input, init);
    };
    let error: ImportError | undefined;
    await importAppleHealth({ file, baseUrl, token: 'not-a-token', batchSize: 50, concurrency: 1, fetch: counting }).catch((e: unknown) => (error = e as ImportError));
    expect(error?.message).to.match(/answered 401/);
    expect(calls).to.equal(1);
    expect(error!.summary.resumeWith).to.equal(0);
  });
});
