/** The citizen's list of apps with access, each with a withdraw button (S8 "You can withdraw access at any time"). */
import { html, layout } from './html.js';
import type { ScopeLine } from './scope-text.js';

export interface GrantRowView {
  grantId: string;
  appName: string;
  since: string;
  lines: ScopeLine[];
}

export function managePage(action: string, csrf: string, rows: GrantRowView[]): string {
  const body = html`
<h1>Apper med tilgang <span lang="en" class="en">/ Apps with access</span></h1>
${rows.length === 0 ? html`<p>Ingen apper har tilgang nå. <span lang="en" class="en">No apps have access now.</span></p>` : ''}
${rows.map(
  (r) => html`<section>
  <h2>${r.appName}</h2>
  <p>Siden <span lang="en" class="en">/ since</span> ${r.since}</p>
  <ul class="scopes">${r.lines.map((l) => html`<li>${l.nb} <span lang="en" class="en">— ${l.en}</span></li>`)}</ul>
  <form method="post" action="${action}">
    <input type="hidden" name="csrf" value="${csrf}">
    <input type="hidden" name="grant_id" value="${r.grantId}">
    <button class="secondary" type="submit">Trekk tilbake tilgangen <span lang="en">/ Withdraw access</span></button>
  </form>
</section>`,
)}
<p><a href="logout">Logg ut <span lang="en">/ Log out</span></a></p>`;
  return layout('Apper med tilgang', body);
}

export function loggedOutPage(): string {
  return layout('Logget ut', html`<h1>Du er logget ut <span lang="en" class="en">/ You are logged out</span></h1>`);
}
