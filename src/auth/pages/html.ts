/**
 * A tiny HTML builder: every interpolated value is escaped unless it is already `SafeHtml`, so a
 * client name or a scope from a request can never inject markup into a page.
 */
import { DESIGN_STYLESHEETS } from '../../http/design-assets.js';
import type { Lang } from './i18n.js';

export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

type Part = SafeHtml | string | number | null | undefined | false | ReadonlyArray<SafeHtml | string>;

function render(part: Part): string {
  if (part === null || part === undefined || part === false) return '';
  if (part instanceof SafeHtml) return part.value;
  if (Array.isArray(part)) return part.map((p) => render(p as Part)).join('');
  return escapeHtml(String(part));
}

export function html(strings: TemplateStringsArray, ...values: Part[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1]!;
  });
  return new SafeHtml(out);
}

/**
 * Page frame only: width, spacing and background, from the design system's tokens (colours, fonts and
 * components come from Designsystemet's stylesheets, issue 16 §3).
 */
const STYLE = `
  body{margin:0;background:var(--ds-color-neutral-background-tinted);color:var(--ds-color-neutral-text-default);font-family:var(--ds-font-family),system-ui,sans-serif}
  .hb-top{display:flex;justify-content:space-between;align-items:center;max-width:40rem;margin:0 auto;padding:var(--ds-size-4) var(--ds-size-4) 0}
  .hb-brand{font-weight:600}
  main{max-width:40rem;margin:var(--ds-size-4) auto var(--ds-size-12);padding:0 var(--ds-size-4)}
  main>.ds-card{display:flex;flex-direction:column;gap:var(--ds-size-5)}
  main form{display:flex;flex-direction:column;gap:var(--ds-size-5)}
  .hb-actions{display:flex;gap:var(--ds-size-3);flex-wrap:wrap}
  .hb-terms{max-height:18rem;overflow:auto;padding:var(--ds-size-3);border:var(--ds-border-width-default) solid var(--ds-color-neutral-border-subtle);border-radius:var(--ds-border-radius-md)}
  .hb-terms:focus-visible{outline:var(--ds-border-width-focus) solid var(--ds-color-focus-outer)}
  .hb-technical{color:var(--ds-color-neutral-text-subtle)}
`;

export interface LayoutOptions {
  lang: Lang;
  /** The same page in the other language (a GET address on this origin). */
  switchHref: string;
}

/**
 * The page frame: `lang` on <html> is the page language; Designsystemet's stylesheets from this
 * origin (`/assets/ds/`), a skip link, the language choice, and one `main` landmark.
 */
export function layout(title: string, body: SafeHtml, opts: LayoutOptions): string {
  const other = opts.lang === 'nb' ? { code: 'en', label: 'English' } : { code: 'nb', label: 'Norsk (bokmål)' };
  return `<!doctype html>
<html lang="${opts.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
${DESIGN_STYLESHEETS.map((href) => `<link rel="stylesheet" href="${href}">`).join('\n')}
<style>${STYLE}</style>
</head>
<body>
<a class="ds-skip-link" href="#innhold">${opts.lang === 'en' ? 'Skip to content' : 'Hopp til innhold'}</a>
<div class="hb-top">
<span class="hb-brand">helsebro</span>
<a class="ds-link" href="${escapeHtml(opts.switchHref)}" lang="${other.code}" hreflang="${other.code}">${other.label}</a>
</div>
<main id="innhold">
<div class="ds-card" data-color="neutral">
${body.value}
</div>
</main>
</body>
</html>`;
}
