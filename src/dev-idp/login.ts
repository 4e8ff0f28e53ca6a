/**
 * The stand-in's login page: one text input `pid` taking any synthetic fødselsnummer or D-number
 * with valid check digits, and the level of assurance the persona logs in with (access-spec §2,
 * stand-in item 4: acr settable per test persona). The person's pid is the account id.
 * The HelseID flavour asks for an HPR number (`hpr`, the account id) instead and logs in at `Level4`.
 */
import express, { type Request, type Response } from 'express';
import type Provider from 'oidc-provider';
import { html, layout } from '../auth/pages/html.js';
import { hasValidCheckDigits, parseIdNumber } from '../fhir/validation/fnr.js';
import { ACR_LEVELS, HELSEID_ACR, type Flavour } from './provider.js';

/** HPR numbers are 7–9 digits. */
const HPR = /^[0-9]{7,9}$/;

export function loginRouter(provider: Provider, flavour: Flavour = 'idporten'): express.Router {
  const router = express.Router();
  if (flavour === 'helseid') return helseidLogin(router, provider);

  router.get('/interaction/:uid', async (req, res) => {
    const details = await provider.interactionDetails(req, res).catch(() => null);
    if (!details) return sendPage(res, 400, 'Innloggingen er utløpt', html`<p class="error">Innloggingen er utløpt eller ukjent. <span lang="en" class="en">The login has expired.</span></p>`);
    if (details.prompt.name !== 'login') {
      // Consent is granted by loadExistingGrant; anything else resumes the authorization.
      return provider.interactionFinished(req, res, {}, { mergeWithLastSubmission: true });
    }
    const requested = String(details.params.acr_values ?? '').split(' ').find((a) => (ACR_LEVELS as readonly string[]).includes(a));
    sendPage(res, 200, 'Logg inn – ID-porten (test)', loginForm(details.uid, requested ?? 'idporten-loa-high'));
  });

  router.post('/interaction/:uid/login', express.urlencoded({ extended: false, limit: '10kb' }), async (req: Request, res: Response) => {
    const body = req.body as Record<string, unknown>;
    const pid = typeof body.pid === 'string' ? body.pid.trim() : '';
    const acr = typeof body.acr === 'string' && (ACR_LEVELS as readonly string[]).includes(body.acr) ? body.acr : 'idporten-loa-high';
    if (!hasValidCheckDigits(pid) || !parseIdNumber(pid)) {
      return sendPage(res, 400, 'Logg inn – ID-porten (test)', loginForm(String(req.params.uid), acr, 'Ugyldig fødselsnummer eller D-nummer (11 siffer med gyldige kontrollsifre).'));
    }
    const details = await provider.interactionDetails(req, res).catch(() => null);
    if (!details || details.uid !== req.params.uid) {
      return sendPage(res, 400, 'Innloggingen er utløpt', html`<p class="error">Innloggingen er utløpt. <span lang="en" class="en">The login has expired.</span></p>`);
    }
    await provider.interactionFinished(req, res, { login: { accountId: pid, acr, amr: ['TestID'], remember: false } }, { mergeWithLastSubmission: false });
  });

  return router;
}

function loginForm(uid: string, acr: string, error?: string) {
  return html`
<h1>ID-porten <span lang="en" class="en">(test stand-in)</span></h1>
<p>Logg inn med et syntetisk fødselsnummer. <span lang="en" class="en">Log in with a synthetic national identity number.</span></p>
${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
  <label for="pid">Fødselsnummer eller D-nummer <span lang="en" class="en">(national identity number)</span></label>
  <input type="text" id="pid" name="pid" inputmode="numeric" autocomplete="off" pattern="[0-9]{11}" required>
  <fieldset>
    <legend>Sikkerhetsnivå <span lang="en" class="en">(level of assurance)</span></legend>
    <label><input type="radio" name="acr" value="idporten-loa-high" ${acr === 'idporten-loa-high' ? 'checked' : ''}> Høyt (BankID) <span lang="en" class="en">high</span></label>
    <label><input type="radio" name="acr" value="idporten-loa-substantial" ${acr === 'idporten-loa-substantial' ? 'checked' : ''}> Betydelig (MinID) <span lang="en" class="en">substantial</span></label>
  </fieldset>
  <div class="buttons"><button class="primary" type="submit">Logg inn <span lang="en">/ Log in</span></button></div>
</form>`;
}

function helseidLogin(router: express.Router, provider: Provider): express.Router {
  const title = 'Logg inn – HelseID (test)';
  const expired = () => html`<p class="error">Innloggingen er utløpt eller ukjent. <span lang="en" class="en">The login has expired.</span></p>`;
  router.get('/interaction/:uid', async (req, res) => {
    const details = await provider.interactionDetails(req, res).catch(() => null);
    if (!details) return sendPage(res, 400, 'Innloggingen er utløpt', expired());
    if (details.prompt.name !== 'login') return provider.interactionFinished(req, res, {}, { mergeWithLastSubmission: true });
    sendPage(res, 200, title, hprForm(details.uid));
  });
  router.post('/interaction/:uid/login', express.urlencoded({ extended: false, limit: '10kb' }), async (req: Request, res: Response) => {
    const body = req.body as Record<string, unknown>;
    const hpr = typeof body.hpr === 'string' ? body.hpr.trim() : '';
    if (!HPR.test(hpr)) return sendPage(res, 400, title, hprForm(String(req.params.uid), 'Ugyldig HPR-nummer (7–9 siffer).'));
    const details = await provider.interactionDetails(req, res).catch(() => null);
    if (!details || details.uid !== req.params.uid) return sendPage(res, 400, 'Innloggingen er utløpt', expired());
    await provider.interactionFinished(req, res, { login: { accountId: hpr, acr: HELSEID_ACR, amr: ['TestID'], remember: false } }, { mergeWithLastSubmission: false });
  });
  return router;
}

function hprForm(uid: string, error?: string) {
  return html`
<h1>HelseID <span lang="en" class="en">(test stand-in)</span></h1>
<p>Logg inn som helsepersonell med HPR-nummer. <span lang="en" class="en">Log in as health personnel with an HPR number.</span></p>
${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
  <label for="hpr">HPR-nummer <span lang="en" class="en">(Norwegian health personnel number)</span></label>
  <input type="text" id="hpr" name="hpr" inputmode="numeric" autocomplete="off" pattern="[0-9]{7,9}" required>
  <div class="buttons"><button class="primary" type="submit">Logg inn <span lang="en">/ Log in</span></button></div>
</form>`;
}

function sendPage(res: Response, status: number, title: string, body: ReturnType<typeof html>): void {
  res.status(status).type('html').setHeader('Cache-Control', 'no-store');
  res.send(layout(title, body));
}
