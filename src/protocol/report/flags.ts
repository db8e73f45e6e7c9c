/**
 * Flags raised for a subject: eligibility verdicts for
 * investigators, visit and dose deviations and values needing review for data
 * managers. Each flag names its cause (visit and/or criterion) so the live
 * store can raise it once and resolve it when the cause goes away.
 */
import type { EligibilityResult } from '../eligibility';
import type { ScheduleEvaluation } from '../schedule';
import type { OpenReview, ReportFlag } from './types';

function eligibilityFlag(e: EligibilityResult): ReportFlag {
  const unknown = e.criteria.filter((c) => c.verdict === 'unknown').map((c) => c.id);
  switch (e.overall) {
    case 'eligible':
      return { code: 'eligible', severity: 'info', visit: null, criterion: null, message: 'every inclusion criterion met and no exclusion criterion met', evidence: [] };
    case 'ineligible': {
      const failing = e.criteria.filter((c) => (c.type === 'inclusion' && c.verdict === 'not-met') || (c.type === 'exclusion' && c.verdict === 'met'));
      return { code: 'ineligible', severity: 'warning', visit: null, criterion: failing.map((c) => c.id).join(',') || null, message: failing.map((c) => `${c.id}: ${c.reason}`).join('; '), evidence: failing.flatMap((c) => c.evidence) };
    }
    case 'needs-review':
      return { code: 'eligibility-needs-review', severity: 'info', visit: null, criterion: null, message: `criteria needing review: ${unknown.join(', ')}`, evidence: [] };
  }
}

export function reportFlags(eligibility: EligibilityResult, sched: ScheduleEvaluation, reviews: readonly OpenReview[]): ReportFlag[] {
  const flags: ReportFlag[] = [eligibilityFlag(eligibility)];
  if (sched.kind === 'scheduled') {
    for (const v of sched.visits) {
      if (v.status.kind === 'out-of-window') flags.push({ code: 'visit-out-of-window', severity: 'warning', visit: v.code, criterion: null, message: `results for ${v.code} fall outside its window ${v.windowStart}..${v.windowEnd} (target ${v.targetDate})`, evidence: v.status.results });
      if (v.status.kind === 'missed') flags.push({ code: 'visit-missed', severity: 'warning', visit: v.code, criterion: null, message: `no result within the window ${v.windowStart}..${v.windowEnd} of ${v.code}`, evidence: [] });
    }
    for (const d of sched.doses) {
      const visit = `W${d.week}`;
      const st = d.status;
      if (st.kind === 'missed') flags.push({ code: 'dose-missed', severity: 'warning', visit, criterion: null, message: `week ${d.week} dose missed (${st.reason})`, evidence: st.administration ? [st.administration] : [] });
      if (st.kind === 'partial') flags.push({ code: 'dose-partial', severity: 'warning', visit, criterion: null, message: `week ${d.week} infusion stopped before completion`, evidence: [st.administration] });
      if (st.kind === 'deviation') flags.push({ code: 'dose-deviation', severity: 'warning', visit, criterion: null, message: `week ${d.week} dose ${st.amount.actual} ${st.amount.unit} is ${(st.amount.ratio * 100).toFixed(1)}% of the expected ${st.amount.expected} (tolerance ±${st.amount.tolerance * 100}%)`, evidence: [st.administration] });
      if (st.kind === 'needs-review') flags.push({ code: 'dose-needs-review', severity: 'info', visit, criterion: null, message: `week ${d.week} administration has status ${st.status}`, evidence: [st.administration] });
    }
    for (const f of sched.flags) {
      if (f.kind === 'short-interval') flags.push({ code: 'dose-interval-short', severity: 'warning', visit: null, criterion: null, message: `infusions ${f.days} day(s) apart, minimum ${f.minimumDays}`, evidence: [f.first, f.second] });
      else flags.push({ code: 'dose-unscheduled', severity: 'warning', visit: null, criterion: null, message: `${f.kind} on study day ${f.studyDay}`, evidence: [f.administration] });
    }
  }
  for (const r of reviews) flags.push({ code: 'value-needs-review', severity: 'info', visit: null, criterion: null, message: `${r.reason}: ${r.detail}`, evidence: [r.source] });
  return flags;
}
