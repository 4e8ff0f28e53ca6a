/**
 * The stand-in's login page: one text input `pid` taking any synthetic fødselsnummer or D-number
 * with valid check digits, and the level of assurance the persona logs in with (access-spec §2,
 * stand-in item 4: acr settable per test persona). The person's pid is the account id.
 * The HelseID flavour asks for an HPR number (`hpr`, the account id) instead and logs in at `Level4`.
 */
import express, { type Request, type Response } from 'express';
import type Provider from 'oidc-provider';
import { html, layout, type SafeHtml } from '../auth/pages/html.js';
import { chooseLang, pick, switchHref, type Lang } from '../auth/pages/i18n.js';
import { hasValidCheckDigits, parseIdNumber } from '../fhir/validation/fnr.js';
import { ACR_LEVELS, HELSEID_ACR, type Flavour } from './provider.js';

/** HPR numbers are 7–9 digits. */
const HPR = /^[0-9]{7,9}$/;

export function loginRouter(provider: Provider, flavour: Flavour = 'idporten'): express.Router {
  const router = express.Router();
  if (flavour === 'helseid') return helseidLogin(router, provider);

  router.get('/interaction/:uid', async (req, res) => {
    const details = await provider.interactionDetails(req, res).catch(() => null);
    // As ID-porten: the relying party's ui_locales chooses the language unless the person chose one.
    const lang = chooseLang(req, res, typeof details?.params.ui_locales === 'string' ? details.params.ui_locales : undefined);
    if (!details) return sendPage(res, 400, lang, req.originalUrl, EXPIRED_TITLE, expired(lang));
    if (details.prompt.name !== 'login') {
      // Consent is granted by loadExistingGrant; anything else resumes the authorization.
      return provider.interactionFinished(req, res, {}, { mergeWithLastSubmission: true });
    }
    const requested = String(details.params.acr_values ?? '').split(' ').find((a) => (ACR_LEVELS as readonly string[]).includes(a));
    sendPage(res, 200, lang, req.originalUrl, LOGIN_TITLE, loginForm(lang, details.uid, requested ?? 'idporten-loa-high'));
  });

  router.post('/interaction/:uid/login', express.urlencoded({ extended: false, limit: '10kb' }), async (req: Request, res: Response) => {
    const lang = chooseLang(req, res);
    const uid = String(req.params.uid);
    const body = req.body as Record<string, unknown>;
    const pid = typeof body.pid === 'string' ? body.pid.trim() : '';
    const acr = typeof body.acr === 'string' && (ACR_LEVELS as readonly string[]).includes(body.acr) ? body.acr : 'idporten-loa-high';
    if (!hasValidCheckDigits(pid) || !parseIdNumber(pid)) {
      return sendPage(res, 400, lang, `/interaction/${uid}`, LOGIN_TITLE, loginForm(lang, uid, acr, true));
    }
    const details = await provider.interactionDetails(req, res).catch(() => null);
    if (!details || details.uid !== req.params.uid) return sendPage(res, 400, lang, `/interaction/${uid}`, EXPIRED_TITLE, expired(lang));
    await provider.interactionFinished(req, res, { login: { accountId: pid, acr, amr: ['TestID'], remember: false } }, { mergeWithLastSubmission: false });
  });

  return router;
}

const LOGIN_TITLE: [string, string] = ['Logg inn – ID-porten (test)', 'Log in – ID-porten (test)'];
const HELSEID_TITLE: [string, string] = ['Logg inn – HelseID (test)', 'Log in – HelseID (test)'];
const EXPIRED_TITLE: [string, string] = ['Innloggingen er utløpt', 'The login has expired'];

function expired(lang: Lang): SafeHtml {
  return html`<h1 class="ds-heading" data-size="md">${pick(lang, ...EXPIRED_TITLE)}</h1>
<div class="ds-alert" data-color="danger" role="alert"><p class="ds-paragraph">${pick(lang, 'Innloggingen er utløpt eller ukjent. Gå tilbake til appen og start på nytt.', 'The login has expired or is unknown. Go back to the app and start again.')}</p></div>`;
}

function loginForm(lang: Lang, uid: string, acr: string, invalid = false): SafeHtml {
  const t = (nb: string, en: string) => pick(lang, nb, en);
  return html`
<h1 class="ds-heading" data-size="md">ID-porten <span class="ds-paragraph" data-size="sm">(${t('testinnlogging', 'test stand-in')})</span></h1>
<p class="ds-paragraph">${t('Logg inn med et syntetisk fødselsnummer eller D-nummer.', 'Log in with a synthetic national identity number or D number.')}</p>
<form method="post" action="/interaction/${uid}/login">
  <div class="ds-field">
    <label class="ds-label" for="pid">${t('Fødselsnummer eller D-nummer (11 siffer)', 'Fødselsnummer or D number (national identity number, 11 digits)')}</label>
    <input type="text" id="pid" name="pid" class="ds-input" inputmode="numeric" autocomplete="off" pattern="[0-9]{11}" required ${invalid ? html`aria-invalid="true" aria-describedby="pid-error"` : ''}>
    ${invalid ? html`<p class="ds-validation-message" data-field="validation" id="pid-error">${t('Ugyldig fødselsnummer eller D-nummer (11 siffer med gyldige kontrollsifre).', 'Invalid national identity number (11 digits with valid check digits).')}</p>` : ''}
  </div>
  <fieldset class="ds-fieldset">
    <legend class="ds-label">${t('Sikkerhetsnivå', 'Level of assurance')}</legend>
    <div class="ds-field"><input type="radio" name="acr" value="idporten-loa-high" class="ds-input" id="acr-high" ${acr === 'idporten-loa-high' ? html`checked` : ''}>
    <label class="ds-label" data-weight="regular" for="acr-high">${t('Høyt (BankID)', 'High (BankID)')}</label></div>
    <div class="ds-field"><input type="radio" name="acr" value="idporten-loa-substantial" class="ds-input" id="acr-substantial" ${acr === 'idporten-loa-substantial' ? html`checked` : ''}>
    <label class="ds-label" data-weight="regular" for="acr-substantial">${t('Betydelig (MinID)', 'Substantial (MinID)')}</label></div>
  </fieldset>
  <div class="hb-actions"><button class="ds-button" data-variant="primary" type="submit">${t('Logg inn', 'Log in')}</button></div>
</form>`;
}

function helseidLogin(router: express.Router, provider: Provider): express.Router {
  router.get('/interaction/:uid', async (req, res) => {
    const lang = chooseLang(req, res);
    const details = await provider.interactionDetails(req, res).catch(() => null);
    if (!details) return sendPage(res, 400, lang, req.originalUrl, EXPIRED_TITLE, expired(lang));
    if (details.prompt.name !== 'login') return provider.interactionFinished(req, res, {}, { mergeWithLastSubmission: true });
    sendPage(res, 200, lang, req.originalUrl, HELSEID_TITLE, hprForm(lang, details.uid));
  });
  router.post('/interaction/:uid/login', express.urlencoded({ extended: false, limit: '10kb' }), async (req: Request, res: Response) => {
    const lang = chooseLang(req, res);
    const uid = String(req.params.uid);
    const body = req.body as Record<string, unknown>;
    const hpr = typeof body.hpr === 'string' ? body.hpr.trim() : '';
    if (!HPR.test(hpr)) return sendPage(res, 400, lang, `/interaction/${uid}`, HELSEID_TITLE, hprForm(lang, uid, true));
    const details = await provider.interactionDetails(req, res).catch(() => null);
    if (!details || details.uid !== req.params.uid) return sendPage(res, 400, lang, `/interaction/${uid}`, EXPIRED_TITLE, expired(lang));
    await provider.interactionFinished(req, res, { login: { accountId: hpr, acr: HELSEID_ACR, amr: ['TestID'], remember: false } }, { mergeWithLastSubmission: false });
  });
  return router;
}

function hprForm(lang: Lang, uid: string, invalid = false): SafeHtml {
  const t = (nb: string, en: string) => pick(lang, nb, en);
  return html`
<h1 class="ds-heading" data-size="md">HelseID <span class="ds-paragraph" data-size="sm">(${t('testinnlogging', 'test stand-in')})</span></h1>
<p class="ds-paragraph">${t('Logg inn som helsepersonell med HPR-nummer.', 'Log in as health personnel with an HPR number.')}</p>
<form method="post" action="/interaction/${uid}/login">
  <div class="ds-field">
    <label class="ds-label" for="hpr">${t('HPR-nummer (7–9 siffer)', 'HPR number (Norwegian health personnel number, 7–9 digits)')}</label>
    <input type="text" id="hpr" name="hpr" class="ds-input" inputmode="numeric" autocomplete="off" pattern="[0-9]{7,9}" required ${invalid ? html`aria-invalid="true" aria-describedby="hpr-error"` : ''}>
    ${invalid ? html`<p class="ds-validation-message" data-field="validation" id="hpr-error">${t('Ugyldig HPR-nummer (7–9 siffer).', 'Invalid HPR number (7–9 digits).')}</p>` : ''}
  </div>
  <div class="hb-actions"><button class="ds-button" data-variant="primary" type="submit">${t('Logg inn', 'Log in')}</button></div>
</form>`;
}

function sendPage(res: Response, status: number, lang: Lang, getPath: string, title: [string, string], body: SafeHtml): void {
  res.status(status).type('html').setHeader('Cache-Control', 'no-store');
  res.send(layout(pick(lang, ...title), body, { lang, switchHref: switchHref(lang, getPath) }));
}
