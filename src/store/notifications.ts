/**
 * Rejected notifications (README "Connect a site"): what an operator needs to
 * diagnose one, and nothing more. A body we could not use may be up to the
 * request limit and full of PHI, so only its length, its SHA-256 (to match it
 * with the sender's logs) and its first characters with every digit masked
 * (dates, MRNs and values are digits) are kept, with the parse problem.
 */
import crypto from 'node:crypto';
import type { Db } from './db';

/** Characters of a rejected body kept, digits masked. */
export const REJECTED_HEAD_CHARS = 200;

/** The diagnosable remains of a rejected body. */
export interface RejectedBody {
  readonly head: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** Reduces a rejected body to {@link RejectedBody}. */
export function rejectedBody(raw: string): RejectedBody {
  const buf = Buffer.from(raw, 'utf8');
  return {
    head: raw.slice(0, REJECTED_HEAD_CHARS).replace(/[0-9]/g, '#'),
    bytes: buf.length,
    sha256: crypto.createHash('sha256').update(buf).digest('hex'),
  };
}

/** Records a rejected notification of `site` (pruned after the retention with the others); returns its row id. */
export async function insertRejectedNotification(db: Db, site: string, raw: string, problem: string): Promise<number> {
  const b = rejectedBody(raw);
  const r = await db.query<{ id: number }>(
    `INSERT INTO notifications (site, kind, state, problem, body, body_bytes, body_sha256) VALUES ($1, 'backport', 'rejected', $2, $3, $4, $5) RETURNING id`,
    [site, problem.slice(0, 2000), b.head, b.bytes, b.sha256],
  );
  return Number(r.rows[0].id);
}
