/**
 * GET /ui/prescreen — potential candidates from routine labs, per trial and
 * site (README "Pre-screening and alerts"): age, the qualifying values with
 * their dates and source references, and the criteria the investigator must
 * still check. GET /ui/prescreen/:id — one candidate with the actions
 * Dismiss (reason, note) and Start screening (optional subject number), both
 * through /api/prescreen/:id/* (app.js `data-action="api"`), so scope, audit
 * and the access log are enforced in one place.
 *
 * Minimum necessary: the pages show the pre-screen id, age and lab values,
 * never a name, birth date or MRN; every view is written to the pre-screen
 * access log by the store read (HIPAA 45 CFR 164.312(b) audit controls).
 */
import type { Request, Response } from 'express';
import { AppError } from '../../errors';
import { can, type Principal } from '../../http/scope';
import { html, type Html } from '../html';
import type { UiDeps } from '../deps';
import { badge, localTime, q, shell, subjectHref } from '../layout';
import { PRESCREEN_STATUSES, prescreenReader, type CandidateView, type EvidenceItem } from './prescreen-data';

const STATUS_LABEL: Readonly<Record<string, string>> = { potential: 'Potential candidate', withdrawn: 'Withdrawn', dismissed: 'Dismissed', screening: 'Screening' };

/** Why an investigator dismisses a potential candidate (the reason is audited; the note says more). */
export const DISMISS_REASONS: readonly [code: string, label: string][] = [
  ['not-eligible-on-review', 'Not eligible on chart review'],
  ['declined', 'Patient declined'],
  ['not-approachable', 'Not approachable (clinical state, transfer, discharge)'],
  ['already-screened', 'Already screened or in another trial'],
  ['other', 'Other (say why in the note)'],
];

const candidateHref = (id: string) => `/ui/prescreen/${encodeURIComponent(id)}`;

/** "TBIL 90 umol/L on 2024-05-01 (Observation/x)" per value; age criteria show the birth-date reference only. */
function evidenceList(e: EvidenceItem): Html {
  if (!e.values.length) return html`<span class="muted">${e.refs.length ? `from ${e.refs.join(', ')}` : e.reason}</span>`;
  return html`<ul class="flags">${e.values.map((v) => html`<li><strong>${v.item} ${String(v.value)}${v.unit ? ` ${v.unit}` : ''}</strong>
    on <time datetime="${v.effective}">${v.localDate ?? v.effective.slice(0, 10)}</time> <span class="src" title="${v.ref}">${v.ref}</span></li>`)}</ul>`;
}

/** The lab-computable criteria that made the patient a candidate (or, once withdrawn, their latest verdicts). */
function evidenceTable(c: CandidateView): Html {
  return html`<table class="list" data-testid="evidence"><caption>Lab-computable criteria (screening date ${c.screeningDate ?? 'today'})</caption>
    <thead><tr><th scope="col">Criterion</th><th scope="col">Verdict</th><th scope="col">Qualifying values (site date) and source</th><th scope="col">Reason</th></tr></thead>
    <tbody>${c.evidence.map((e) => html`<tr data-testid="evidence-${e.criterion}"><th scope="row">${e.criterion} <span class="muted">(${e.type})</span><div class="criterion-text">${e.text}</div></th>
      <td>${badge(e.verdict)}</td><td>${evidenceList(e)}</td><td class="detail">${e.reason}</td></tr>`)}</tbody></table>`;
}

function toCheckList(c: CandidateView): Html {
  if (!c.toCheck.length) return html`<p class="muted">Nothing left to check.</p>`;
  return html`<ol class="to-check" data-testid="to-check">${c.toCheck.map((t) => html`<li data-testid="to-check-${t.id}"><strong>${t.id}</strong> <span class="muted">(${t.type})</span> ${t.text}</li>`)}</ol>`;
}

/** Dismiss and Start screening: shown to whoever may act on the candidate's trial and site, while it is potential. */
function actions(c: CandidateView, p: Principal): Html {
  if (c.status !== 'potential' || !can(p, 'prescreen', c.trial, c.site)) return html``;
  const url = (what: string) => `/api/prescreen/${encodeURIComponent(c.id)}/${what}`;
  return html`<section aria-labelledby="act-h" class="card"><h2 id="act-h">Actions</h2>
    <div class="grid-2">
    <form data-action="api" data-method="POST" data-url="${url('start-screening')}" data-done="Screening started." class="stack" data-testid="start-screening-form">
      <h3>Start screening</h3>
      <p class="muted">Creates the ResearchSubject (status candidate, period start today) for ${c.trial}; the patient's parked labs then follow the normal path.</p>
      <label for="ps-subject">Subject number (optional; the site's numbering)</label><input id="ps-subject" name="subject" maxlength="64" pattern="[A-Za-z0-9._-]{1,64}">
      <button type="submit">Start screening ${c.id}</button></form>
    <form data-action="api" data-method="POST" data-url="${url('dismiss')}" data-done="Dismissed." class="stack" data-testid="dismiss-form">
      <h3>Dismiss</h3>
      <label for="ps-reason">Reason</label><select id="ps-reason" name="reason" required><option value="">Choose a reason</option>
      ${DISMISS_REASONS.map(([v, l]) => html`<option value="${v}">${l}</option>`)}</select>
      <label for="ps-note">Note</label><textarea id="ps-note" name="note" maxlength="2000" rows="2"></textarea>
      <button type="submit">Dismiss ${c.id}</button></form>
    </div></section>`;
}

function facts(c: CandidateView, tz: string): Html {
  const subject = c.screeningSubject
    ? html`<a href="${subjectHref({ trial: c.trial, site: c.site, subject: c.screeningSubject })}" data-testid="screening-subject">${c.screeningSubject}</a>`
    : html`<span class="muted">—</span>`;
  const row = (k: string, v: Html | string) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`;
  return html`<dl class="facts" data-testid="candidate-facts">
    ${row('Pre-screen id', c.id)}${row('Trial', c.trial)}${row('Site', c.site)}
    ${row('Status', html`<span data-testid="candidate-status" data-status="${c.status}">${badge(c.status === 'potential' ? 'candidate' : c.status, STATUS_LABEL[c.status] ?? c.status)}</span>`)}
    ${row('Age (years)', c.ageYears === null ? html`<span class="muted">unknown</span>` : String(c.ageYears))}
    ${row('First qualified (site time)', localTime(c.firstQualifiedAt, tz))}${row('Updated (site time)', localTime(c.updatedAt, tz))}
    ${c.reason ? row(c.status === 'withdrawn' ? 'Withdrawn because' : 'Reason', c.reason) : ''}
    ${c.note ? row('Note', c.note) : ''}${c.status === 'screening' ? row('Trial subject', subject) : ''}</dl>`;
}

/** One row of the list: enough to decide whether to open it. */
function listRow(c: CandidateView, tz: string): Html {
  const met = c.evidence.filter((e) => e.verdict === 'met' && e.values.length);
  return html`<tr data-testid="candidate-row-${c.id}" data-candidate="${c.id}">
    <th scope="row"><a href="${candidateHref(c.id)}">${c.id}</a></th><td>${c.ageYears ?? '—'}</td>
    <td>${met.length ? html`<ul class="flags">${met.flatMap((e) => e.values.map((v) => html`<li>${e.criterion}: ${v.item} ${String(v.value)}${v.unit ? ` ${v.unit}` : ''} <time datetime="${v.effective}">${v.localDate ?? v.effective.slice(0, 10)}</time></li>`))}</ul>` : html`<span class="muted">—</span>`}</td>
    <td>${c.toCheck.length} <span class="muted">(${c.toCheck.map((t) => t.id).join(', ')})</span></td>
    <td>${badge(c.status === 'potential' ? 'candidate' : c.status, STATUS_LABEL[c.status] ?? c.status)}</td>
    <td>${localTime(c.firstQualifiedAt, tz)}</td></tr>`;
}

export function prescreenListPage(deps: UiDeps) {
  const reader = prescreenReader(deps);
  return async (req: Request, res: Response): Promise<void> => {
    const p = req.principal!;
    const s = q(req, 'status');
    const status = s && (PRESCREEN_STATUSES as readonly string[]).includes(s) ? s : s === 'all' ? undefined : 'potential';
    const f = { trial: q(req, 'trial'), site: q(req, 'site'), status };
    const { candidates, trials, sites } = await reader.list(p, f, req);
    const select = (name: string, label: string, options: readonly [string, string][], current: string | undefined, all = true) => html`<div class="field">
      <label for="f-${name}">${label}</label><select id="f-${name}" name="${name}">${all ? html`<option value="">All</option>` : ''}
      ${options.map(([v, l]) => html`<option value="${v}"${v === current ? html` selected` : ''}>${l}</option>`)}</select></div>`;
    const filters = html`<form method="get" action="/ui/prescreen" class="filters" role="search" aria-label="Filter potential candidates">
      ${select('trial', 'Trial', trials.map((t) => [t, t]), f.trial)}${select('site', 'Site', sites.map((x) => [x, x]), f.site)}
      ${select('status', 'Status', [...PRESCREEN_STATUSES.map((x): [string, string] => [x, STATUS_LABEL[x]]), ['all', 'Any status']], status ?? 'all', false)}
      <button type="submit">Apply</button></form>`;
    // One table per trial and site: an investigator works through the candidates of one study at one hospital.
    const groups = new Map<string, CandidateView[]>();
    for (const c of candidates) groups.set(`${c.trial}\u0000${c.site}`, [...(groups.get(`${c.trial}\u0000${c.site}`) ?? []), c]);
    const tables = [...groups].map(([key, cs]) => {
      const [trial, site] = key.split('\u0000');
      const id = `g-${trial}-${site}`.replace(/[^A-Za-z0-9-]/g, '-');
      return html`<section aria-labelledby="${id}" data-testid="candidates-${trial}-${site}"><h2 id="${id}">${trial} · ${site}</h2>
        <table class="list"><caption>${STATUS_LABEL[status ?? ''] ?? 'Pre-screened'} (${cs.length})</caption><thead><tr>
        <th scope="col">Pre-screen id</th><th scope="col">Age</th><th scope="col">Qualifying values (site date)</th><th scope="col">Criteria to check</th><th scope="col">Status</th><th scope="col">First qualified (site time)</th>
        </tr></thead><tbody>${cs.map((c) => listRow(c, deps.timeZoneOf(c.site)))}</tbody></table></section>`;
    });
    const body = html`<p class="muted">Patients who are not enrolled and whose routine labs meet every lab-computable criterion of a trial the site pre-screens. Open one to see the evidence and what to check.</p>
      ${filters}<div data-testid="prescreen-list">${tables.length ? tables : html`<p data-testid="no-candidates">No ${status ? (STATUS_LABEL[status] ?? status).toLowerCase() + 's' : 'pre-screened patients'} in your scope.</p>`}</div>`;
    res.type('html').send(shell(req, 'Potential candidates', '/ui/prescreen', body));
  };
}

export function prescreenPage(deps: UiDeps) {
  const reader = prescreenReader(deps);
  return async (req: Request, res: Response): Promise<void> => {
    const p = req.principal!;
    const c = await reader.get(p, req.params.id, req);
    if (!c) throw new AppError('not-found', `pre-screen ${req.params.id} not found`);
    const tz = deps.timeZoneOf(c.site);
    const body = html`<div id="prescreen" data-id="${c.id}" data-testid="candidate">
      <p><a href="/ui/prescreen">Back to the potential candidates</a></p>
      <p class="action-msg" role="status" data-testid="action-msg"></p>
      ${facts(c, tz)}
      ${actions(c, p)}
      <section aria-labelledby="ev-h"><h2 id="ev-h">Evidence</h2>${evidenceTable(c)}</section>
      <section aria-labelledby="tc-h"><h2 id="tc-h">Criteria still to check (${c.toCheck.length})</h2>${toCheckList(c)}</section></div>`;
    res.type('html').send(shell(req, `Pre-screen ${c.id}`, '/ui/prescreen', body));
  };
}
