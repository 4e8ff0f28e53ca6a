/**
 * What the console says once the server listens (issue 16 §4): one structured JSON line for log
 * collectors (mode, database kind, URLs), and in development a short block for the person at the
 * terminal saying where to go and whom to log in as. The database URL is never printed (it may
 * carry a password), and no fødselsnummer is: the personas are named, their synthetic test numbers
 * are in fixtures/README.md.
 */
import type { Config } from './config/config.js';
import type { Logger } from './log.js';

/** The demo personas of fixtures/README.md, by name and what they show. */
export const DEMO_PERSONAS: ReadonlyArray<[string, string]> = [
  ['Kari Nordmann', 'the grantor: her whole record, her access log and grants'],
  ['Ola Nordmann', 'standard proxy for Kari'],
  ['Astrid Berg', 'full proxy for Kari'],
  ['Lars Johansen', 'father of Emma (under 16)'],
  ['Anne Lund', 'GP (clinician login)'],
];

export interface StartBanner {
  mode: 'production' | 'development';
  database: 'pglite' | 'postgres';
  urls: Record<'index' | 'fhir' | 'docs' | 'portal' | 'metrics' | 'healthz' | 'readyz', string>;
}

export function startBanner(config: Config): StartBanner {
  const base = config.baseUrl;
  return {
    mode: config.production ? 'production' : 'development',
    database: config.database.kind,
    urls: { index: `${base}/`, fhir: `${base}/fhir`, docs: `${base}/docs`, portal: `${base}/portal`, metrics: `${base}/metrics`, healthz: `${base}/healthz`, readyz: `${base}/readyz` },
  };
}

export function logStartBanner(logger: Logger, config: Config, write: (text: string) => void = (t) => process.stdout.write(t)): void {
  const banner = startBanner(config);
  logger.info('listening', { ...banner, ...(banner.mode === 'development' ? { personas: DEMO_PERSONAS.map(([name]) => name) } : {}) });
  if (banner.mode !== 'development') return;
  const lines = [
    '',
    `  helsebro is running (development, ${banner.database === 'pglite' ? 'embedded PGlite' : 'PostgreSQL'})`,
    `    FHIR API        ${banner.urls.fhir}`,
    `    API reference   ${banner.urls.docs}`,
    `    portal          ${banner.urls.portal}  (reference portal: log in as Kari Nordmann)`,
    `    health          ${banner.urls.healthz}  ${banner.urls.readyz}`,
    `    metrics         ${banner.urls.metrics}`,
    '  Demo personas (log in on the development login page with the synthetic fødselsnummer listed in fixtures/README.md):',
    ...DEMO_PERSONAS.map(([name, what]) => `    ${name.padEnd(15)} ${what}`),
    '  First token: README.md, "Your first token in five commands".',
    '',
  ];
  write(`${lines.join('\n')}\n`);
}
