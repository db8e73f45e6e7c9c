/**
 * What the pre-screen pages read: candidates in the reader's scope through
 * store/prescreen.ts, and one access-log row per candidate shown (README
 * "Pre-screening and alerts": every view of a potential candidate is logged,
 * HIPAA 45 CFR 164.312(b) audit controls). A candidate outside the reader's
 * scope is not found, like a subject (no hint that it exists).
 */
import type { Request } from 'express';
import { can, scopeSql, type Principal } from '../../http/scope';
import { CANDIDATE_STATUSES, candidateById, listCandidates, logAccess, type CandidateRow, type CandidateStatus } from '../../store/prescreen';
import type { CriterionEvidence, ToCheck } from '../../protocol/prescreen';
import type { UiDeps } from '../deps';

export const PRESCREEN_STATUSES: readonly CandidateStatus[] = CANDIDATE_STATUSES;

/** Candidates shown at most on one list page. */
export const PRESCREEN_LIST_LIMIT = 500;

export type EvidenceItem = CriterionEvidence;

export interface CandidateView extends Omit<CandidateRow, 'evidence' | 'toCheck'> {
  readonly evidence: readonly EvidenceItem[];
  readonly toCheck: readonly ToCheck[];
}

/** The grant role under which `p` reads (trial, site), for the access log (the first that allows it). */
function readRole(p: Principal, trial: string, site: string): string {
  const g = p.grants.find((x) => (x.trial === '*' || x.trial === trial) && (x.site === '*' || x.site === site));
  return g?.role ?? 'unknown';
}

const traceOf = (req: Request): string | null => req.traceId ?? null;

const view = (c: CandidateRow): CandidateView => ({ ...c, evidence: c.evidence as EvidenceItem[], toCheck: c.toCheck as ToCheck[] });

async function logEach(deps: UiDeps, p: Principal, rows: readonly CandidateRow[], access: 'list' | 'view', req: Request): Promise<void> {
  // One insert per role: a principal may read different trials under different grants.
  const byRole = new Map<string, CandidateRow[]>();
  for (const c of rows) byRole.set(readRole(p, c.trial, c.site), [...(byRole.get(readRole(p, c.trial, c.site)) ?? []), c]);
  for (const [role, cs] of byRole) await logAccess(deps.db, cs, { id: p.id, role }, access, traceOf(req));
}

export function prescreenReader(deps: UiDeps) {
  return {
    /** Candidates in scope with the filter, and the trials and sites to filter by; every row shown is logged as `list`. */
    async list(p: Principal, f: { trial?: string; site?: string; status?: string }, req: Request): Promise<{ candidates: CandidateView[]; trials: string[]; sites: string[] }> {
      const params: unknown[] = [];
      const sql = scopeSql(p, params, '', 'read');
      const rows = await listCandidates(deps.db, {
        trial: f.trial, site: f.site, status: f.status as CandidateStatus | undefined, limit: PRESCREEN_LIST_LIMIT, scope: { sql, params },
      });
      await logEach(deps, p, rows, 'list', req);
      const sites = deps.config.sites.filter((s) => s.prescreen?.trials.length).filter((s) => can(p, 'read', '*', s.id) || s.prescreen!.trials.some((t) => can(p, 'read', t, s.id)));
      const trials = [...new Set(sites.flatMap((s) => s.prescreen!.trials.filter((t) => can(p, 'read', t, s.id))))].sort();
      return { candidates: rows.map(view), trials, sites: sites.map((s) => s.id).sort() };
    },
    /** One candidate in scope (logged as `view`), or null. */
    async get(p: Principal, id: string, req: Request): Promise<CandidateView | null> {
      const c = await candidateById(deps.db, id);
      if (!c || !can(p, 'read', c.trial, c.site)) return null;
      await logEach(deps, p, [c], 'view', req);
      return view(c);
    },
  };
}
