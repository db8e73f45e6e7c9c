/**
 * GET /ui/review — the review queue of data managers: open review items (a
 * value that could not be mapped) with reason, detail, subject and source
 * resource, resolved by hand or dismissed through /api/review-items/:id/*;
 * and values pending re-review (a newer source version of a reviewed value).
 */
import type { Request, Response } from 'express';
import { assertCan, can, scopeSql } from '../../http/scope';
import { reviewQueue } from '../../store/views';
import { html } from '../html';
import type { UiDeps } from '../deps';
import { displayQuantity } from '../format';
import { idClass, localTime, ref, shell, subjectHref, trialSite } from '../layout';

export function reviewPage(deps: UiDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const p = assertCan(req.principal, 'review');
    // Only what this user may review: a monitor grant elsewhere adds nothing here.
    const { items, pending } = await reviewQueue(deps.db, (params, alias) => scopeSql(p, params, alias, 'review'));
    const itemOptions = (trial: string) => {
      const seen = new Set<string>();
      return deps.mappings.rulesFor(trial).filter((r) => !seen.has(r.item) && seen.add(r.item))
        .map((r) => html`<option value="${r.form}.${r.item}" data-unit="${r.unit ?? ''}">${r.form}.${r.item}${r.unit ? ` (${r.unit})` : ''}</option>`);
    };
    const rows = items.map((i) => {
      const id = `ri-${i.id}`;
      const may = can(p, 'review', i.trial, i.site);
      const subject = i.subject ? html`<a href="${subjectHref(i)}">${i.subject}</a>` : html`<span class="muted">no subject</span>`;
      return html`<tr data-testid="review-item-${i.id}" data-review-item="${i.id}">
        <th scope="row">${i.id}</th><td class="${idClass(i.reason)}">${i.reason}</td><td class="detail">${i.detail}</td><td>${trialSite(i.trial, i.site)}</td><td class="${idClass(i.subject)}">${subject}</td>
        <td>${ref(i.resource)}</td><td>${localTime(i.createdAt, deps.timeZoneOf(i.site))}</td>
        <td class="actions">${may ? html`<details><summary>Resolve by hand</summary>
          <form data-action="resolve" data-item-id="${i.id}" class="stack">
            <label for="${id}-item">CRF item</label><select id="${id}-item" name="item" required><option value="">Choose an item</option>${i.trial ? itemOptions(i.trial) : ''}</select>
            <label for="${id}-value">Value</label><input id="${id}-value" name="value" required maxlength="200">
            <label for="${id}-unit">Unit</label><input id="${id}-unit" name="unit" maxlength="64">
            <label for="${id}-effective">Effective (optional, FHIR dateTime)</label><input id="${id}-effective" name="effective" maxlength="40">
            <label for="${id}-reason">Reason</label><select id="${id}-reason" name="reason" required data-reasons="correct"><option value="">Choose a reason</option></select>
            <label for="${id}-note">Note</label><input id="${id}-note" name="note" maxlength="2000">
            <button type="submit">Resolve item ${i.id}</button></form></details>
          <details><summary>Dismiss</summary>
          <form data-action="dismiss" data-item-id="${i.id}" class="stack">
            <label for="${id}-dreason">Reason</label><select id="${id}-dreason" name="reason" required data-reasons="dismiss"><option value="">Choose a reason</option></select>
            <label for="${id}-dnote">Note</label><input id="${id}-dnote" name="note" maxlength="2000">
            <button type="submit">Dismiss item ${i.id}</button></form></details>
          <p class="form-msg" id="${id}-msg" role="status"></p>` : ''}</td></tr>`;
    });
    const pendingRows = pending.map((v) => html`<tr data-testid="pending-value-${v.id}"><th scope="row"><a href="${subjectHref(v, `?value=${v.id}`)}">${v.subject}</a></th>
      <td class="${idClass(v.trial)}">${v.trial}</td><td class="${idClass(v.site)}">${v.site}</td><td class="nw">${v.form}.${v.item}</td><td class="nw">${displayQuantity(v.value, v.unit)}</td><td>${localTime(v.updatedAt, deps.timeZoneOf(v.site))}</td></tr>`);
    const body = html`<section aria-labelledby="items-h"><h2 id="items-h">Open review items</h2>
      <table class="list" data-testid="review-items"><thead><tr><th scope="col">Item</th><th scope="col">Reason</th><th scope="col">Detail</th><th scope="col">Trial and site</th>
        <th scope="col">Subject</th><th scope="col">Source resource</th><th scope="col">Raised (site time)</th><th scope="col">Actions</th></tr></thead>
      <tbody>${rows.length ? rows : html`<tr><td colspan="8">No open review items.</td></tr>`}</tbody></table></section>
      <section aria-labelledby="pending-h"><h2 id="pending-h">Values pending re-review</h2>
      <table class="list" data-testid="pending-values"><thead><tr><th scope="col">Subject</th><th scope="col">Trial</th><th scope="col">Site</th><th scope="col">Item</th><th scope="col">New value</th><th scope="col">Arrived (site time)</th></tr></thead>
      <tbody>${pendingRows.length ? pendingRows : html`<tr><td colspan="6">No values pending re-review.</td></tr>`}</tbody></table></section>`;
    res.type('html').send(shell(req, 'Review queue', '/ui/review', body));
  };
}
