/**
 * GET /ui/subjects — the subjects in the reader's scope, filtered by trial,
 * site, enrollment group, open flags and review need, searched by subject
 * number, 50 a page (one statement: store/views.ts listSubjects).
 */
import type { Request, Response } from 'express';
import { listSubjects, subjectFacets } from '../../store/views';
import { html } from '../html';
import type { UiDeps } from '../deps';
import { badge, GROUP_LABELS, idClass, groupOf, localTime, q, scopeOfReader, shell, STATUS_GROUPS, subjectHref, type StatusGroup } from '../layout';

/** Subjects per page. */
export const SUBJECTS_PAGE_SIZE = 50;

const ELIGIBILITY_LABEL: Record<string, string> = { eligible: 'Eligible', 'needs-review': 'Needs review', ineligible: 'Ineligible' };

export function subjectsPage(deps: UiDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const scope = scopeOfReader(req.principal!);
    const status = q(req, 'status') as StatusGroup | undefined;
    const group = status && status in STATUS_GROUPS ? status : undefined;
    const pageNo = Math.max(1, Math.min(100_000, Number.parseInt(q(req, 'page') ?? '1', 10) || 1));
    const f = {
      trial: q(req, 'trial'), site: q(req, 'site'), search: q(req, 'q')?.slice(0, 64),
      openFlags: q(req, 'flags') === '1', needsReview: q(req, 'review') === '1',
    };
    const [facets, list] = await Promise.all([
      subjectFacets(deps.db, scope),
      listSubjects(deps.db, scope, { ...f, statuses: group ? STATUS_GROUPS[group] : undefined, limit: SUBJECTS_PAGE_SIZE, offset: (pageNo - 1) * SUBJECTS_PAGE_SIZE }),
    ]);
    const pages = Math.max(1, Math.ceil(list.total / SUBJECTS_PAGE_SIZE));
    const select = (name: string, label: string, options: readonly [string, string][], current: string | undefined) => html`<div class="field">
      <label for="f-${name}">${label}</label><select id="f-${name}" name="${name}"><option value="">All</option>
      ${options.map(([v, l]) => html`<option value="${v}"${v === current ? html` selected` : ''}>${l}</option>`)}</select></div>`;
    const check = (name: string, label: string, on: boolean) => html`<div class="field check"><input type="checkbox" id="f-${name}" name="${name}" value="1"${on ? html` checked` : ''}><label for="f-${name}">${label}</label></div>`;
    const filters = html`<form method="get" action="/ui/subjects" class="filters" role="search" aria-label="Filter subjects">
      ${select('trial', 'Trial', facets.trials.map((t) => [t, t]), f.trial)}
      ${select('site', 'Site', facets.sites.map((s) => [s, s]), f.site)}
      ${select('status', 'Status', (Object.keys(STATUS_GROUPS) as StatusGroup[]).map((g) => [g, GROUP_LABELS[g]]), group)}
      ${check('flags', 'Open flags', f.openFlags)}${check('review', 'Needs review', f.needsReview)}
      <div class="field"><label for="f-q">Subject number</label><input type="search" id="f-q" name="q" value="${f.search ?? ''}" maxlength="64"></div>
      <button type="submit">Apply</button></form>`;
    const rows = list.rows.map((r) => html`<tr data-testid="subject-row-${r.subject}">
      <th scope="row" class="${idClass(r.subject)}"><a href="${subjectHref(r)}">${r.subject}</a></th><td class="${idClass(r.trial)}">${r.trial}</td><td class="${idClass(r.site)}">${r.site}</td>
      <td>${badge(groupOf(r.status), GROUP_LABELS[groupOf(r.status)])}${r.status !== groupOf(r.status) ? html` <span class="muted nw">${r.status}</span>` : ''}</td><td class="${idClass(r.arm)}">${r.arm ?? ''}</td>
      <td>${r.eligibility ? badge(r.eligibility, ELIGIBILITY_LABEL[r.eligibility] ?? r.eligibility) : html`<span class="muted">not evaluated</span>`}</td>
      <td>${r.openFlags}</td><td>${r.openReviewItems}</td><td>${r.unreviewedValues}</td><td>${localTime(r.evaluatedAt, deps.timeZoneOf(r.site))}</td></tr>`);
    const here = (n: number) => {
      const u = new URLSearchParams();
      for (const [k, v] of Object.entries({ trial: f.trial, site: f.site, status: group, q: f.search, flags: f.openFlags ? '1' : undefined, review: f.needsReview ? '1' : undefined })) if (v) u.set(k, v);
      u.set('page', String(n));
      return `/ui/subjects?${u}`;
    };
    const pager = html`<nav aria-label="Pages" class="pager"><span>Page ${pageNo} of ${pages} (${list.total} subjects)</span>
      ${pageNo > 1 ? html`<a href="${here(pageNo - 1)}" rel="prev">Previous page</a>` : ''}${pageNo < pages ? html`<a href="${here(pageNo + 1)}" rel="next">Next page</a>` : ''}</nav>`;
    const body = html`${filters}
      <table class="list" data-testid="subjects-table"><caption>Subjects</caption><thead><tr>
        <th scope="col">Subject</th><th scope="col">Trial</th><th scope="col">Site</th><th scope="col">Status</th><th scope="col">Arm</th>
        <th scope="col">Eligibility</th><th scope="col">Open flags</th><th scope="col">Open review items</th><th scope="col">Values to review</th><th scope="col">Evaluated (site time)</th>
      </tr></thead><tbody>${rows.length ? rows : html`<tr><td colspan="10">No subjects match.</td></tr>`}</tbody></table>${pager}`;
    res.type('html').send(shell(req, 'Subjects', '/ui/subjects', body));
  };
}
