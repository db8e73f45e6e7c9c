/**
 * GET /ui/ — trial overview: for each trial in the reader's scope, subjects per
 * enrollment group, eligibility, open flags by code, the review backlog and the
 * last data received from each site.
 */
import type { Request, Response } from 'express';
import { can } from '../../http/scope';
import { trialOverview } from '../../store/views';
import { html } from '../html';
import type { UiDeps } from '../deps';
import { GROUP_LABELS, groupOf, localTime, scopeOfReader, shell, type StatusGroup } from '../layout';

const ELIGIBILITY: readonly [string, string][] = [['eligible', 'Eligible'], ['needs-review', 'Needs review'], ['ineligible', 'Ineligible'], ['not-evaluated', 'Not evaluated yet']];

export function overviewPage(deps: UiDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const trials = await trialOverview(deps.db, scopeOfReader(req.principal!));
    const sections = trials.map((t) => {
      const groups: Record<StatusGroup, number> = { candidate: 0, screening: 0, 'on-study': 0, 'follow-up': 0, other: 0 };
      for (const [status, n] of Object.entries(t.statuses)) groups[groupOf(status)] += n;
      const title = deps.trials.get(t.trial)?.title;
      const id = `trial-${t.trial}`.replace(/[^A-Za-z0-9_-]/g, '-');
      const link = (extra: string) => `/ui/subjects?trial=${encodeURIComponent(t.trial)}${extra}`;
      return html`<section aria-labelledby="${id}" class="card" data-testid="trial-${t.trial}">
        <h2 id="${id}">${t.trial}</h2>${title ? html`<p class="muted">${title}</p>` : ''}
        ${can(req.principal!, 'export', t.trial) ? html`<p><a href="/ui/trials/${encodeURIComponent(t.trial)}/exports" data-testid="exports-link-${t.trial}">Exports for the trial database</a></p>` : ''}
        <div class="grid-2">
        <table><caption>Subjects by status</caption><thead><tr><th scope="col">Status</th><th scope="col">Subjects</th></tr></thead><tbody>
          ${(Object.keys(groups) as StatusGroup[]).map((g) => html`<tr><th scope="row"><a href="${link(`&status=${g}`)}">${GROUP_LABELS[g]}</a></th><td data-testid="status-${g}">${groups[g]}</td></tr>`)}
        </tbody></table>
        <table><caption>Eligibility</caption><thead><tr><th scope="col">Verdict</th><th scope="col">Subjects</th></tr></thead><tbody>
          ${ELIGIBILITY.map(([k, label]) => html`<tr><th scope="row">${label}</th><td data-testid="eligibility-${k}">${t.eligibility[k] ?? 0}</td></tr>`)}
        </tbody></table>
        <table><caption>Open flags by code</caption><thead><tr><th scope="col">Code</th><th scope="col">Open</th></tr></thead><tbody>
          ${Object.keys(t.openFlags).length
            ? Object.entries(t.openFlags).sort(([a], [b]) => (a < b ? -1 : 1)).map(([code, n]) => html`<tr><th scope="row"><a href="/ui/flags?trial=${encodeURIComponent(t.trial)}&amp;code=${encodeURIComponent(code)}">${code}</a></th><td>${n}</td></tr>`)
            : html`<tr><td colspan="2">No open flags</td></tr>`}
        </tbody></table>
        <table><caption>Review backlog</caption><thead><tr><th scope="col">What</th><th scope="col">Count</th></tr></thead><tbody>
          <tr><th scope="row">Open review items</th><td data-testid="open-review-items">${t.openReviewItems}</td></tr>
          <tr><th scope="row"><a href="${link('&review=1')}">Values not yet reviewed</a></th><td data-testid="unreviewed-values">${t.unreviewedValues}</td></tr>
        </tbody></table>
        </div>
        <table><caption>Last data received per site</caption><thead><tr><th scope="col">Site</th><th scope="col">Subjects</th><th scope="col">Last data received (site time)</th></tr></thead><tbody>
          ${t.sites.map((s) => html`<tr><th scope="row">${s.site}</th><td>${s.subjects}</td><td>${localTime(s.lastReceivedAt, deps.timeZoneOf(s.site))}</td></tr>`)}
        </tbody></table>
      </section>`;
    });
    const body = sections.length ? html`${sections}` : html`<p>No subjects in your trials and sites yet.</p>`;
    res.type('html').send(shell(req, 'Trial overview', '/ui/', body));
  };
}
