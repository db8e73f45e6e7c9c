/**
 * GET /ui/flags — the flag inbox: open flags in scope by severity and age,
 * filtered by trial, site and code; acknowledge or resolve with a note through
 * /api/flags/:id/*. New flags arrive live (app.js, /ui/events).
 */
import type { Request, Response } from 'express';
import { can } from '../../http/scope';
import { flagInbox, openFlagCodes, subjectFacets, type InboxFlag } from '../../store/views';
import { html, type Html } from '../html';
import type { UiDeps } from '../deps';
import { badge, idClass, localTime, q, scopeOfReader, shell, subjectHref, trialSite } from '../layout';

/** Open flags shown at most on one page. */
export const FLAG_INBOX_LIMIT = 500;

const DAY_MS = 86_400_000;

/** How long a flag has been open, in words. */
export function age(raisedAt: string, now = Date.now()): string {
  const ms = Math.max(0, now - Date.parse(raisedAt));
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min`;
  if (ms < DAY_MS) return `${Math.floor(ms / 3_600_000)} h`;
  return `${Math.floor(ms / DAY_MS)} d`;
}

/** One inbox row (also what app.js inserts for a live flag: it re-fetches this page and takes the row). */
export function flagRow(f: InboxFlag, mayAct: boolean, tz: string): Html {
  const id = `fl-${f.id}`;
  return html`<tr data-testid="flag-row-${f.id}" data-flag-id="${f.id}">
    <td>${badge(f.severity)}</td><th scope="row" class="${idClass(f.subject)}"><a href="${subjectHref(f)}">${f.subject}</a></th><td>${trialSite(f.trial, f.site)}</td>
    <td class="${idClass(f.code)}">${f.code}</td><td class="nw">${f.visit ?? f.criterion ?? ''}</td><td class="detail">${f.message}</td>
    <td>${localTime(f.raisedAt, tz)} <span class="muted nw">(${age(f.raisedAt)} ago)</span></td>
    <td data-testid="flag-ack-${f.id}">${f.acknowledgedAt ? html`acknowledged ${f.acknowledgedBy ? html`by ${f.acknowledgedBy}` : ''}` : html`<span class="muted">new</span>`}</td>
    <td class="actions">${mayAct ? html`${f.acknowledgedAt ? '' : html`<form data-action="ack-flag" data-flag-id="${f.id}" class="inline"><button type="submit">Acknowledge<span class="sr-only"> flag ${f.id}</span></button></form>`}
      <details><summary>Resolve</summary><form data-action="resolve-flag" data-flag-id="${f.id}" class="stack">
        <label for="${id}-note">Resolution note</label><textarea id="${id}-note" name="note" required maxlength="2000" rows="2"></textarea>
        <button type="submit">Resolve<span class="sr-only"> flag ${f.id}</span></button></form></details><p class="form-msg" id="${id}-msg" role="status"></p>` : ''}</td></tr>`;
}

export function flagsPage(deps: UiDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const p = req.principal!;
    const scope = scopeOfReader(p);
    const f = { trial: q(req, 'trial'), site: q(req, 'site'), code: q(req, 'code') };
    const [flags, codes, facets] = await Promise.all([flagInbox(deps.db, scope, { ...f, limit: FLAG_INBOX_LIMIT }), openFlagCodes(deps.db, scope), subjectFacets(deps.db, scope)]);
    const select = (name: string, label: string, options: readonly string[], current: string | undefined) => html`<div class="field">
      <label for="f-${name}">${label}</label><select id="f-${name}" name="${name}"><option value="">All</option>
      ${options.map((v) => html`<option value="${v}"${v === current ? html` selected` : ''}>${v}</option>`)}</select></div>`;
    const filters = html`<form method="get" action="/ui/flags" class="filters" role="search" aria-label="Filter flags">
      ${select('trial', 'Trial', facets.trials, f.trial)}${select('site', 'Site', facets.sites, f.site)}${select('code', 'Code', codes, f.code)}
      <button type="submit">Apply</button></form>`;
    const rows = flags.map((x) => flagRow(x, can(p, 'flag', x.trial, x.site), deps.timeZoneOf(x.site)));
    const body = html`<div data-live="flags" data-trial="${f.trial ?? ''}" data-site="${f.site ?? ''}" data-code="${f.code ?? ''}">
      <p class="live-notice" data-testid="live-notice" role="status">New flags appear here without reloading.</p>
      ${filters}
      <table class="list" data-testid="flag-inbox"><caption>Open flags, most severe and oldest first (${flags.length})</caption><thead><tr>
        <th scope="col">Severity</th><th scope="col">Subject</th><th scope="col">Trial and site</th><th scope="col">Code</th><th scope="col">Visit or criterion</th>
        <th scope="col">Message</th><th scope="col">Raised (site time)</th><th scope="col">State</th><th scope="col">Actions</th></tr></thead>
      <tbody id="flag-rows">${rows.length ? rows : html`<tr class="empty"><td colspan="9">No open flags.</td></tr>`}</tbody></table></div>`;
    res.type('html').send(shell(req, 'Flag inbox', '/ui/flags', body));
  };
}
