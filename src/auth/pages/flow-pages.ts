/**
 * The three pages of the citizen's authorization flow. The form contract is stable for automation
 * and documented in the README: picker field `patient` (Patient ids), terms checkbox
 * `accept_terms`, buttons `decision=approve|deny`; every form carries the flow's `csrf` value.
 */
import { html, layout, type SafeHtml } from './html.js';
import type { ScopeLine } from './scope-text.js';

export interface PickerChoice {
  patientId: string;
  label: string;
  /** e.g. "deg selv / yourself", "fullmakt / power of attorney". */
  relationNb: string;
  relationEn: string;
}

function buttons(approveNb: string, approveEn: string, denyNb: string, denyEn: string): SafeHtml {
  return html`<div class="buttons">
  <button class="primary" type="submit" name="decision" value="approve">${approveNb} <span lang="en">/ ${approveEn}</span></button>
  <button class="secondary" type="submit" name="decision" value="deny" formnovalidate>${denyNb} <span lang="en">/ ${denyEn}</span></button>
</div>`;
}

export function pickerPage(action: string, csrf: string, appName: string, choices: PickerChoice[]): string {
  const body = html`
<h1>Hvem vil du bruke tjenesten på vegne av? <span lang="en" class="en">Who do you want to use the service for?</span></h1>
<p><strong>${appName}</strong> ber om tilgang. <span lang="en" class="en">is asking for access.</span></p>
<form method="post" action="${action}">
  <input type="hidden" name="csrf" value="${csrf}">
  <fieldset>
    <legend>Velg person <span lang="en" class="en">/ Choose a person</span></legend>
    ${choices.map(
      (c, i) => html`<label><input type="radio" name="patient" value="${c.patientId}" ${i === 0 ? html`checked` : ''} required> ${c.label} <span class="en">(${c.relationNb} <span lang="en">/ ${c.relationEn}</span>)</span></label>`,
    )}
  </fieldset>
  ${buttons('Fortsett', 'Continue', 'Avbryt', 'Cancel')}
</form>`;
  return layout('Velg person', body);
}

export function termsPage(action: string, csrf: string, error?: string): string {
  const body = html`
<h1>Vilkår for bruk <span lang="en" class="en">/ Terms of use</span></h1>
<p>Første gang du logger inn må du godta vilkårene. <span lang="en" class="en">The first time you log in you must accept the terms of use.</span></p>
${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<div class="terms" tabindex="0" aria-label="Vilkår">
  <p>Du logger inn med ID-porten. Tjenesten gir deg tilgang til dine helseopplysninger og lar deg kommunisere med helsetjenesten.
    <span lang="en" class="en">You log in with ID-porten. The service gives you access to your health information and lets you communicate with the health service.</span></p>
  <p>Er du under 16 år, er det bare foreldre eller foresatte som har tilgang. Fra du fyller 16 år mister foreldrene tilgangen automatisk.
    <span lang="en" class="en">If you are under 16, only parents or guardians have access. At 16, parents lose access automatically.</span></p>
  <p>Du kan gi personer over 18 år fullmakt til å bruke tjenesten på dine vegne, og du kan trekke fullmakten tilbake når som helst.
    <span lang="en" class="en">You can authorise people over 18 to use the service on your behalf, and withdraw that at any time.</span></p>
  <p>Deaktiverer du brukerkontoen, blir tjenesten straks utilgjengelig for deg og for alle du har gitt tilgang.
    <span lang="en" class="en">If you deactivate your account, the service immediately becomes unavailable to you and to everyone you have given access.</span></p>
</div>
<form method="post" action="${action}">
  <input type="hidden" name="csrf" value="${csrf}">
  <label><input type="checkbox" name="accept_terms" value="yes" required> Jeg har lest og godtar vilkårene <span lang="en" class="en">/ I have read and accept the terms of use</span></label>
  ${buttons('Godta', 'Accept', 'Avslå', 'Decline')}
</form>`;
  return layout('Vilkår for bruk', body);
}

export function consentPage(action: string, csrf: string, appName: string, patientLabel: string, lines: ScopeLine[]): string {
  const body = html`
<h1>Gi ${appName} tilgang? <span lang="en" class="en">Give ${appName} access?</span></h1>
<p>Appen ber om tilgang til opplysninger om <strong>${patientLabel}</strong>. <span lang="en" class="en">The app asks for access to information about ${patientLabel}.</span></p>
<h2>Appen vil kunne <span lang="en" class="en">/ The app will be able to</span></h2>
<ul class="scopes">
  ${lines.map((l) => html`<li>${l.nb} <span lang="en" class="en">— ${l.en}</span></li>`)}
</ul>
<p>Du kan trekke tilgangen tilbake når som helst. <span lang="en" class="en">You can withdraw access at any time.</span></p>
<form method="post" action="${action}">
  <input type="hidden" name="csrf" value="${csrf}">
  ${buttons('Gi tilgang', 'Allow', 'Avslå', 'Deny')}
</form>`;
  return layout(`Gi ${appName} tilgang?`, body);
}

/** The clinician's consent: the app acts as the logged-in health professional, within their duty of confidentiality. */
export function clinicianConsentPage(action: string, csrf: string, appName: string, practitionerLabel: string, lines: ScopeLine[]): string {
  const body = html`
<h1>Gi ${appName} tilgang? <span lang="en" class="en">Give ${appName} access?</span></h1>
<p>Appen ber om tilgang til pasientopplysninger på vegne av deg som helsepersonell (<strong>${practitionerLabel}</strong>). <span lang="en" class="en">The app asks for access to patient information on your behalf as health personnel (${practitionerLabel}).</span></p>
<h2>Appen vil kunne <span lang="en" class="en">/ The app will be able to</span></h2>
<ul class="scopes">
  ${lines.map((l) => html`<li>${l.nb} <span lang="en" class="en">— ${l.en}</span></li>`)}
</ul>
<p>Tilgangen gjelder klinisk informasjon; pasientenes personlige notater er aldri tilgjengelige. <span lang="en" class="en">Access covers clinical information; patients' personal notes are never available.</span></p>
<form method="post" action="${action}">
  <input type="hidden" name="csrf" value="${csrf}">
  ${buttons('Gi tilgang', 'Allow', 'Avslå', 'Deny')}
</form>`;
  return layout(`Gi ${appName} tilgang?`, body);
}
