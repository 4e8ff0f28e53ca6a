/** The no-redirect error page (bad client or redirect URI, expired flow), Norwegian with English. */
import type { Response } from 'express';
import { html, layout } from './html.js';
import { sendPage } from './send.js';

export function errorPage(res: Response, titleNb: string, titleEn: string, detail: string): void {
  sendPage(
    res,
    layout(
      titleNb,
      html`<h1>${titleNb} <span lang="en" class="en">/ ${titleEn}</span></h1>
<p class="error" role="alert">${detail}</p>
<p>Gå tilbake til appen og prøv igjen. <span lang="en" class="en">Go back to the app and try again.</span></p>`,
    ),
  );
}
