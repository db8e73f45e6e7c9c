/**
 * GET /ui/subjects/:trial/:site/:subject — the subject's CRF as a visit × item
 * grid (visits with target date, window and status; dose and score rows), each
 * value with its review status; a value opens the panel (filled by app.js from
 * GET /api/crf-values/:id) with provenance, history and review actions.
 * Signature status per visit, and the actions the reader's role allows.
 */
import type { Request, Response } from 'express';
import { AppError } from '../../errors';
import { assertCan, can } from '../../http/scope';
import { siteLocalTime } from '../../protocol/schedule';
import { flagInbox, latestSignatures, subjectView, type SignatureView, type SubjectValue } from '../../store/views';
import { html, type Html } from '../html';
import type { UiDeps } from '../deps';
import { displayNumber, displayQuantity, displayUnit } from '../format';
import { badge, localTime, scopeOfReader, shell, subjectHref } from '../layout';

/** Labels of the review statuses (the badge says it in words, not only in colour: WCAG 1.4.1). */
const STATUS_LABEL: Record<string, string> = {
  auto: 'auto', accepted: 'accepted', corrected: 'corrected', rejected: 'rejected', superseded: 'superseded', 'pending-re-review': 'pending re-review',
};
const VISIT_STATUS_LABEL: Record<string, string> = { 'in-window': 'in window', 'out-of-window': 'out of window', missed: 'missed', upcoming: 'upcoming' };

export function valueStatus(v: SubjectValue): string {
  return v.pendingReReview ? 'pending-re-review' : v.status;
}

/**
 * One CRF value as a button that opens the value panel. Kept small (a subject
 * with years of weekly labs has thousands): the visible text is the accessible
 * name, and the grid's row and column headers say which item and visit it is.
 */
export function valueButton(v: SubjectValue): Html {
  const st = valueStatus(v);
  return html`<button class="cell-value" data-value-id="${v.id}">${displayQuantity(v.value, v.unit)} ${badge(st, STATUS_LABEL[st] ?? st)}</button>`;
}

const DAY_MS = 86_400_000;
const days = (from: string, to: string): number => Math.round((Date.parse(to) - Date.parse(from)) / DAY_MS);

/** A visit window as an offset from its target date: "±2 d", "−7 d" (before only), or "−1/+5 d" when uneven. */
export function windowText(target: string, start: string, end: string): string {
  const before = days(start, target);
  const after = days(target, end);
  if (before === after) return before === 0 ? 'on the day' : `±${after} d`;
  if (after === 0) return `−${before} d`;
  if (before === 0) return `+${after} d`;
  return `−${before}/+${after} d`;
}

/** A reference in a narrow cell: its id on one line (cut with an ellipsis when long), the whole reference as the tooltip. */
function shortRef(reference: string): Html {
  return html`<span class="src" title="${reference}">${reference.slice(reference.indexOf('/') + 1)}</span>`;
}

function signatureCell(visit: string, sig: SignatureView | undefined, tz: string, hasValues: boolean): Html {
  const inner = !sig
    ? hasValues ? html`<span class="muted">Not signed</span>` : ''
    : sig.status === 'valid'
      ? html`${badge('valid', 'signed')} ${sig.printedName}, ${localTime(sig.signedAt, tz)}`
      : html`${badge('void', 'void')} Signature voided, sign again`;
  return html`<td data-testid="signature-${visit}" data-status="${sig?.status ?? 'none'}">${inner}</td>`;
}

/** The value panel: filled by app.js; the review forms only for those who may review. */
export function valuePanel(mayReview: boolean): Html {
  const reviewForms = mayReview
    ? html`<div class="panel-actions">
      <form data-action="accept" class="panel-form"><h3>Accept</h3>
        <label for="acc-note">Note (optional)</label><input id="acc-note" name="note" maxlength="2000">
        <button type="submit" data-testid="accept-btn">Accept</button></form>
      <form data-action="correct" class="panel-form"><h3>Correct</h3>
        <label for="cor-value">Corrected value</label><input id="cor-value" name="value" required maxlength="200">
        <label for="cor-unit">Unit</label><input id="cor-unit" name="unit" maxlength="64">
        <label for="cor-reason">Reason</label><select id="cor-reason" name="reason" required data-reasons="correct"><option value="">Choose a reason</option></select>
        <label for="cor-note">Note</label><input id="cor-note" name="note" maxlength="2000">
        <button type="submit" data-testid="correct-btn">Correct</button></form>
      <form data-action="reject" class="panel-form"><h3>Reject</h3>
        <label for="rej-reason">Reason</label><select id="rej-reason" name="reason" required data-reasons="reject"><option value="">Choose a reason</option></select>
        <label for="rej-note">Note</label><input id="rej-note" name="note" maxlength="2000">
        <button type="submit" data-testid="reject-btn">Reject</button></form>
    </div>`
    : '';
  return html`<dialog id="value-panel" data-testid="value-panel" aria-labelledby="value-panel-title">
    <form method="dialog" class="close"><button type="submit" data-close>Close</button></form>
    <h2 id="value-panel-title">CRF value</h2>
    <div id="value-panel-body"><p>Loading…</p></div>
    <p class="panel-msg" id="panel-msg" role="status"></p>
    ${reviewForms}
  </dialog>`;
}

export function subjectPage(deps: UiDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const p = req.principal!;
    const k = { trial: req.params.trial, site: req.params.site, subject: req.params.subject };
    assertCan(p, 'read', k.trial, k.site);
    const view = await subjectView(deps.db, scopeOfReader(p), k);
    if (!view) throw new AppError('not-found', `no subject ${k.subject} in ${k.trial} at ${k.site}`);
    const trial = deps.trials.get(k.trial);
    const tz = deps.timeZoneOf(k.site);
    const [sigs, flags] = await Promise.all([latestSignatures(deps.db, k), flagInbox(deps.db, scopeOfReader(p), { ...k, limit: 200 })]);
    const report = view.report;
    const mayReview = can(p, 'review', k.trial, k.site);
    const maySign = can(p, 'answer', k.trial, k.site);

    // Columns: the visits of the report (with dates), else the protocol's visit codes.
    type Visit = { visit: string; target?: string; windowStart?: string; windowEnd?: string; actual?: string | null; status?: string };
    const visits: Visit[] = report?.visits?.length ? report.visits : (trial?.visits ?? []).map((v) => ({ visit: v.code }));
    // Rows: the trial's CRF items in rule-file order, then any other item that has values.
    const items: { form: string; item: string; unit: string | null }[] = [];
    const seen = new Set<string>();
    for (const r of deps.mappings.rulesFor(k.trial)) if (!seen.has(r.item)) (seen.add(r.item), items.push({ form: r.form, item: r.item, unit: r.unit }));
    for (const v of view.values) if (!seen.has(v.item)) (seen.add(v.item), items.push({ form: v.form, item: v.item, unit: v.unit }));
    const byId = new Map(view.values.map((v) => [v.id, v]));
    const cell = new Map<string, SubjectValue[]>();
    const assigned = new Set<number>();
    for (const a of view.assignments) {
      const v = byId.get(a.crfValueId);
      if (!v) continue;
      assigned.add(v.id);
      const key = `${a.visit}|${a.item}`;
      cell.set(key, [...(cell.get(key) ?? []), v]);
    }

    const head = html`<tr><th scope="col">Item</th>${visits.map((v) => html`<th scope="col" data-testid="visit-${v.visit}"><span class="visit-code">${v.visit}</span> ${v.status ? badge(v.status, VISIT_STATUS_LABEL[v.status] ?? v.status) : ''}${v.target && v.windowStart && v.windowEnd
      ? html`<span class="visit-date" title="window ${v.windowStart} – ${v.windowEnd}">${v.target} ${windowText(v.target, v.windowStart, v.windowEnd)}</span>` : ''}</th>`)}</tr>`;
    // Empty cells stay empty (the stylesheet draws a dash): a long schedule has thousands of them.
    const rows = items.map((i) => html`<tr><th scope="row">${i.form}.${i.item}${i.unit ? html` <span class="muted">(${displayUnit(i.unit)})</span>` : ''}</th>${visits.map((v) => {
      const vs = cell.get(`${v.visit}|${i.item}`);
      return vs ? html`<td data-testid="cell-${v.visit}-${i.item}">${vs.map((x) => valueButton(x))}</td>` : html`<td></td>`;
    })}</tr>`);
    const doses: { visit: string; status: string; dose: number | null; unit: string | null; source: string | null }[] = report?.doses ?? [];
    const doseRow = doses.length
      ? html`<tr class="dose-row"><th scope="row">Study drug</th>${visits.map((v) => {
        const d = doses.find((x) => x.visit === v.visit);
        return html`<td data-testid="dose-${v.visit}">${d ? html`${badge(d.status)}${d.dose !== null ? html` <span class="dose">${displayNumber(d.dose)}${d.unit ? ` ${displayUnit(d.unit)}` : ''}</span>` : ''}${d.source ? shortRef(d.source) : ''}` : ''}</td>`;
      })}</tr>`
      : '';
    const scores: { name: string; visit: string; value: number; class: string | null }[] = report?.scores ?? [];
    const scoreNames = [...new Set(scores.map((s) => s.name))];
    const scoreRows = scoreNames.map((name) => html`<tr class="score-row"><th scope="row">${name}</th>${visits.map((v) => {
      const s = scores.find((x) => x.name === name && x.visit === v.visit);
      return s ? html`<td data-testid="score-${v.visit}-${name}">${s.value}${s.class ? html` <span class="muted">${s.class}</span>` : ''}</td>` : html`<td></td>`;
    })}</tr>`);
    // What each visit holds: its values, and whether any still waits for review (accept) or may be signed.
    const visitValues = new Map<string, SubjectValue[]>();
    for (const [key, vs] of cell) {
      const visit = key.slice(0, key.indexOf('|'));
      visitValues.set(visit, [...(visitValues.get(visit) ?? []), ...vs]);
    }
    const sigRow = html`<tr class="sig-row"><th scope="row">Signature</th>${visits.map((v) => signatureCell(v.visit, sigs.get(v.visit), tz, visitValues.has(v.visit)))}</tr>`;
    // Accept and Sign only where there is something to accept or sign: not on missed or upcoming visits without values.
    const actionRow = mayReview || maySign
      ? html`<tr class="action-row"><th scope="row">Actions</th>${visits.map((v) => {
        const vs = visitValues.get(v.visit) ?? [];
        const accept = mayReview && vs.some((x) => x.status === 'auto');
        const sign = maySign && vs.length > 0 && sigs.get(v.visit)?.status !== 'valid';
        return accept || sign ? html`<td>${accept ? html`<button type="button" data-action="accept-visit" data-visit="${v.visit}" data-testid="accept-visit-${v.visit}">Accept visit ${v.visit}</button>` : ''}${sign ? html`<button type="button" data-action="sign-visit" data-visit="${v.visit}" data-testid="sign-visit-${v.visit}">Sign visit ${v.visit}</button>` : ''}</td>` : html`<td></td>`;
      })}</tr>`
      : '';
    // Values outside the grid can be thousands (years of weekly labs): one group per item, and rows
    // without repeated markup (the item is the group's header, the site's UTC offset the column's).
    const others = view.values.filter((v) => !assigned.has(v.id));
    const otherGroups = new Map<string, SubjectValue[]>();
    for (const v of others) otherGroups.set(`${v.form}.${v.item}`, [...(otherGroups.get(`${v.form}.${v.item}`) ?? []), v]);
    const offset = others.length ? /[+-]\d{2}:\d{2}$|Z$/.exec(siteLocalTime(others[0].effective, tz).localDateTime ?? '')?.[0] ?? '' : '';
    const siteClock = (instant: string) => {
      const t = siteLocalTime(instant, tz).localDateTime;
      return t ? `${t.slice(0, 10)} ${t.slice(11, 16)}${t.slice(19) === offset ? '' : ` (UTC${t.slice(19)})`}` : instant;
    };
    const otherTable = others.length
      ? html`<section aria-labelledby="others-h"><h2 id="others-h">Values not counted for a visit (${others.length})</h2>
        <p class="muted">Unscheduled, outside every window, not selected, superseded or rejected values.</p>
        <table class="list others"><thead><tr><th scope="col">Value</th><th scope="col">Effective (site time${offset ? `, UTC${offset === 'Z' ? '' : offset}` : ''})</th><th scope="col">Source</th></tr></thead>
        ${[...otherGroups].map(([item, vs]) => html`<tbody><tr><th scope="rowgroup" colspan="3">${item} <span class="muted">(${vs.length})</span></th></tr>
        ${vs.map((v) => html`<tr><td>${valueButton(v)}</td><td>${siteClock(v.effective)}</td><td>${v.source}</td></tr>`)}</tbody>`)}
        </table></section>`
      : '';
    const flagList = flags.length
      ? html`<ul class="flags">${flags.map((f) => html`<li data-testid="subject-flag-${f.id}">${badge(f.severity)} <strong>${f.code}</strong>${f.visit ? html` (${f.visit})` : ''}: ${f.message}</li>`)}</ul>`
      : html`<p>No open flags.</p>`;
    const wholeSig = sigs.get('');
    const body = html`<div id="subject" data-trial="${k.trial}" data-site="${k.site}" data-subject="${k.subject}" data-live="subject">
      <p class="live-notice" data-testid="live-notice" role="status"></p>
      <dl class="facts">
        <div><dt>Trial</dt><dd>${k.trial}</dd></div><div><dt>Site</dt><dd>${k.site} <span class="muted">(${tz})</span></dd></div>
        <div><dt>Arm</dt><dd>${view.enrollment.arm ?? '—'}</dd></div><div><dt>Enrollment status</dt><dd>${view.enrollment.status}</dd></div>
        <div><dt>Day 0</dt><dd>${report?.day0 ?? '—'}</dd></div>
        <div><dt>Eligibility</dt><dd>${report ? badge(report.eligibility.overall) : html`<span class="muted">not evaluated</span>`}</dd></div>
        <div><dt>Evaluated</dt><dd>${localTime(view.evaluatedAt, tz)}</dd></div>
        ${wholeSig ? html`<div><dt>Whole CRF</dt><dd data-testid="signature-crf">${wholeSig.status === 'valid' ? 'signed' : 'signature voided, sign again'}</dd></div>` : ''}
      </dl>
      <p class="links"><a href="${subjectHref(k, '/eligibility')}">Eligibility checklist</a> · <a href="${subjectHref(k, '/audit')}">Audit trail</a></p>
      <section aria-labelledby="grid-h"><h2 id="grid-h">Visits and CRF values</h2>
        <div class="scroll" tabindex="0" role="region" aria-labelledby="grid-cap">
        <table class="grid" data-testid="visit-grid"><caption id="grid-cap">CRF items by visit (scrolls sideways)</caption>
          <thead>${head}</thead><tbody>${rows}${doseRow}${scoreRows}${sigRow}${actionRow}</tbody></table></div>
        <p class="action-msg" id="action-msg" role="status"></p>
      </section>
      ${otherTable}
      <section aria-labelledby="flags-h"><h2 id="flags-h">Open flags</h2>${flagList}</section>
    </div>${valuePanel(mayReview)}`;
    res.type('html').send(shell(req, `Subject ${k.subject}`, '/ui/subjects', body));
  };
}
