import { conformance } from '../../../src/fhir/validation/conformance.js';
import { validateResource } from '../../../src/fhir/validation/validate.js';
const c = conformance();
console.log([...c.profiles.keys()], [...c.extensions.keys()], [...c.defaults.keys()]);
for (const [name, r] of c.files) { const i = validateResource(r); if (i.length) console.log(name, JSON.stringify(i, null, 1)); }
