/**
 * GET /ui/notifications — the reader's own alert preferences (README
 * "Pre-screening and alerts"): the email address, which flag codes to be
 * told about, and immediate or daily digest. Saved with PUT
 * /api/me/notifications (app.js `data-action="api"`). Only flags of trials
 * and sites in the reader's scope are ever sent, whatever is chosen here.
 */
import type { Request, Response } from 'express';
import type { FlagCode } from '../../protocol/report/types';
import { preferencesOf } from '../../store/notify';
import { html } from '../html';
import type { UiDeps } from '../deps';
import { shell } from '../layout';

/** Every flag code a person can be alerted to, in words (a Record: a new FlagCode must be named here). */
export const ALERT_CODES: Readonly<Record<FlagCode | 'potential-candidate' | 'signature-void', string>> = {
  'potential-candidate': 'Potential candidate from routine labs (pre-screening)',
  eligible: 'Subject eligible on every computable criterion',
  ineligible: 'Subject ineligible',
  'eligibility-needs-review': 'Eligibility needs an answer or review',
  'visit-out-of-window': 'Visit out of window',
  'visit-missed': 'Visit missed',
  'dose-missed': 'Dose missed',
  'dose-partial': 'Dose partly given',
  'dose-deviation': 'Dose deviation',
  'dose-interval-short': 'Doses too close together',
  'dose-unscheduled': 'Unscheduled dose',
  'dose-needs-review': 'Dose needs review',
  'value-needs-review': 'Value needs review',
  'signature-void': 'Signature voided by a change',
};

const MODES: readonly [value: string, label: string][] = [
  ['default', 'Default: at once for potential candidates and eligible subjects, the rest in the daily digest'],
  ['immediate', 'Everything at once'],
  ['digest', 'Everything in the daily digest'],
];

export function notificationsPage(deps: UiDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const p = req.principal!;
    const pref = (await preferencesOf(deps.db, [p.id])).get(p.id);
    const configured = deps.config.users.find((u) => u.id === p.id)?.email ?? null;
    const email = pref?.email ?? configured ?? '';
    const chosen = (code: string) => !pref || pref.codes.includes(code);
    const mode = pref?.mode ?? 'default';
    const body = html`<p class="muted">Alerts carry ids only (flag code, trial, site, subject number or pre-screen id, a link here): no names, values or record numbers.
      You are alerted only to flags of the trials and sites you may act on.</p>
      <p class="action-msg" role="status" data-testid="action-msg"></p>
      <form data-action="api" data-method="PUT" data-url="/api/me/notifications" data-lists="codes" data-done="Preferences saved." class="card" data-testid="notification-form">
        <div class="stack"><label for="n-email">Email address</label>
        <input id="n-email" name="email" type="email" maxlength="254" autocomplete="email" value="${email}">
        ${configured && !pref?.email ? html`<p class="muted">From your account configuration.</p>` : ''}</div>
        <div class="grid-2"><fieldset><legend>Flags to be alerted to</legend>
        <div class="field check"><input type="checkbox" id="n-code-all" name="codes" value="*"${!pref || pref.codes.includes('*') ? html` checked` : ''}>
          <label for="n-code-all">Every flag code, including codes added later</label></div>
        ${Object.entries(ALERT_CODES).map(([code, label]) => html`<div class="field check"><input type="checkbox" id="n-code-${code}" name="codes" value="${code}"${chosen(code) ? html` checked` : ''}>
          <label for="n-code-${code}">${label} <span class="muted">(${code})</span></label></div>`)}</fieldset>
        <fieldset><legend>When</legend>
        ${MODES.map(([v, l]) => html`<div class="field check"><input type="radio" id="n-mode-${v}" name="mode" value="${v}"${v === mode ? html` checked` : ''}><label for="n-mode-${v}">${l}</label></div>`)}</fieldset></div>
        <p><button type="submit">Save preferences</button></p>
      </form>`;
    res.type('html').send(shell(req, 'Notifications', '/ui/notifications', body));
  };
}
