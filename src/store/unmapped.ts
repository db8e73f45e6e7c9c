/**
 * Counts of Observations whose codes no trial maps, per site, code and day (migration
 * 006). Terminology and counts only: the IT team reads them (GET /api/unmapped-codes)
 * to decide which local codes to add to a site code map.
 */
import type { Db } from './db';
import { chunks, valuesList } from './sql';

/** One coding seen on an unmapped Observation (see src/mapping/unmapped.ts). */
export interface UnmappedSeen {
  readonly site: string;
  readonly system: string;
  readonly code: string;
  readonly display: string | null;
  readonly unit: string | null;
}

/** A code's total over the retained days. */
export interface UnmappedCodeRow {
  readonly site: string;
  readonly system: string;
  readonly code: string;
  readonly display: string | null;
  readonly unit: string | null;
  readonly count: number;
  readonly lastSeenAt: string;
}

/**
 * Adds one to today's count of each coding. Keys are merged first: a multi-row
 * `ON CONFLICT DO UPDATE` may not touch one row twice (PostgreSQL refuses the whole statement).
 */
export async function countUnmapped(db: Db, seen: readonly UnmappedSeen[]): Promise<void> {
  const merged = new Map<string, UnmappedSeen & { n: number }>();
  for (const s of seen) {
    const key = JSON.stringify([s.site, s.system, s.code]);
    const prev = merged.get(key);
    merged.set(key, { ...s, display: s.display ?? prev?.display ?? null, unit: s.unit ?? prev?.unit ?? null, n: (prev?.n ?? 0) + 1 });
  }
  for (const part of chunks([...merged.values()], 1000)) {
    const { sql, params } = valuesList(part.map((s) => [s.site, s.system, s.code, s.display, s.unit, s.n]), ['', '', '', '', '', 'bigint']);
    await db.query(
      `INSERT INTO unmapped_codes (site, system, code, display, unit, count, day)
       SELECT site, system, code, display, unit, n, current_date FROM (VALUES ${sql}) AS v(site, system, code, display, unit, n)
       ON CONFLICT (site, system, code, day) DO UPDATE SET count = unmapped_codes.count + EXCLUDED.count,
         display = COALESCE(EXCLUDED.display, unmapped_codes.display), unit = COALESCE(EXCLUDED.unit, unmapped_codes.unit), last_seen_at = now()`,
      params,
    );
  }
}

/** Totals per site and code over the retained days, most frequent first. */
export async function listUnmapped(db: Db, q: { site?: string; limit: number }): Promise<UnmappedCodeRow[]> {
  const r = await db.query<{ site: string; system: string; code: string; display: string | null; unit: string | null; count: string | number; last_seen_at: Date }>(
    `SELECT site, system, code,
            (array_agg(display ORDER BY last_seen_at DESC) FILTER (WHERE display IS NOT NULL))[1] AS display,
            (array_agg(unit ORDER BY last_seen_at DESC) FILTER (WHERE unit IS NOT NULL))[1] AS unit,
            sum(count) AS count, max(last_seen_at) AS last_seen_at
     FROM unmapped_codes WHERE ($1::text IS NULL OR site = $1)
     GROUP BY site, system, code ORDER BY sum(count) DESC, site, system, code LIMIT $2`,
    [q.site ?? null, q.limit],
  );
  return r.rows.map((x) => ({ site: x.site, system: x.system, code: x.code, display: x.display, unit: x.unit, count: Number(x.count), lastSeenAt: new Date(x.last_seen_at).toISOString() }));
}
