/**
 * Relative dates for pre-screen fixtures (fixtures/prescreen-*): a pre-screen's
 * screening date is today at the site, so inputs say "{{today-1d}}" or
 * "{{today-45y-30d}}" (years first, then days) and are substituted with the
 * site's local calendar date (clinical-reference §6: days are local dates).
 */

/** The site's local calendar date today, shifted by each `±Ny` / `±Nd` in order. */
export function relativeDate(spec: string, timeZone: string, now = new Date()): string {
  const today = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
  const m = /^today((?:[+-]\d+[yd])*)$/.exec(spec);
  if (!m) throw new Error(`bad relative date {{${spec}}}`);
  const [y, mo, d] = today.split('-').map(Number);
  let date = new Date(Date.UTC(y, mo - 1, d));
  for (const [, sign, n, unit] of m[1].matchAll(/([+-])(\d+)([yd])/g)) {
    const k = (sign === '-' ? -1 : 1) * Number(n);
    date = unit === 'y' ? new Date(Date.UTC(date.getUTCFullYear() + k, date.getUTCMonth(), date.getUTCDate())) : new Date(date.getTime() + k * 86_400_000);
  }
  return date.toISOString().slice(0, 10);
}

/** Every `{{today...}}` in a fixture file's text, substituted. */
export function substituteDates(text: string, timeZone: string, now = new Date()): string {
  return text.replace(/\{\{([^}]+)\}\}/g, (_, spec: string) => relativeDate(spec, timeZone, now));
}
