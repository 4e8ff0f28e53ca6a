// Child process for the durability test: writes one resource, reports the acknowledgement, then
// waits to be killed with SIGKILL.
import type { Patient } from 'fhir/r4';
import { SYSTEM_ACCESS } from '../../../src/access/access-context.js';
import { openDatabase } from '../../../src/db/open.js';
import { createRepository } from '../../../src/server.js';

const dir = process.argv[2]!;
const db = await openDatabase({ kind: 'pglite', dataDir: dir });
const repo = createRepository(db);
const { resource } = await repo.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Durable' }] }, SYSTEM_ACCESS);
process.stdout.write(`ACK ${resource.id}\n`);
setInterval(() => undefined, 1000);
