/**
 * A standalone launch with fhirclient (SMART's official JS client) in its Node mode: a small
 * express app authorizes against helsebro, the citizen logs in at the ID-porten stand-in, and
 * the app reads the patient with the token fhirclient obtained.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import express from 'express';
import smart from 'fhirclient';
import { Browser } from './browser.js';
import { createCitizen, drive, registerApp, startAuthTestServer, type AuthTestServer } from './support.js';

/** fhirclient keeps its launch state in a server-side storage; one map is enough for one user. */
function memoryStorage() {
  const data = new Map<string, unknown>();
  return {
    set: async (key: string, value: unknown) => {
      data.set(key, value);
      return value;
    },
    get: async (key: string) => data.get(key),
    unset: async (key: string) => data.delete(key),
  };
}

describe('standalone launch with fhirclient', () => {
  let s: AuthTestServer;
  let appServer: http.Server;
  let appBase: string;
  let kari: { patientId: string; pid: string };

  before(async () => {
    s = await startAuthTestServer();
    kari = await createCitizen(s.repo, { seq: 31, given: 'Kari', family: 'Klient' });
    appServer = http.createServer();
    await new Promise<void>((resolve) => appServer.listen(0, resolve));
    appBase = `http://localhost:${(appServer.address() as AddressInfo).port}`;
    const { client_id: clientId } = await registerApp(s, {
      client_name: 'fhirclient-demo',
      redirect_uris: [`${appBase}/callback`],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
    });

    const storage = memoryStorage();
    const app = express();
    app.get('/launch', async (req, res) => {
      await smart(req, res, storage).authorize({
        iss: s.fhirBase,
        clientId,
        scope: 'launch/patient openid fhirUser patient/*.rs',
        redirectUri: `${appBase}/callback`,
        pkceMode: 'required',
      });
    });
    app.get('/callback', async (req, res) => {
      try {
        const client = await smart(req, res, storage).ready();
        const patient = await client.patient.read();
        res.json({ patientId: client.patient.id, family: patient.name?.[0]?.family, user: client.getFhirUser() });
      } catch (err) {
        res.status(500).json({ error: (err as Error).message });
      }
    });
    appServer.on('request', app);
  });
  after(async () => {
    await s.close();
    await new Promise<void>((resolve) => {
      appServer.close(() => resolve());
      appServer.closeAllConnections();
    });
  });

  it('gets a token through fhirclient and reads the chosen patient with it', async () => {
    const browser = new Browser();
    const first = await browser.navigate('GET', `${appBase}/launch`);
    const { page, steps } = await drive(browser, first, { pid: kari.pid }, `${appBase}/never`);
    expect(steps).to.deep.equal(['login', 'terms', 'picker', 'consent']);
    expect(page.status, page.body).to.equal(200);
    expect(JSON.parse(page.body)).to.deep.equal({ patientId: kari.patientId, family: 'Klient', user: `Patient/${kari.patientId}` });
  });
});
