import { expect } from 'chai';
import { generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { KeyStore } from '../../src/auth/keys.js';
import { signAccessToken, TokenError, verifyAccessToken } from '../../src/auth/tokens.js';
import { testConfig } from '../../src/config/config.js';
import type { Db } from '../../src/db/db.js';
import { openTestDatabase } from '../support/app.js';

const config = testConfig();
const input = { grantId: 'g1', clientId: 'app', sub: 'person', scope: 'patient/*.rs', patientId: 'p1', fhirUser: 'Patient/p1', ttl: 300 };

async function reason(token: string, keys: KeyStore): Promise<string> {
  try {
    await verifyAccessToken(keys, config, token);
    return 'accepted';
  } catch (err) {
    return err instanceof TokenError ? err.reason : String(err);
  }
}

describe('signing keys and access tokens', () => {
  let db: Db;
  let keys: KeyStore;

  before(async () => {
    db = await openTestDatabase();
    keys = new KeyStore(db);
  });
  after(() => db.close());

  it('generates a signing key on first use and persists it for every later instance', async () => {
    const first = await keys.signingKey();
    const again = await new KeyStore(db).signingKey();
    expect(again.kid).to.equal(first.kid);
    const rows = await db.query('SELECT kid FROM auth_signing_keys');
    expect(rows).to.have.length(1);
  });

  it('accepts its own token and exposes the SMART claims', async () => {
    const { token } = await signAccessToken(keys, config, input);
    const claims = await verifyAccessToken(keys, config, token);
    expect(claims).to.include({ iss: config.baseUrl, aud: config.fhirBase, client_id: 'app', patient: 'p1', fhirUser: `${config.fhirBase}/Patient/p1`, grant_id: 'g1' });
  });

  it('keeps tokens signed before a key rotation valid and publishes both keys', async () => {
    const { token } = await signAccessToken(keys, config, input);
    const newKid = await keys.rotateSigningKey();
    expect((await keys.signingKey()).kid).to.equal(newKid);
    expect(await reason(token, new KeyStore(db))).to.equal('accepted');
    expect((await keys.jwks()).keys.map((k) => k.kid)).to.include(newKid).and.have.length(2);
    expect((await keys.jwks()).keys.every((k) => k.d === undefined)).to.equal(true);
  });

  it('rotates a signing key older than the maximum age by itself', async () => {
    const before = await keys.signingKey();
    await db.query("UPDATE auth_signing_keys SET created_at = now() - interval '91 days' WHERE kid = $1", [before.kid]);
    const fresh = new KeyStore(db);
    const after = await fresh.signingKey();
    expect(after.kid).to.not.equal(before.kid);
    expect((await fresh.jwks()).keys.map((k) => k.kid)).to.include(before.kid);
  });

  it('rejects alg none', async () => {
    const token = new UnsecuredJWT({ client_id: 'app', scope: 'system/*.*', grant_id: 'g1', jti: 'x' })
      .setIssuer(config.baseUrl)
      .setAudience(config.fhirBase)
      .setIssuedAt()
      .setExpirationTime('5m')
      .encode();
    expect(await reason(token, keys)).to.equal('invalid');
  });

  it('rejects a tampered payload', async () => {
    const { token } = await signAccessToken(keys, config, input);
    const [h, p, s] = token.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    payload.scope = 'system/*.*';
    expect(await reason(`${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`, keys)).to.equal('invalid');
  });

  it('rejects a token for another audience', async () => {
    const { token } = await signAccessToken(keys, { ...config, fhirBase: 'https://elsewhere.example/fhir' }, input);
    expect(await reason(token, keys)).to.equal('invalid');
  });

  it('rejects a token signed with a key it never issued, even with a known kid', async () => {
    const { kid } = await keys.signingKey();
    const { privateKey } = await generateKeyPair('RS256');
    const token = await new SignJWT({ client_id: 'app', scope: 's', grant_id: 'g1' })
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'at+jwt' })
      .setIssuer(config.baseUrl)
      .setAudience(config.fhirBase)
      .setJti('j')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    expect(await reason(token, keys)).to.equal('invalid');
  });

  it('reports an expired token as expired', async () => {
    const { token } = await signAccessToken(keys, config, { ...input, ttl: -10 });
    expect(await reason(token, keys)).to.equal('expired');
  });
});
