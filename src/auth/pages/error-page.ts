/**
 * The pages that end a flow: an error we cannot send back to the app (bad client or redirect URI,
 * expired flow), and a refusal shown before the person returns to the app with `error` and
 * `error_description` (issue 16 §3: "a Norwegian page for every refusal before redirecting back").
 */
import type { Request, Response } from 'express';
import { html, layout } from './html.js';
import { chooseLang, pick, switchHref, type Text } from './i18n.js';
import { sendPage } from './send.js';

/**
 * A page without a way back to the app. `detail` is the technical reason (English, as in OAuth error
 * descriptions) for whoever debugs the app; the person is told what to do in their language.
 * `getPath` is where the language switch goes when this page answers a POST.
 */
export function errorPage(req: Request, res: Response, title: Text, body: Text, detail?: string, getPath?: string): void {
  const lang = chooseLang(req, res);
  const t = (x: Text) => pick(lang, x.nb, x.en);
  sendPage(
    res,
    layout(
      t(title),
      html`<h1 class="ds-heading" data-size="md">${t(title)}</h1>
<div class="ds-alert" data-color="danger" role="alert"><p class="ds-paragraph">${t(body)}</p></div>
${detail ? html`<p class="ds-paragraph hb-technical" data-size="sm">${pick(lang, 'Teknisk beskrivelse', 'Technical description')}: <span lang="en">${detail}</span></p>` : ''}`,
      // A page answering a POST switches language on a GET address that shows the same state (`getPath`).
      { lang, switchHref: switchHref(lang, getPath ?? req.originalUrl) },
    ),
  );
}

export interface RefusalView {
  title: Text;
  body: Text;
  appName: string;
  /** The app's redirect URI with error, error_description, state and iss. */
  returnUrl: string;
  error: string;
  description: string;
}

/** A refusal, with a button back to the app that carries the OAuth error. */
export function refusalPage(req: Request, res: Response, v: RefusalView, getPath: string): void {
  const lang = chooseLang(req, res);
  const t = (x: Text) => pick(lang, x.nb, x.en);
  sendPage(
    res,
    layout(
      t(v.title),
      html`<h1 class="ds-heading" data-size="md">${t(v.title)}</h1>
<div class="ds-alert" data-color="warning"><p class="ds-paragraph">${t(v.body)}</p></div>
<p class="ds-paragraph">${pick(lang, 'Når du går tilbake, får', 'When you go back,')} <strong>${v.appName}</strong> ${pick(lang, 'beskjed om at tilgang ikke ble gitt.', 'is told that access was not given.')}</p>
<p class="ds-paragraph hb-technical" data-size="sm">${pick(lang, 'Beskjed til appen', 'Message to the app')}: <span lang="en">${v.error} – ${v.description}</span></p>
<div class="hb-actions"><a class="ds-button" data-variant="primary" data-return="app" href="${v.returnUrl}">${pick(lang, 'Tilbake til appen', 'Back to the app')}</a></div>`,
      { lang, switchHref: switchHref(lang, getPath) },
    ),
  );
}
