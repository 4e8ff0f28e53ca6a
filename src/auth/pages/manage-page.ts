/**
 * The citizen's list of apps with access, one entry per app (issue 16 §3), each with a withdraw step
 * that asks for confirmation first (S8 "You can withdraw access at any time"). Apps are named by their
 * registered name, never their client id.
 */
import type { Request, Response } from 'express';
import { html, layout } from './html.js';
import { chooseLang, pick, switchHref, type Lang } from './i18n.js';
import { hidden, scopeList, type PageCtx } from './flow-pages.js';
import type { ScopeLine } from './scope-text.js';

/** What one app may do for one person. */
export interface AppPersonView {
  /** Null: the person's own information. */
  onBehalfOf: string | null;
  lines: ScopeLine[];
}

export interface AppView {
  clientId: string;
  appName: string;
  /** First day the app got access (YYYY-MM-DD). */
  since: string;
  people: AppPersonView[];
}

const whoHeading = (lang: Lang, p: AppPersonView): string =>
  p.onBehalfOf === null ? pick(lang, 'Dine egne opplysninger', 'Your own information') : pick(lang, `På vegne av ${p.onBehalfOf}`, `On behalf of ${p.onBehalfOf}`);

export function managePage(ctx: PageCtx, base: string, apps: AppView[], withdrawn?: string): string {
  const t = (nb: string, en: string) => pick(ctx.lang, nb, en);
  const body = html`
<h1 class="ds-heading" data-size="md">${t('Apper med tilgang', 'Apps with access')}</h1>
${withdrawn ? html`<div class="ds-alert" data-color="success" role="status"><p class="ds-paragraph">${t(`Tilgangen for ${withdrawn} er trukket tilbake.`, `Access for ${withdrawn} has been withdrawn.`)}</p></div>` : ''}
${apps.length === 0 ? html`<p class="ds-paragraph">${t('Ingen apper har tilgang nå.', 'No apps have access now.')}</p>` : ''}
${apps.map(
  (a, i) => html`<section class="ds-card" data-color="neutral" aria-labelledby="app-${i}">
  <h2 class="ds-heading" data-size="sm" id="app-${i}">${a.appName}</h2>
  <p class="ds-paragraph">${t('Har hatt tilgang siden', 'Has had access since')} ${a.since}</p>
  ${a.people.map((p) => html`<h3 class="ds-heading" data-size="2xs">${whoHeading(ctx.lang, p)}</h3>
  <p class="ds-paragraph">${t('Appen kan', 'The app can')}:</p>
  ${scopeList(ctx, p.lines)}`)}
  <div class="hb-actions"><a class="ds-button" data-variant="secondary" href="${base}/withdraw?client_id=${encodeURIComponent(a.clientId)}">${t(`Trekk tilbake tilgangen for ${a.appName}`, `Withdraw access for ${a.appName}`)}</a></div>
</section>`,
)}
<p class="ds-paragraph"><a class="ds-link" href="${base.replace(/\/manage$/, '')}/logout">${t('Logg ut', 'Log out')}</a></p>`;
  return layout(t('Apper med tilgang', 'Apps with access'), body, ctx);
}

/** The confirmation step before a withdrawal: what ends, and a form that does it. */
export function withdrawPage(ctx: PageCtx, base: string, csrf: string, app: AppView): string {
  const t = (nb: string, en: string) => pick(ctx.lang, nb, en);
  const people = app.people.map((p) => (p.onBehalfOf === null ? t('deg selv', 'yourself') : p.onBehalfOf));
  const body = html`
<h1 class="ds-heading" data-size="md">${t(`Trekke tilbake tilgangen for ${app.appName}?`, `Withdraw access for ${app.appName}?`)}</h1>
<div class="ds-alert" data-color="warning"><p class="ds-paragraph">${t(
    `${app.appName} mister straks tilgangen til opplysningene om ${people.join(' og ')}. Vil du bruke appen igjen senere, må du gi tilgang på nytt.`,
    `${app.appName} immediately loses access to the information about ${people.join(' and ')}. To use the app again later, you must give access again.`,
  )}</p></div>
<form method="post" action="${base}/revoke">
  ${hidden('csrf', csrf)}
  ${hidden('client_id', app.clientId)}
  <div class="hb-actions">
    <button class="ds-button" data-variant="primary" data-color="danger" type="submit">${t('Ja, trekk tilbake tilgangen', 'Yes, withdraw access')}</button>
    <a class="ds-button" data-variant="secondary" href="${base}">${t('Avbryt', 'Cancel')}</a>
  </div>
</form>`;
  return layout(t('Trekke tilbake tilgangen?', 'Withdraw access?'), body, ctx);
}

export function loggedOutPage(req: Request, res: Response): string {
  const lang = chooseLang(req, res);
  const t = (nb: string, en: string) => pick(lang, nb, en);
  return layout(
    t('Logget ut', 'Logged out'),
    html`<h1 class="ds-heading" data-size="md">${t('Du er logget ut', 'You are logged out')}</h1>
<p class="ds-paragraph">${t('Apper uten varig tilgang har mistet tilgangen. Du kan lukke vinduet.', 'Apps without lasting access have lost it. You can close this window.')}</p>`,
    { lang, switchHref: switchHref(lang, req.originalUrl) },
  );
}
