import { expect } from 'chai';
import { ConfigError, loadConfig } from '../src/config/config.js';

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
