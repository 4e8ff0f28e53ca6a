/**
 * Sends one of the authorization pages: never cached, and with a CSP that has no `form-action`
 * restriction, because the consent form's redirect may go to a native app's private-use URI scheme
 * (RFC 8252 §7.1), which browsers would otherwise block as a form target. No script runs on these pages;
 * stylesheets come only from this origin (Designsystemet under /assets/ds/) plus the page frame's inline style.
 */
import type { Response } from 'express';

const PAGE_CSP = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

export function sendPage(res: Response, html: string, status = res.statusCode || 200): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Security-Policy', PAGE_CSP);
  res.status(status).type('html').send(html);
}
