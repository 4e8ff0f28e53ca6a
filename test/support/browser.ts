/**
 * Headless Chromium for page tests (issue 16: "the pages are checked in headless Chromium (screenshots in
 * the test output, language, labels, contrast) in CI"): Debian's chromium driven by playwright-core with
 * a fresh profile, plus the checks every page gets — `lang`, a label for every input, and axe-core with
 * no serious or critical violation (colour contrast included) — and a screenshot under
 * test-output/screenshots/. Tests skip with a reason when /usr/bin/chromium is absent (CI installs it, .ci/run).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = path.resolve('test-output', 'screenshots');

const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const hasChromium = (): boolean => fs.existsSync(CHROMIUM);

export interface HeadlessBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Chromium with a fresh user-data-dir, no network chatter of its own, removed again at close. */
export async function launchChromium(opts: { viewport?: { width: number; height: number } } = {}): Promise<HeadlessBrowser> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'helsebro-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: opts.viewport ?? { width: 800, height: 600 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface PageFacts {
  lang: string | null;
  title: string;
  /** Inputs (not hidden) with neither a wrapping label nor a `label[for]`. */
  unlabelled: string[];
  /** Stylesheets the page loaded from another origin than its own. */
  foreignStylesheets: string[];
}

export function pageFacts(page: Page): Promise<PageFacts> {
  return page.evaluate(() => {
    const unlabelled = Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
      .filter((el) => !(el.closest('label') || (el.id && document.querySelector(`label[for="${el.id}"]`)) || el.getAttribute('aria-label')))
      .map((el) => el.outerHTML);
    const foreignStylesheets = Array.from(document.querySelectorAll('link[rel=stylesheet]'))
      .map((l) => (l as HTMLLinkElement).href)
      .filter((href) => new URL(href).origin !== location.origin);
    return { lang: document.documentElement.getAttribute('lang'), title: document.title, unlabelled, foreignStylesheets };
  });
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/** axe-core's violations of serious or critical impact (WCAG 2.x A/AA rules, colour contrast included). */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  // Evaluated through the DevTools protocol, not as a <script>: the pages' CSP allows no script, rightly.
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document, opts: unknown): Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown[] }> }> }> } }).axe;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] }, resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => String(n.target[0])) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Saves a full-page screenshot under test-output/screenshots/ and prints where. */
export async function screenshot(page: Page, name: string): Promise<{ file: string; png: Buffer }> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  const png = await page.screenshot({ fullPage: true, path: file });
  console.log(`    screenshot: ${path.relative(process.cwd(), file)}`);
  return { file, png };
}

/** Decodes a PNG in a blank page and counts distinct colours: a blank or broken render has very few. */
export async function renderingOf(context: BrowserContext, png: Buffer): Promise<{ width: number; height: number; colours: number }> {
  const page = await context.newPage();
  try {
    return await page.evaluate(async (b64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = img.width;
      canvas.height = img.height;
      const ctx = canvas.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      const data = ctx.getImageData(0, 0, img.width, img.height).data;
      const seen = new Set<number>();
      for (let i = 0; i < data.length; i += 16) seen.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
      return { width: img.width, height: img.height, colours: seen.size };
    }, png.toString('base64'));
  } finally {
    await page.close();
  }
}
