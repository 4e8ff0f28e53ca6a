/**
 * A minimal browser for end-to-end login tests: a cookie jar keyed by host name (cookies ignore
 * ports, as in browsers, which the stand-in's two ports rely on), manual redirect following, and
 * form extraction from the server-rendered pages.
 */
export interface Page {
  url: string;
  status: number;
  body: string;
  location: string | null;
  headers: Headers;
}

interface Cookie {
  name: string;
  value: string;
  host: string;
  path: string;
}

export class Browser {
  private cookies: Cookie[] = [];

  /** One request, no redirect following. */
  async request(method: string, url: string, form?: Record<string, string>): Promise<Page> {
    const u = new URL(url);
    const headers: Record<string, string> = { accept: 'text/html' };
    const cookie = this.cookieHeader(u);
    if (cookie) headers.cookie = cookie;
    let body: string | undefined;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const res = await fetch(url, { method, headers, body, redirect: 'manual' });
    this.store(u, res.headers.getSetCookie());
    const location = res.headers.get('location');
    return { url, status: res.status, body: await res.text(), location: location ? new URL(location, url).toString() : null, headers: res.headers };
  }

  /**
   * Follows redirects from `url` until a page is not a redirect or the next location starts with
   * `stopAt` (the app's redirect URI, which nobody serves in these tests).
   */
  async navigate(method: string, url: string, form?: Record<string, string>, stopAt?: string): Promise<Page> {
    let page = await this.request(method, url, form);
    for (let hops = 0; page.location && page.status >= 300 && page.status < 400; hops++) {
      if (hops > 20) throw new Error('too many redirects');
      if (stopAt && page.location.startsWith(stopAt)) return page;
      page = await this.request('GET', page.location);
    }
    return page;
  }

  /** Submits the (first, or the one whose action contains `actionPart`) form of a page. */
  async submit(page: Page, fields: Record<string, string>, stopAt?: string, actionPart?: string): Promise<Page> {
    const form = findForm(page.body, actionPart);
    if (!form) throw new Error(`no form on ${page.url} (status ${page.status}):\n${page.body.slice(0, 500)}`);
    return this.navigate('POST', new URL(form.action, page.url).toString(), { ...form.hidden, ...fields }, stopAt);
  }

  private cookieHeader(u: URL): string {
    return this.cookies
      .filter((c) => c.host === u.hostname && u.pathname.startsWith(c.path))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  private store(u: URL, setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      let path = '/';
      let expired = value === '';
      for (const a of attrs) {
        const [k, v] = a.split('=');
        if (k!.toLowerCase() === 'path' && v) path = v;
        if (k!.toLowerCase() === 'max-age' && Number(v) <= 0) expired = true;
        if (k!.toLowerCase() === 'expires' && v && new Date(v).getTime() < Date.now()) expired = true;
      }
      this.cookies = this.cookies.filter((c) => !(c.name === name && c.host === u.hostname && c.path === path));
      if (!expired) this.cookies.push({ name, value, host: u.hostname, path });
    }
  }
}

export function findForm(html: string, actionPart?: string): { action: string; hidden: Record<string, string> } | null {
  const forms = [...html.matchAll(/<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/g)];
  const m = actionPart ? forms.find((f) => f[1]!.includes(actionPart)) : forms[0];
  if (!m) return null;
  const hidden: Record<string, string> = {};
  for (const input of m[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) hidden[input[1]!] = unescape(input[2]!);
  return { action: unescape(m[1]!), hidden };
}

/** The values of the radio inputs named `name` on a page. */
export function radioValues(html: string, name: string): string[] {
  return [...html.matchAll(new RegExp(`<input type="radio" name="${name}" value="([^"]*)"`, 'g'))].map((m) => unescape(m[1]!));
}

function unescape(s: string): string {
  return s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}
