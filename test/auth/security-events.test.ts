/**
 * Issue 10 hole 6 (security events): login ok/failed, grant created/revoked, token issued, refresh,
 * code replay, refresh-token reuse and revocation are each one structured JSON log line without
 * fødselsnummer, token or secret, and an AuditEvent in the patient's access log that names the app
 * by its registered name.
 */
import { expect } from 'chai';
import type { AuditEvent, Bundle } from 'fhir/r4';
import { pseudonym, securityAuditEvent } from '../../src/audit/security-events.js';
import { APP_REDIRECT, createCitizen, exchange, fhirGet, getDevSystemToken, launch, registerApp, startAuthTestServer, tokenRequest, type AuthTestServer } from './support.js';

describe('security events: log lines and AuditEvents (issue 10 hole 6)', function () {
  let s: AuthTestServer;
  const lines: string[] = [];
  let app: string;

  before(async () => {
    s = await startAuthTestServer({}, {}, { securityLog: lines });
    ({ client_id: app } = await registerApp(s, {
      client_name: 'Kalender-appen',
      redirect_uris: [APP_REDIRECT],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      scope: 'openid fhirUser launch/patient offline_access patient/*.rs',
    }));
  });
  after(() => s?.close());

  const events = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'security event');

  it('a login, a grant, tokens, a code replay, refresh-token reuse and a revocation each leave a log line and an AuditEvent for the patient', async () => {
    const { pid, patientId } = await createCitizen(s.repo, { seq: 61 });
    const secrets: string[] = [pid];
    const r = await launch(s, { clientId: app, pid, scope: 'launch/patient openid fhirUser patient/Observation.rs offline_access' });
    secrets.push(r.code!, r.verifier);
    const t = await exchange(s, app, r);
    expect(t.status).to.equal(200);
    secrets.push(t.body.access_token as string, t.body.refresh_token as string, t.body.id_token as string);
    // The same code again: a replay; the grant it produced is revoked.
    expect((await exchange(s, app, r)).body.error).to.equal('invalid_grant');

    const r2 = await launch(s, { clientId: app, pid, browser: r.browser, scope: 'launch/patient openid fhirUser patient/Observation.rs offline_access' });
    const t2 = await exchange(s, app, r2);
    const first = t2.body.refresh_token as string;
    const refreshed = await tokenRequest(s, { grant_type: 'refresh_token', refresh_token: first, client_id: app });
    expect(refreshed.status).to.equal(200);
    secrets.push(first, refreshed.body.refresh_token as string, refreshed.body.access_token as string);
    // The rotated token presented again: reuse, the whole grant ends.
    expect((await tokenRequest(s, { grant_type: 'refresh_token', refresh_token: first, client_id: app })).body.error).to.equal('invalid_grant');

    const r3 = await launch(s, { clientId: app, pid, browser: r.browser, scope: 'launch/patient openid patient/Observation.rs offline_access' });
    const t3 = await exchange(s, app, r3);
    const rev = await fetch(`${s.baseUrl}/auth/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: t3.body.refresh_token as string, client_id: app }) });
    expect(rev.status).to.equal(200);

    const seen = events();
    const kinds = new Set(seen.map((e) => e.event));
    for (const k of ['login', 'grant-created', 'token-issued', 'code-replay', 'grant-revoked', 'refresh', 'refresh-token-reuse', 'revocation']) expect(kinds, k).to.include(k);
    const replay = seen.find((e) => e.event === 'code-replay')!;
    expect(replay).to.include({ level: 'warn', outcome: 'failure', client: app, patient: pseudonym(patientId) });
    // Nothing secret or identifying in clear.
    const all = lines.join('\n');
    for (const secret of secrets) expect(all).not.to.contain(secret);
    expect(all).not.to.contain(patientId);

    // The patient's access log has them, the app named by its registered name.
    const system = await getDevSystemToken(s.baseUrl);
    const log = await fhirGet(s, `AuditEvent?patient=${patientId}&_count=200`, system);
    expect(log.status).to.equal(200);
    const audit = ((log.body as unknown as Bundle).entry ?? []).map((e) => e.resource as AuditEvent);
    const security = audit.filter((a) => a.type?.code === '110114' || a.type?.code === '110113');
    const subtypes = new Set(security.flatMap((a) => (a.subtype ?? []).map((c) => c.code)));
    for (const k of ['login', 'grant-created', 'token-issued', 'code-replay', 'refresh', 'refresh-token-reuse', 'revocation', 'grant-revoked']) expect(subtypes, k).to.include(k);
    const issued = security.find((a) => a.subtype?.some((c) => c.code === 'token-issued'))!;
    expect(issued.type?.code).to.equal('110114');
    expect(issued.agent.map((a) => a.who?.display)).to.include('Kalender-appen');
    expect(issued.entity?.[0]?.what?.reference).to.equal(`Patient/${patientId}`);
    const alert = security.find((a) => a.subtype?.some((c) => c.code === 'refresh-token-reuse'))!;
    expect(alert.type?.code).to.equal('110113');
    expect(alert.outcome).to.equal('4');
  });

  it('a consent whose code is never exchanged is no grant: no grant-created, and no grant-revoked when logout ends it (issue 16 §3)', async () => {
    const { pid } = await createCitizen(s.repo, { seq: 63 });
    // Session-bound (no offline_access), so logout ends it.
    const scope = 'launch/patient openid fhirUser patient/Observation.rs';
    const unused = await launch(s, { clientId: app, pid, scope });
    expect(unused.code).to.be.a('string');
    const used = await launch(s, { clientId: app, pid, scope, browser: unused.browser });
    const before = events().length;
    expect((await exchange(s, app, used)).status).to.equal(200);
    await unused.browser.navigate('GET', `${s.baseUrl}/auth/logout`, undefined, 'http://nowhere.invalid');
    const after = events().slice(before);
    expect(after.filter((e) => e.event === 'grant-created')).to.have.length(1);
    expect(after.filter((e) => e.event === 'grant-revoked' && e.reason === 'logout')).to.have.length(1);
    expect(after.filter((e) => e.event === 'logout').map((e) => e.reason)).to.deep.equal(['citizen logout, 1 grant(s) ended']);
  });

  it('a refused login (level of assurance too low) is logged as login-failed without the fødselsnummer', async () => {
    const { pid, patientId } = await createCitizen(s.repo, { seq: 62 });
    const before = events().length;
    // The person sees a refusal page and returns to the app without a code (issue 16 §3).
    const refused = await launch(s, { clientId: app, pid, acr: 'idporten-loa-substantial' });
    expect(refused.code, 'a substantial login must not reach the app with a code').to.equal(null);
    expect(refused.location.searchParams.get('error')).to.equal('access_denied');
    const failed = events().slice(before).filter((e) => e.event === 'login-failed');
    expect(failed).to.have.length(1);
    expect(failed[0]).to.include({ patient: pseudonym(patientId), outcome: 'failure' });
    expect(lines.join('\n')).not.to.contain(pid);
  });

  it('the AuditEvent is well-formed without a patient-facing client too (system events have no patient and no AuditEvent)', () => {
    expect(securityAuditEvent({ kind: 'token-issued', clientId: 'dev-system' }, 'Dev')).to.equal(null);
    const e = securityAuditEvent({ kind: 'logout', patientId: 'p1', actor: 'Patient/p1' }, null)!;
    expect(e.subtype?.map((c) => c.code)).to.deep.equal(['110123', 'logout']);
    expect(e.agent).to.have.length(1);
  });
});
