/**
 * The citizen pages' language: Norwegian bokmål by default, English as a choice (issue 16 §3: "English
 * as a language choice, not side by side"). `?lang=en|nb` on any page chooses and is remembered in a
 * cookie, so the choice follows the person through the login flow; the flow's state lives in the
 * database (auth_requests), so switching language mid-flow re-renders the same step.
 */
import type { Request, Response } from 'express';

export type Lang = 'nb' | 'en';
export const LANG_COOKIE = 'helsebro_lang';
const ONE_YEAR_SECONDS = 365 * 24 * 3600;

const isLang = (v: unknown): v is Lang => v === 'nb' || v === 'en';

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The page language: `?lang=` (remembered in a cookie) → the cookie → `fallback` (e.g. OIDC ui_locales) → bokmål. */
export function chooseLang(req: Request, res: Response, fallback?: string): Lang {
  const asked = typeof req.query?.lang === 'string' ? req.query.lang : undefined;
  if (isLang(asked)) {
    res.cookie(LANG_COOKIE, asked, { path: '/', sameSite: 'lax', httpOnly: true, maxAge: ONE_YEAR_SECONDS * 1000 });
    return asked;
  }
  const remembered = cookieValue(req.headers.cookie, LANG_COOKIE);
  if (isLang(remembered)) return remembered;
  const hinted = fallback?.split(' ').map((l) => (l === 'nn' || l === 'no' ? 'nb' : l)).find(isLang);
  return hinted ?? 'nb';
}

/** The same GET address in the other language (a page reached by POST switches on its GET address). */
export function switchHref(lang: Lang, getPath: string): string {
  const url = new URL(getPath, 'http://x');
  url.searchParams.set('lang', lang === 'nb' ? 'en' : 'nb');
  return `${url.pathname}${url.search}`;
}

/** Picks the text of the page language. */
export const pick = (lang: Lang, nb: string, en: string): string => (lang === 'en' ? en : nb);

/** A text in both languages, for values computed before the page language is known. */
export interface Text {
  nb: string;
  en: string;
}
