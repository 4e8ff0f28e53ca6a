/**
 * Migration 007 moves the AuditEvents that `main` stored as resources into the access-log table
 * (issue 11 §1 "existing logs migrate"), and they leave the resource and index tables.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { expect } from 'chai';
import type { AuditEvent } from 'fhir/r4';
import type { Db } from '../../src/db/db.js';
import { listMigrations, migrate } from '../../src/db/migrate.js';
import { openPglite } from '../../src/db/pglite.js';
import { openPostgres } from '../../src/db/pg.js';
import { Repository } from '../../src/fhir/repository/repository.js';
import { readLogEntry } from '../../src/audit/audit-view.js';
import { SYSTEM_ACCESS } from '../../src/access/access-context.js';

/** An AuditEvent exactly as the access log of `main` stored it (buildAuditEvent before issue 11). */
const LEGACY: AuditEvent = {
  resourceType: 'AuditEvent',
  type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'Restful Operation' },
  subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'search-type' }],
  action: 'E',
  recorded: '2026-11-30T10:15:00.123Z',
  outcome: '0',
  agent: [
    { type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'AUT' }] }, requestor: true, who: { reference: 'RelatedPerson/fullmakt-kari-astrid' }, policy: ['Consent/fullmakt-kari-astrid'] },
    { requestor: false, who: { identifier: { system: 'https://fhir.helsebro.no/sid/client-id', value: 'helsebro-portal' }, display: 'helsebro-portal' }, type: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110150' }] } },
  ],
  source: { observer: { display: 'helsebro' } },
  entity: [
    { what: { reference: 'Patient/kari-nordmann' }, type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1' }, role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1' } },
    { what: { reference: 'Observation/obs-1' }, type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2' } },
    { type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2' }, query: Buffer.from('_count=50&code=8867-4').toString('base64'), description: 'search query' },
  ],
};

async function openUnmigrated(): Promise<Db> {
  const url = process.env.DATABASE_URL;
  if (url && /^postgres(ql)?:\/\//.test(url)) return openPostgres(url, { schema: `t_${randomBytes(6).toString('hex')}`, max: 2 });
  return openPglite(null);
}

describe('migration 007: existing AuditEvents move into the access-log table', function () {
  this.timeout(120_000);
  let db: Db;
  after(() => db?.close());

  it('turns each stored AuditEvent into a row per patient, with actor, grant, client name and query, and removes the resource', async () => {
    db = await openUnmigrated();
    // The schema as it was before 007, with a log written the old way.
    await db.query('CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
    for (const m of (await listMigrations()).filter((x) => x.version < 7)) {
      await db.exec(await fs.readFile(m.file, 'utf8'));
      await db.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    }
    await db.query("INSERT INTO auth_clients (client_id, client_name, client_type, token_endpoint_auth_method, scope) VALUES ('helsebro-portal', 'Helsebro', 'public', 'none', 'openid')");
    await new Repository(db).createServerGenerated([LEGACY]);
    const [{ id }] = await db.query<{ id: string }>("SELECT id FROM resources WHERE resource_type = 'AuditEvent'");
    expect(Number((await db.query<{ n: number }>("SELECT count(*) AS n FROM sp_reference WHERE resource_type = 'AuditEvent'"))[0]!.n)).to.be.greaterThan(0);

    expect(await migrate(db)).to.include(7);

    const event = await readLogEntry(db, id!, SYSTEM_ACCESS);
    expect(event.recorded).to.equal('2026-11-30T10:15:00.123Z');
    expect(event.subtype?.[0]?.code).to.equal('search-type');
    expect(event.agent[0]).to.deep.include({ who: { reference: 'RelatedPerson/fullmakt-kari-astrid' }, policy: ['Consent/fullmakt-kari-astrid'] });
    expect(event.agent[0]!.role?.[0]?.coding?.[0]?.code).to.equal('proxy');
    expect(event.agent[1]!.who).to.deep.equal({ identifier: { system: 'https://fhir.helsebro.no/sid/client-id', value: 'helsebro-portal' }, display: 'Helsebro' });
    expect(event.entity!.map((x) => x.what?.reference).filter(Boolean)).to.deep.equal(['Patient/kari-nordmann', 'Observation/obs-1']);
    expect(Buffer.from(event.entity!.find((x) => x.query)!.query!, 'base64').toString()).to.equal('_count=50&code=8867-4');
    for (const table of ['resources', 'resource_history', 'sp_token', 'sp_reference', 'sp_date', 'sp_string', 'sp_uri']) {
      const n = Number((await db.query<{ n: number }>(`SELECT count(*) AS n FROM ${table} WHERE resource_type = 'AuditEvent'`))[0]!.n);
      expect(n, table).to.equal(0);
    }
  });
});
