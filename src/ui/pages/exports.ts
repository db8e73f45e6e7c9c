/**
 * GET /ui/exports and /ui/trials/:trial/exports — files for the trial database
 * (README "Send data to the trial database"). A data manager, monitor or admin
 * picks a format and presses "Create export" (app.js posts it to
 * POST /api/trials/{trial}/exports with the session's CSRF token); the list
 * shows the exports of the reader's scope, newest first, each downloadable
 * again from GET /api/trials/{trial}/exports/{id} (audited every time).
 * Investigators may not export (http/scope.ts action `export`): 403.
 */
import type { Request, Response } from 'express';
import { AppError } from '../../errors';
import { assertCan, can, scopeSql, type Principal } from '../../http/scope';
import { EXPORT_FORMATS, listExports, type ExportFormat, type ExportRecord } from '../../store/exports';
import type { ScopeFn } from '../../store/views';
import { html, type Html } from '../html';
import type { UiDeps } from '../deps';
import { shell, utcTime } from '../layout';

/** Every format in words (a Record: a new ExportFormat must be described here). */
export const FORMAT_LABELS: Readonly<Record<ExportFormat, { label: string; hint: string }>> = {
  odm: { label: 'ODM transactional: changes since the last export', hint: 'CDISC ODM 1.3.2 XML; values inserted, updated or removed since your previous ODM transactional export (all of them the first time)' },
  'odm-snapshot': { label: 'ODM snapshot: the current state', hint: 'CDISC ODM 1.3.2 XML; every value that goes, as it stands now' },
  redcap: { label: 'REDCap project', hint: 'zip: data dictionary, arms, events, instrument-event mapping and the records, as CSV' },
  lb: { label: 'CDISC LB (laboratory results)', hint: 'SDTM-like LB dataset as CSV' },
  ex: { label: 'CDISC EX (study drug administrations)', hint: 'SDTM-like EX dataset as CSV' },
};

/** The reader's export scope as SQL (store/views.ts ScopeFn). */
const exportScope = (p: Principal): ScopeFn => (params, alias) => scopeSql(p, params, alias, 'export');

/** /ui/trials/<trial>/exports, encoded. */
export const exportsHref = (trial: string): string => `/ui/trials/${encodeURIComponent(trial)}/exports`;

/** 1234567 → "1.2 MB" (SI units, as browsers show downloads). */
export function sizeText(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB'];
  let v = bytes / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** The counts of one export: subjects and values, the changes of a transactional one, administrations. */
function countsCell(r: ExportRecord): Html {
  const c = r.counts;
  return html`<span class="nw">${c.subjects} subject${c.subjects === 1 ? '' : 's'}</span>, <span class="nw">${c.values} value${c.values === 1 ? '' : 's'}</span>${r.kind === 'transactional'
    ? html`<span class="site nw">${c.inserted} inserted, ${c.updated} updated, ${c.removed} removed</span>` : ''}${r.format === 'ex' || c.administrations
    ? html`<span class="site nw">${c.administrations} administration${c.administrations === 1 ? '' : 's'}</span>` : ''}`;
}

/** Short format names for the list (the form says more). */
const SHORT: Readonly<Record<ExportFormat, string>> = { odm: 'ODM transactional', 'odm-snapshot': 'ODM snapshot', redcap: 'REDCap project', lb: 'CDISC LB', ex: 'CDISC EX' };

function exportRow(r: ExportRecord, userName: (id: string) => string): Html {
  const download = `/api/trials/${encodeURIComponent(r.trial)}/exports/${encodeURIComponent(r.id)}`;
  return html`<tr data-testid="export-row-${r.id}" data-export-id="${r.id}">
    <th scope="row"><span class="nw">${r.id}</span><span class="site file-name">${r.fileName}</span></th>
    <td>${utcTime(r.createdAt)}<span class="site">${userName(r.createdBy)} <span class="nw">(${r.createdBy})</span></span></td>
    <td>${SHORT[r.format] ?? r.format}</td>
    <td>${r.since ? html`${utcTime(r.since)} →` : html`<span class="muted">${r.kind === 'transactional' ? 'first export' : 'snapshot'}</span>`}<span class="site">${utcTime(r.until)}</span></td>
    <td>${r.sites.includes('*') ? 'all' : r.sites.join(', ')}</td><td>${countsCell(r)}</td><td class="nw">${sizeText(r.bytes)}</td>
    <td><code title="${r.sha256}">${r.sha256.slice(0, 12)}</code></td>
    <td><a class="button" href="${download}" download="${r.fileName}" data-testid="download-${r.id}">Download<span class="sr-only"> ${r.id}</span></a></td></tr>`;
}

/** GET /ui/exports: the trials the reader may export, each with its exports page. */
export function exportsIndexPage(deps: UiDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const p = req.principal!;
    if (!can(p, 'export')) throw new AppError('forbidden', 'you may not export anywhere');
    const trials = deps.trials.keys.filter((t) => can(p, 'export', t));
    const body = html`<p class="muted">Files for the trial database (the sponsor's EDC): CDISC ODM 1.3.2, a REDCap project, CDISC LB and EX. Only the sites of your grants go.</p>
      <ul data-testid="export-trials">${trials.map((t) => html`<li><a href="${exportsHref(t)}">${t}</a>${deps.trials.get(t)?.title ? html` <span class="muted">${deps.trials.get(t)!.title}</span>` : ''}</li>`)}</ul>`;
    res.type('html').send(shell(req, 'Exports', '/ui/exports', body));
  };
}

/** GET /ui/trials/:trial/exports: the create form and the exports of the reader's scope. */
export function exportsPage(deps: UiDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const p = req.principal!;
    const trial = req.params.trial;
    // The same order of refusals as the API: may export nowhere, unknown trial, trial outside the grants.
    if (!can(p, 'export')) throw new AppError('forbidden', 'you may not export anywhere');
    const t = deps.trials.get(trial);
    if (!t) throw new AppError('not-found', `no trial "${trial.slice(0, 64)}"`);
    assertCan(p, 'export', trial);
    const rows = await listExports(deps.db, { trial, scope: exportScope(p) });
    const names = new Map(deps.config.users.map((u) => [u.id, u.name]));
    const userName = (id: string) => (id === p.id ? p.name : names.get(id) ?? id);
    const which = t.export.values === 'all' ? 'every value not rejected or superseded (automatic ones too)' : 'values a data manager accepted or corrected';
    const form = html`<form data-action="api" data-method="POST" data-url="/api/trials/${encodeURIComponent(trial)}/exports" data-done="Export created: it is the first row of the list." class="card" data-testid="export-form">
      <fieldset class="export-formats"><legend>Format</legend>
      ${EXPORT_FORMATS.map((f, i) => html`<div class="field check"><input type="radio" id="x-format-${f}" name="format" value="${f}"${i === 0 ? html` checked` : ''} aria-describedby="x-format-${f}-hint">
        <label for="x-format-${f}">${FORMAT_LABELS[f].label}</label><span class="muted hint" id="x-format-${f}-hint">${FORMAT_LABELS[f].hint}</span></div>`)}
      </fieldset>
      <p><button type="submit" data-testid="create-export">Create export</button></p></form>`;
    const body = html`<p class="muted">${t.title} · What goes: ${which} (trial file <code>export.values</code>). Subjects are their trial subject numbers; no names, record numbers or birth dates ever leave.</p>
      <p class="action-msg" role="status" data-testid="action-msg"></p>
      ${form}
      <div class="scroll"><table class="list exports" data-testid="export-list"><caption>Exports of ${trial}, newest first (${rows.length})</caption><thead><tr>
        <th scope="col">Export and file</th><th scope="col">Created (UTC) and by</th><th scope="col">Format</th><th scope="col">Changes since → data until (UTC)</th>
        <th scope="col">Sites</th><th scope="col">Counts</th><th scope="col">Size</th><th scope="col">SHA-256</th><th scope="col">File</th></tr></thead>
      <tbody>${rows.length ? rows.map((r) => exportRow(r, userName)) : html`<tr><td colspan="9">No exports yet.</td></tr>`}</tbody></table></div>`;
    res.type('html').send(shell(req, `Exports of ${trial}`, '/ui/exports', body));
  };
}
