import { startAuthTestServer, getDevSystemToken } from './support.js';
describe('probe', function () {
  this.timeout(60000);
  it('probe', async () => {
    const s = await startAuthTestServer();
    const t = await getDevSystemToken(s.baseUrl);
    const h = { authorization: `Bearer ${t}`, accept: 'application/fhir+json' };
    const show = async (m: string, p: string, body?: string, ct = 'application/fhir+json') => {
      const r = await fetch(s.baseUrl + p, { method: m, headers: { ...h, ...(body !== undefined ? { 'content-type': ct } : {}) }, body });
      console.log(m, p.slice(0, 60), ct, r.status, r.headers.get('cache-control'), (await r.text()).slice(0, 200));
    };
    await show('GET', '/fhir/Patient/%E0');
    await show('PUT', '/fhir/Patient/%E0', '{"resourceType":"Patient"}');
    await show('PATCH', '/fhir/Patient/%E0', '[]', 'application/json-patch+json');
    await show('GET', '/fhir/%E0');
    await show('GET', '/fhir/Patient/%E0/_history');
    await show('GET', '/fhir/Patient/1/%E0');
    await show('GET', '/auth/%E0');
    await show('GET', '/%E0');
    await show('GET', '/fhir/Patient?name=%E0');
    await show('GET', '/fhir/Patient?_count=abc');
    await show('POST', '/fhir/Patient', '[' .repeat(5000) + ']'.repeat(5000));
    await show('POST', '/fhir/Patient', '{"resourceType":"Patient","x":' + '{"a":'.repeat(5000) + '1' + '}'.repeat(5001));
    await show('POST', '/fhir/Patient', '{bad json');
    await show('POST', '/fhir/Patient', '<Patient/>', 'application/xml');
    await show('POST', '/fhir/', '[' .repeat(5000) + ']'.repeat(5000));
    await s.close();
  });
});
