/**
 * Who is asking and what they may do, for /api and /ui alike.
 *
 * A principal is a user signed in by bearer token (scripts) or by a browser
 * session (OpenID Connect sign-in). Each holds grants: a role in a trial at a
 * site (`*` for all). Every read and write names the trial and site it touches
 * and is checked here, so the API and the workbench enforce the same scope.
 *
 * What each role may do (21 CFR Part 11 §11.10(g): authority checks):
 *  - read:    every role (monitor is read-only);
 *  - review:  accept / correct / reject CRF values, resolve review items: data-manager, admin;
 *  - answer:  answer judgement criteria, sign visits: investigator;
 *  - flag:    acknowledge / resolve flags: investigator, data-manager, admin;
 *  - export:  download trial-database exports: data-manager, admin, monitor;
 *  - admin:   connector status, unmapped codes, audit of all: admin;
 *  - prescreen: dismiss a potential candidate or start its screening: investigator, data-manager, admin
 *    (every role may read candidates in scope; README "Pre-screening and alerts").
 */
import type { Grant, Role } from '../config';
import { AppError } from '../errors';

export type Action = 'read' | 'review' | 'answer' | 'flag' | 'export' | 'admin' | 'prescreen';

const ALLOWED: Record<Action, readonly Role[]> = {
  read: ['admin', 'data-manager', 'investigator', 'monitor'],
  review: ['admin', 'data-manager'],
  answer: ['investigator'],
  flag: ['admin', 'data-manager', 'investigator'],
  export: ['admin', 'data-manager', 'monitor'],
  admin: ['admin'],
  prescreen: ['admin', 'data-manager', 'investigator'],
};

export interface Principal {
  readonly id: string;
  /** Printed name, recorded on signatures and shown in the audit trail. */
  readonly name: string;
  readonly grants: readonly Grant[];
  /** How the request was authenticated. */
  readonly via: 'token' | 'session';
  /** Browser sessions only: the session row id (CSRF token and re-authentication live there). */
  readonly sessionId?: string;
}

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

const covers = (g: Grant, trial: string | '*', site: string | '*'): boolean =>
  (g.trial === '*' || g.trial === trial) && (g.site === '*' || g.site === site);

/** True when some grant of `p` allows `action` on (trial, site). Pass '*' to ask "anywhere". */
export function can(p: Principal, action: Action, trial: string | '*' = '*', site: string | '*' = '*'): boolean {
  return p.grants.some((g) => ALLOWED[action].includes(g.role) && (trial === '*' && site === '*' ? true : covers(g, trial === '*' ? g.trial : trial, site === '*' ? g.site : site)));
}

/** The request's principal (set by requireUser); 401 when there is none. */
export function principalOf(req: { principal?: Principal }): Principal {
  if (!req.principal) throw new AppError('unauthenticated', 'sign-in required');
  return req.principal;
}

/** Throws 403 unless `p` may do `action` on (trial, site). The text names the action, never data. */
export function assertCan(p: Principal | undefined, action: Action, trial: string | '*' = '*', site: string | '*' = '*'): Principal {
  if (!p) throw new AppError('unauthenticated', 'sign-in required');
  if (!can(p, action, trial, site)) {
    const where = [trial !== '*' && `trial ${trial}`, site !== '*' && `site ${site}`].filter(Boolean).join(' at ');
    throw new AppError('forbidden', `you may not ${action}${where ? ` in ${where}` : ''}`);
  }
  return p;
}

/**
 * The (trial, site) pairs `p` may `action` on, as SQL-friendly lists: null means
 * "all" for that dimension. Used to filter listings (a user sees only their scope).
 * `pairs` is exact; `trials`/`sites` are the union, for a quick first filter.
 */
export function scopeOf(p: Principal, action: Action = 'read'): { all: boolean; pairs: { trial: string; site: string }[] } {
  const gs = p.grants.filter((g) => ALLOWED[action].includes(g.role));
  if (gs.some((g) => g.trial === '*' && g.site === '*')) return { all: true, pairs: [] };
  return { all: false, pairs: gs.map((g) => ({ trial: g.trial, site: g.site })) };
}

/**
 * SQL condition restricting rows with `trial` and `site` columns to `p`'s scope.
 * `alias` prefixes the columns; parameters are appended to `params`.
 */
export function scopeSql(p: Principal, params: unknown[], alias = '', action: Action = 'read'): string {
  const s = scopeOf(p, action);
  if (s.all) return 'TRUE';
  if (!s.pairs.length) return 'FALSE';
  const a = alias ? `${alias}.` : '';
  params.push(s.pairs.map((x) => x.trial), s.pairs.map((x) => x.site));
  const t = params.length - 1;
  const si = params.length;
  // The grant columns are named apart from the row's, so an unqualified `trial`/`site` (no alias) names the row's column, not the grant's.
  return `EXISTS (SELECT 1 FROM unnest($${t}::text[], $${si}::text[]) AS g(grant_trial, grant_site) WHERE (g.grant_trial = '*' OR g.grant_trial = ${a}trial) AND (g.grant_site = '*' OR g.grant_site = ${a}site))`;
}

/** Roles `p` holds anywhere (for menus: which pages to show). */
export function rolesOf(p: Principal): Set<Role> {
  return new Set(p.grants.map((g) => g.role));
}
