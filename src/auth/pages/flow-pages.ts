/**
 * The pages of the citizen's authorization flow in Designsystemet markup, one language at a time
 * (issue 16 §3). The form contract is stable for automation and documented in the README: picker
 * field `patient` (Patient ids), terms checkbox `accept_terms`, buttons `decision=approve|deny`; every
 * form carries the flow's `csrf` value.
 */
import { html, layout, type SafeHtml } from './html.js';
import { pick, type Lang } from './i18n.js';
import type { ScopeLine } from './scope-text.js';

export interface PageCtx {
  lang: Lang;
  /** The same page in the other language (GET, this origin). */
  switchHref: string;
}

export interface PickerChoice {
  patientId: string;
  label: string;
  /** e.g. "deg selv" / "yourself", "fullmakt – standard" / "authorisation – Standard". */
  relationNb: string;
  relationEn: string;
}

export function buttons(ctx: PageCtx, approve: [string, string], deny: [string, string]): SafeHtml {
  return html`<div class="hb-actions">
  <button class="ds-button" data-variant="primary" type="submit" name="decision" value="approve">${pick(ctx.lang, ...approve)}</button>
  <button class="ds-button" data-variant="secondary" type="submit" name="decision" value="deny" formnovalidate>${pick(ctx.lang, ...deny)}</button>
</div>`;
}

export function hidden(name: string, value: string): SafeHtml {
  return html`<input type="hidden" name="${name}" value="${value}">`;
}

export function scopeList(ctx: PageCtx, lines: ScopeLine[]): SafeHtml {
  return html`<ul class="ds-list scopes">
  ${lines.map((l) => html`<li>${pick(ctx.lang, l.nb, l.en)}</li>`)}
</ul>`;
}

export function pickerPage(ctx: PageCtx, action: string, csrf: string, appName: string, choices: PickerChoice[]): string {
  const t = (nb: string, en: string) => pick(ctx.lang, nb, en);
  const body = html`
<h1 class="ds-heading" data-size="md">${t('Hvem vil du bruke tjenesten på vegne av?', 'Who do you want to use the service for?')}</h1>
<p class="ds-paragraph"><strong>${appName}</strong> ${t('ber om tilgang til helseopplysninger. Velg hvem appen skal gjelde.', 'is asking for access to health information. Choose whom the app is for.')}</p>
<form method="post" action="${action}">
  ${hidden('csrf', csrf)}
  <fieldset class="ds-fieldset">
    <legend class="ds-label">${t('Velg person', 'Choose a person')}</legend>
    ${choices.map(
      (c, i) => html`<div class="ds-field"><input type="radio" name="patient" value="${c.patientId}" class="ds-input" id="patient-${i}" ${i === 0 ? html`checked` : ''} required>
      <label class="ds-label" data-weight="regular" for="patient-${i}">${c.label} (${t(c.relationNb, c.relationEn)})</label></div>`,
    )}
  </fieldset>
  ${buttons(ctx, ['Fortsett', 'Continue'], ['Avbryt', 'Cancel'])}
</form>`;
  return layout(t('Velg person', 'Choose a person'), body, ctx);
}

const TERMS: Array<[string, string]> = [
  ['Du logger inn med ID-porten. Tjenesten gir deg tilgang til helseopplysningene dine og lar deg kommunisere med helsetjenesten.', 'You log in with ID-porten. The service gives you access to your health information and lets you communicate with the health service.'],
  ['Er du under 16 år, er det bare foreldre eller foresatte som har tilgang. Fra du fyller 16 år, mister foreldrene tilgangen automatisk.', 'If you are under 16, only parents or guardians have access. At 16, parents lose access automatically.'],
  ['Du kan gi personer over 18 år fullmakt til å bruke tjenesten på dine vegne, og du kan trekke fullmakten tilbake når som helst.', 'You can authorise people over 18 to use the service on your behalf, and withdraw that at any time.'],
  ['Deaktiverer du brukerkontoen, blir tjenesten straks utilgjengelig for deg og for alle du har gitt tilgang.', 'If you deactivate your account, the service immediately becomes unavailable to you and to everyone you have given access.'],
];

export function termsPage(ctx: PageCtx, action: string, csrf: string, error?: boolean): string {
  const t = (nb: string, en: string) => pick(ctx.lang, nb, en);
  const body = html`
<h1 class="ds-heading" data-size="md">${t('Vilkår for bruk', 'Terms of use')}</h1>
<p class="ds-paragraph">${t('Første gang du logger inn, må du godta vilkårene.', 'The first time you log in, you must accept the terms of use.')}</p>
${error ? html`<div class="ds-alert" data-color="danger" role="alert"><p class="ds-paragraph">${t('Du må krysse av for at du godtar vilkårene.', 'Tick the box to accept the terms of use.')}</p></div>` : ''}
<section class="hb-terms" tabindex="0" aria-labelledby="terms-heading">
  <h2 class="ds-heading" data-size="xs" id="terms-heading">${t('Vilkårene', 'The terms')}</h2>
  ${TERMS.map(([nb, en]) => html`<p class="ds-paragraph">${t(nb, en)}</p>`)}
</section>
<form method="post" action="${action}">
  ${hidden('csrf', csrf)}
  <div class="ds-field"><input type="checkbox" name="accept_terms" value="yes" class="ds-input" id="accept_terms" required ${error ? html`aria-invalid="true"` : ''}>
  <label class="ds-label" data-weight="regular" for="accept_terms">${t('Jeg har lest og godtar vilkårene', 'I have read and accept the terms of use')}</label></div>
  ${buttons(ctx, ['Godta', 'Accept'], ['Avslå', 'Decline'])}
</form>`;
  return layout(t('Vilkår for bruk', 'Terms of use'), body, ctx);
}

/** Whom the consent is for: the person themself, or someone they act for (named, issue 16 §3). */
export interface ConsentFor {
  self: boolean;
  patientLabel: string;
}

export function consentPage(ctx: PageCtx, action: string, csrf: string, appName: string, who: ConsentFor, lines: ScopeLine[]): string {
  const t = (nb: string, en: string) => pick(ctx.lang, nb, en);
  const about = who.self
    ? html`<p class="ds-paragraph">${t('Appen ber om tilgang til dine helseopplysninger', 'The app asks for access to your health information')} (<strong>${who.patientLabel}</strong>).</p>`
    : html`<div class="ds-alert" data-color="info"><p class="ds-paragraph">${t('Du bruker tjenesten på vegne av', 'You are using the service on behalf of')} <strong>${who.patientLabel}</strong>. ${t(`Appen vil få tilgang til opplysningene om ${who.patientLabel}, ikke dine egne.`, `The app will get access to information about ${who.patientLabel}, not your own.`)}</p></div>`;
  const body = html`
<h1 class="ds-heading" data-size="md">${t(`Gi ${appName} tilgang?`, `Give ${appName} access?`)}</h1>
${about}
<h2 class="ds-heading" data-size="xs">${t('Appen vil kunne', 'The app will be able to')}</h2>
${scopeList(ctx, lines)}
<p class="ds-paragraph">${t('Du kan trekke tilgangen tilbake når som helst under «Apper med tilgang».', 'You can withdraw access at any time under “Apps with access”.')}</p>
<form method="post" action="${action}">
  ${hidden('csrf', csrf)}
  ${buttons(ctx, ['Gi tilgang', 'Allow'], ['Avslå', 'Deny'])}
</form>`;
  return layout(t(`Gi ${appName} tilgang?`, `Give ${appName} access?`), body, ctx);
}

/** The clinician's consent: the app acts as the logged-in health professional, within their duty of confidentiality. */
export function clinicianConsentPage(ctx: PageCtx, action: string, csrf: string, appName: string, practitionerLabel: string, lines: ScopeLine[]): string {
  const t = (nb: string, en: string) => pick(ctx.lang, nb, en);
  const body = html`
<h1 class="ds-heading" data-size="md">${t(`Gi ${appName} tilgang?`, `Give ${appName} access?`)}</h1>
<p class="ds-paragraph">${t('Appen ber om tilgang til pasientopplysninger på vegne av deg som helsepersonell', 'The app asks for access to patient information on your behalf as health personnel')} (<strong>${practitionerLabel}</strong>).</p>
<h2 class="ds-heading" data-size="xs">${t('Appen vil kunne', 'The app will be able to')}</h2>
${scopeList(ctx, lines)}
<p class="ds-paragraph">${t('Tilgangen gjelder klinisk informasjon; pasientenes personlige notater er aldri tilgjengelige.', 'Access covers clinical information; patients’ personal notes are never available.')}</p>
<form method="post" action="${action}">
  ${hidden('csrf', csrf)}
  ${buttons(ctx, ['Gi tilgang', 'Allow'], ['Avslå', 'Deny'])}
</form>`;
  return layout(t(`Gi ${appName} tilgang?`, `Give ${appName} access?`), body, ctx);
}
