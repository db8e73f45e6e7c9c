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
import { html } from '../html';
import type { UiDeps } from '../deps';
import { scopeOfReader, shell, subjectHref, utcTime } from '../layout';

/** Rows shown on one page; the CSV has them all. */
export const AUDIT_PAGE_LIMIT = 1000;

const show = (v: unknown): string => (v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v));

export function auditPage(deps: UiDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const p = req.principal!;
    const k = { trial: req.params.trial, site: req.params.site, subject: req.params.subject };
    assertCan(p, 'read', k.trial, k.site);
    if (!(await subjectView(deps.db, scopeOfReader(p), k))) throw new AppError('not-found', `no subject ${k.subject} in ${k.trial} at ${k.site}`);
    const params: unknown[] = [];
    const rows = await listAudit(deps.db, { ...k, limit: AUDIT_PAGE_LIMIT, scope: { sql: scopeSql(p, params, '', 'read'), params } });
    const csv = `/api/audit?${new URLSearchParams({ ...k, format: 'csv' })}`;
    const body = html`<p><a href="${subjectHref(k)}">Back to subject ${k.subject}</a> · <a href="${csv}" download data-testid="audit-csv">Download CSV</a></p>
      <table class="list" data-testid="audit-table"><caption>Audit trail of ${k.subject} (${rows.length} rows${rows.length === AUDIT_PAGE_LIMIT ? ', first ones; the CSV has all' : ''})</caption>
      <thead><tr><th scope="col">When (UTC)</th><th scope="col">Site time</th><th scope="col">Who</th><th scope="col">Role</th><th scope="col">Action</th>
        <th scope="col">Entity / field</th><th scope="col">Old → new</th><th scope="col">Reason</th></tr></thead>
      <tbody>${rows.length ? rows.map((r) => html`<tr data-testid="audit-row-${r.id}"><td>${utcTime(r.at)}</td><td>${r.atLocal ?? ''}</td>
        <td>${r.actorName ?? r.actor} <span class="muted">(${r.actor})</span></td><td>${r.actorRole}</td><td>${r.action}</td>
        <td>${r.entity} ${r.entityId}${r.field ? html` · ${r.field}` : ''}</td>
        <td><code>${show(r.oldValue) || '—'}</code> → <code>${show(r.newValue) || '—'}</code></td><td>${r.reason ?? ''}</td></tr>`) : html`<tr><td colspan="8">No audit rows.</td></tr>`}</tbody></table>`;
    res.type('html').send(shell(req, `Audit trail of ${k.subject}`, '/ui/subjects', body));
  };
}
