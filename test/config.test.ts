import fs from 'node:fs';
import { expect } from 'chai';
import { CONFIG_DOCS, ConfigError, developmentModeWarning, loadConfig } from '../src/config/config.js';

describe('configuration from the environment', () => {
  it('defaults: port 8080, FHIR base under /fhir, PGlite in ./data', () => {
    const c = loadConfig({});
    expect(c.port).to.equal(8080);
    expect(c.fhirBase).to.equal('http://localhost:8080/fhir');
    expect(c.database.kind).to.equal('pglite');
    expect(c.production).to.equal(false);
  });

  it('DATABASE_URL selects PostgreSQL, PGlite in memory or a folder', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://u:p@h:5432/d' }).database).to.deep.equal({ kind: 'postgres', url: 'postgres://u:p@h:5432/d' });
    expect(loadConfig({ DATABASE_URL: 'pglite://memory' }).database).to.deep.equal({ kind: 'pglite', dataDir: null });
  });

  it('reports every invalid setting at once, naming each variable and hiding passwords', () => {
    try {
      loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://root:secret@x/y' });
      expect.fail('should throw');
    } catch (err) {
      expect(err).to.be.instanceOf(ConfigError);
      const msg = (err as Error).message;
      expect(msg).to.contain('PORT').and.contain('LOG_LEVEL').and.contain('DATABASE_URL');
      expect(msg).not.to.contain('secret');
    }
  });

  it('production requires real secrets and an ID-porten issuer', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).to.throw(ConfigError, /SESSION_SECRET/);
  });
});

describe('development mode is not fail-open (issue 10 hole 11)', () => {
  it('refuses a non-loopback BASE_URL without NODE_ENV=production, unless ALLOW_DEV_ON_NETWORK=1', () => {
    expect(() => loadConfig({ BASE_URL: 'http://10.0.0.5:8080' })).to.throw(ConfigError, /ALLOW_DEV_ON_NETWORK/);
    expect(() => loadConfig({ BASE_URL: 'https://helsebro.example' })).to.throw(ConfigError, /not a loopback address/);
    expect(loadConfig({ BASE_URL: 'http://10.0.0.5:8080', ALLOW_DEV_ON_NETWORK: '1' }).allowDevOnNetwork).to.equal(true);
    expect(() => loadConfig({ BASE_URL: 'http://10.0.0.5:8080', ALLOW_DEV_ON_NETWORK: 'yes' })).to.throw(ConfigError, /ALLOW_DEV_ON_NETWORK must be 1/);
    for (const url of ['http://localhost:8080', 'http://127.0.0.1:9000', 'http://[::1]:8080', 'http://app.localhost']) expect(loadConfig({ BASE_URL: url }).baseUrl, url).to.equal(url);
  });

  it('production may use any BASE_URL', () => {
    const c = loadConfig({ NODE_ENV: 'production', BASE_URL: 'https://helsebro.example', SESSION_SECRET: 's', IDPORTEN_ISSUER: 'https://idporten.no', IDPORTEN_CLIENT_SECRET: 'x' });
    expect(c.baseUrl).to.equal('https://helsebro.example');
    expect(developmentModeWarning(c)).to.equal(null);
  });

  it('says loudly that this is development mode', () => {
    const warning = developmentModeWarning(loadConfig({}));
    expect(warning).to.match(/DEVELOPMENT MODE/).and.match(/known secret/).and.match(/registration is open/);
  });

  it('CORS_ORIGINS are validated origins; OFFLINE_GRANT_MAX_DAYS defaults to 365', () => {
    expect(loadConfig({ CORS_ORIGINS: 'https://portal.example, http://localhost:3000' }).corsOrigins).to.deep.equal(['https://portal.example', 'http://localhost:3000']);
    expect(() => loadConfig({ CORS_ORIGINS: 'https://portal.example/path' })).to.throw(ConfigError, /CORS_ORIGINS/);
    expect(() => loadConfig({ CORS_ORIGINS: '*' })).to.throw(ConfigError, /CORS_ORIGINS/);
    expect(loadConfig({}).offlineGrantMaxDays).to.equal(365);
    expect(loadConfig({ OFFLINE_GRANT_MAX_DAYS: '30' }).offlineGrantMaxDays).to.equal(30);
    expect(() => loadConfig({ OFFLINE_GRANT_MAX_DAYS: '0' })).to.throw(ConfigError, /OFFLINE_GRANT_MAX_DAYS/);
  });

  it('every setting is in the README configuration table', () => {
    const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const [name] of CONFIG_DOCS) expect(readme, name).to.contain(`\`${name}\``);
  });
});
