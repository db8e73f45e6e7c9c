/**
 * Investigators' answers to judgement criteria given in the workbench
 * (migration 011). Rows are never changed: each answer is a new row and the
 * latest per criterion is the one that counts (README "Clinical API").
 */
import type { Actor } from './audit';
import type { Db } from './db';

export const ANSWER_VALUES = ['met', 'not-met', 'not-applicable'] as const;
export type AnswerValue = (typeof ANSWER_VALUES)[number];

export interface AnswerKey {
  readonly trial: string;
  readonly subject: string;
  readonly site: string;
}

export interface StoredAnswer {
  readonly id: number;
  readonly criterion: string;
  readonly answer: AnswerValue;
  readonly note: string | null;
  readonly by: string;
  readonly role: string;
  readonly printedName: string;
  /** ISO 8601 instant (UTC). */
  readonly at: string;
}

type Raw = { id: number; criterion: string; answer: AnswerValue; note: string | null; user_id: string; user_role: string; printed_name: string; answered_at: Date };

const fromRaw = (x: Raw): StoredAnswer => ({
  id: Number(x.id), criterion: x.criterion, answer: x.answer, note: x.note, by: x.user_id, role: x.user_role, printedName: x.printed_name,
  at: new Date(x.answered_at).toISOString(),
});

const COLUMNS = 'id, criterion, answer, note, user_id, user_role, printed_name, answered_at';

/** The latest answer per criterion of one subject, by criterion id. */
export async function latestAnswers(db: Db, k: AnswerKey): Promise<Map<string, StoredAnswer>> {
  const r = await db.query<Raw>(
    `SELECT DISTINCT ON (criterion) ${COLUMNS} FROM clinician_answers
     WHERE trial = $1 AND subject = $2 AND site = $3 ORDER BY criterion, id DESC`,
    [k.trial, k.subject, k.site],
  );
  return new Map(r.rows.map((x) => [x.criterion, fromRaw(x)]));
}

/** Stores one answer as `actor` (use the transaction that audits it); returns it with the previous latest one. */
export async function insertAnswer(
  tx: Db, k: AnswerKey, actor: Actor, a: { criterion: string; answer: AnswerValue; note: string | null },
): Promise<{ answer: StoredAnswer; previous: StoredAnswer | null }> {
  const prev = await tx.query<Raw>(
    `SELECT ${COLUMNS} FROM clinician_answers WHERE trial = $1 AND subject = $2 AND site = $3 AND criterion = $4 ORDER BY id DESC LIMIT 1`,
    [k.trial, k.subject, k.site, a.criterion],
  );
  const r = await tx.query<Raw>(
    `INSERT INTO clinician_answers (trial, site, subject, criterion, answer, note, user_id, user_role, printed_name)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${COLUMNS}`,
    [k.trial, k.site, k.subject, a.criterion, a.answer, a.note, actor.id, actor.role, actor.name],
  );
  return { answer: fromRaw(r.rows[0]), previous: prev.rows[0] ? fromRaw(prev.rows[0]) : null };
}
