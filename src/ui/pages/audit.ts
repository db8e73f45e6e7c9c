/**
 * GET /ui/subjects/:trial/:site/:subject/audit — the subject's audit trail
 * (21 CFR Part 11 §11.10(e)): who, in which role, when (UTC and site-local),
 * which entity and field, old → new, why; with the CSV export of /api/audit.
 */
import type { Request, Response } from 'express';
import { AppError } from '../../errors';
import { assertCan, scopeSql } from '../../http/scope';
import { listAudit } from '../../store/audit';
import { subjectView } from '../../store/views';
import { html, type Html } from '../html';
import type { UiDeps } from '../deps';
import { actionLabel, actorLabel, auditValue, entityLabel, readableReason } from '../format';
import { scopeOfReader, shell, subjectHref, utcTime } from '../layout';

/** Rows shown on one page; the CSV has them all. */
export const AUDIT_PAGE_LIMIT = 1000;

/** The site-local audit time ("2026-12-02T08:29:12+08:00", migration 008 audit_local_time) as "2026-12-02 08:29:12 +08:00". */
function siteTime(local: string | null): Html | string {
  const m = local ? /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(local) : null;
  if (!m) return local ?? '';
  return html`${m[1]} ${m[2]} ${m[3] === 'Z' ? 'UTC' : m[3]}`;
}

/** The reason column: the controlled reason's label (its code beside it, as in the CSV), then the note. */
export function reasonCell(action: string, reason: string | null): Html {
  const r = readableReason(action, reason);
  return html`${r.label ? html`${r.label} <code class="muted">${r.code}</code>` : ''}${r.note ? html`<span class="note">${r.label ? 'Note: ' : ''}${r.note}</span>` : ''}`;
}

export function auditPage(deps: UiDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const p = req.principal!;
    const k = { trial: req.params.trial, site: req.params.site, subject: req.params.subject };
    assertCan(p, 'read', k.trial, k.site);
    if (!(await subjectView(deps.db, scopeOfReader(p), k))) throw new AppError('not-found', `no subject ${k.subject} in ${k.trial} at ${k.site}`);
    const params: unknown[] = [];
    const rows = await listAudit(deps.db, { ...k, limit: AUDIT_PAGE_LIMIT, scope: { sql: scopeSql(p, params, '', 'read'), params } });
    const csv = `/api/audit?${new URLSearchParams({ ...k, format: 'csv' })}`;
    const body = html`<p><a href="${subjectHref(k)}">Back to subject ${k.subject}</a> · <a href="${csv}" download data-testid="audit-csv">Download CSV</a> <span class="muted">(codes and raw values, every row)</span></p>
      <table class="list audit" data-testid="audit-table"><caption>${rows.length} ${rows.length === 1 ? 'entry' : 'entries'}, oldest first${rows.length === AUDIT_PAGE_LIMIT ? '; the first ones only, the CSV has all' : ''}</caption>
      <thead><tr><th scope="col">When (UTC, then site time)</th><th scope="col">Who</th><th scope="col">Role</th><th scope="col">Action</th>
        <th scope="col">What</th><th scope="col">Old → new</th><th scope="col">Reason and note</th></tr></thead>
      <tbody>${rows.length ? rows.map((r) => {
        const who = actorLabel(r);
        const old = r.oldValue === null || r.oldValue === undefined ? null : auditValue(r.oldValue);
        return html`<tr data-testid="audit-row-${r.id}"><td>${utcTime(r.at)}<span class="site-time">${siteTime(r.atLocal)}</span></td>
        <td class="nw">${who.name} <span class="muted">(${who.id})</span></td><td class="nw">${r.actorRole}</td><td>${actionLabel(r.action)}</td>
        <td class="nw">${entityLabel(r)}</td><td>${old === null ? '' : html`<span class="nw">${old}</span> → `}<span class="nw">${auditValue(r.newValue)}</span></td><td class="reason">${reasonCell(r.action, r.reason)}</td></tr>`;
      }) : html`<tr><td colspan="7">No audit entries.</td></tr>`}</tbody></table>`;
    res.type('html').send(shell(req, `Audit trail of ${k.subject}`, '/ui/subjects', body));
  };
}
