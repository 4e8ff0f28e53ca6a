import fs from 'node:fs';
import { validateResource } from '../../../src/fhir/validation/validate.js';
for (const f of fs.readdirSync('fixtures').filter((f) => f.startsWith('demo-'))) {
  const b = JSON.parse(fs.readFileSync(`fixtures/${f}`, 'utf8'));
  const bi = validateResource(b); if (bi.length) console.log(f, 'BUNDLE', JSON.stringify(bi, null, 1).slice(0, 3000));
  for (const e of b.entry) { const i = validateResource(e.resource); if (i.length) console.log(f, e.request.url, JSON.stringify(i)); }
}
