/**
 * What every workbench page shares: the shell with navigation by role, the
 * reader's scope as SQL, site-local time, status badges and enrollment groups.
 */
import type { Request } from 'express';
import { can, rolesOf, scopeSql, type Principal } from '../http/scope';
import { siteLocalTime } from '../protocol/schedule';
import type { ScopeFn } from '../store/views';
import { csrfTokenOf } from '../http/session';
import { html, page, raw, type Html, type ShellOptions } from './html';

/** The reader's read scope as an SQL condition (store/views.ts ScopeFn). */
export const scopeOfReader = (p: Principal): ScopeFn => (params, alias) => scopeSql(p, params, alias, 'read');

interface NavEntry { href: string; label: string; show: (p: Principal) => boolean }

const NAV: readonly NavEntry[] = [
  { href: '/ui/', label: 'Overview', show: () => true },
  { href: '/ui/subjects', label: 'Subjects', show: () => true },
  { href: '/ui/review', label: 'Review queue', show: (p) => can(p, 'review') },
  { href: '/ui/flags', label: 'Flags', show: () => true },
  { href: '/ui/prescreen', label: 'Potential candidates', show: () => true },
  { href: '/ui/notifications', label: 'Notifications', show: () => true },
  { href: '/ui/exports', label: 'Exports', show: (p) => can(p, 'export') },
];

/** The shell of a page for `req`'s reader: name, roles and navigation by role (none without a principal). */
export function shellOptions(req: Request, title: string, current = ''): ShellOptions {
  const p = req.principal;
  if (!p) return { title, user: null, csrf: csrfTokenOf(req) };
  return {
    title,
    user: { name: p.name, roles: [...rolesOf(p)] },
    csrf: csrfTokenOf(req),
    nav: NAV.filter((n) => n.show(p)).map((n) => ({ href: n.href, label: n.label, current: n.href === current })),
  };
}

/** Renders a full page for the signed-in reader; `current` marks the navigation entry of this page. */
export function shell(req: Request, title: string, current: string, body: Html): string {
  return page(shellOptions(req, title, current), body);
}

/** An instant as the site's wall-clock time with its UTC offset, in a <time> element carrying the instant. */
export function localTime(instant: string | null | undefined, timeZone: string): Html {
  if (!instant) return html`<span class="muted">—</span>`;
  const t = siteLocalTime(instant, timeZone).localDateTime;
  if (!t) return html`<time datetime="${instant}">${instant}</time>`;
  // The date and time never break at their hyphens; the offset may go to a second line in a narrow column.
  return html`<time datetime="${instant}"><span class="d">${t.slice(0, 10)} ${t.slice(11, 16)}</span> (UTC${t.slice(19)})</time>`;
}

/** References with an id up to this long keep the id on one line; longer ones may break anywhere. */
const SHORT_ID = 24;

/**
 * A resource reference ("Observation/wb-001-tbil-scr") that may break after
 * its slash in a narrow cell, never at the hyphens of a short id; a long id
 * may break anywhere rather than widen the table.
 */
export function ref(reference: string): Html {
  const i = reference.indexOf('/');
  if (i < 0) return html`<span class="ref">${reference}</span>`;
  const id = reference.slice(i + 1);
  return id.length <= SHORT_ID
    ? html`<span class="ref">${reference.slice(0, i + 1)}${raw('<wbr>')}<span class="nw">${id}</span></span>`
    : html`<span class="ref long">${reference.slice(0, i + 1)}${raw('<wbr>')}${id}</span>`;
}

/** Ids and codes up to this long stay on one line; longer ones (some sites name themselves at length) may break at their hyphens. */
export const ID_NOWRAP_MAX = 20;

/** The class of a cell holding an id or code ("WB-001", "site-a", "visit-missed"): see ID_NOWRAP_MAX. */
export function idClass(id: string | null | undefined): string {
  return (id ?? '').length > ID_NOWRAP_MAX ? 'id-long' : 'nw';
}

/** Trial and site in one cell (the site on a second line): wide tables stay within the screen. */
export function trialSite(trial: string | null | undefined, site: string): Html {
  return html`<span class="${idClass(trial)}">${trial || '—'}</span><span class="site ${idClass(site)}">${site}</span>`;
}

/** The same instant in UTC, for the audit trail (21 CFR Part 11 §11.10(e): time-stamped records). */
export function utcTime(instant: string): Html {
  return html`<time datetime="${instant}">${instant.slice(0, 19).replace('T', ' ')}Z</time>`;
}

/** A status word as a badge; the class names the status so the stylesheet colours it (text always says it too). */
export function badge(status: string, label = status): Html {
  return html`<span class="badge badge-${status.replace(/[^a-z0-9-]/gi, '')}">${label}</span>`;
}

/** ResearchSubject.status (FHIR R4 ResearchSubjectStatus) → the four groups the overview counts, or `other`. */
export type StatusGroup = 'candidate' | 'screening' | 'on-study' | 'follow-up' | 'other';
export const STATUS_GROUPS: Readonly<Record<StatusGroup, readonly string[]>> = {
  candidate: ['candidate', 'potential-candidate'],
  screening: ['screening', 'eligible', 'pending-on-study'],
  'on-study': ['on-study', 'on-study-intervention', 'on-study-observation'],
  'follow-up': ['follow-up'],
  other: ['off-study', 'withdrawn', 'ineligible', 'not-registered'],
};
export const GROUP_LABELS: Readonly<Record<StatusGroup, string>> = { candidate: 'Candidate', screening: 'Screening', 'on-study': 'On study', 'follow-up': 'Follow-up', other: 'Off study / other' };

export function groupOf(status: string): StatusGroup {
  for (const [g, xs] of Object.entries(STATUS_GROUPS) as [StatusGroup, readonly string[]][]) if (xs.includes(status)) return g;
  return 'other';
}

/** A CRF value for display: numbers and text as given, anything else as JSON. */
export function showValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
}

/** /ui/subjects/<trial>/<site>/<subject>, each segment encoded. */
export function subjectHref(k: { trial: string; site: string; subject: string }, tail = ''): string {
  return `/ui/subjects/${encodeURIComponent(k.trial)}/${encodeURIComponent(k.site)}/${encodeURIComponent(k.subject)}${tail}`;
}

/** A single-valued text query parameter, or undefined (repeated or empty values are ignored on pages). */
export function q(req: Request, name: string): string | undefined {
  const v = req.query[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}
