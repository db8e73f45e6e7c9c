/**
 * A person's review of CRF values and review items (README "Review API").
 *
 * Every change runs inside `asActor`, so the trigger of migration 008 writes
 * the audit rows of CRF values under the person's name, role and reason; the
 * decisions about review items are appended with `appendAudit` in the same
 * transaction (21 CFR Part 11 §11.10(e): who, when, what, why). State checks
 * happen under a row lock, so two people deciding at once cannot both win.
 */
import { AppError } from '../errors';
import { appendAudit, asActor, type Actor } from './audit';
import { crfValueById, reviewItemById, SOURCE_CHANGED_AFTER_REVIEW, type CrfValueRow, type ReviewItemRow } from './crf';
import type { Db } from './db';

export interface ReviewContext {
  readonly actor: Actor;
  readonly traceId?: string | null;
}

/** A reason code and an optional note, as the audit trail records them. */
export interface ReasonNote {
  readonly reason: string;
  readonly note?: string | null;
}

/** The audit reason text: the code, then the note. */
export function auditReason(r: { reason?: string | null; note?: string | null }): string | null {
  const parts = [r.reason, r.note].filter((x): x is string => !!x);
  return parts.length ? parts.join(': ') : null;
}

async function lockValue(tx: Db, id: number): Promise<CrfValueRow> {
  const v = await crfValueById(tx, id, true);
  if (!v) throw new AppError('not-found', `no CRF value ${id}`);
  return v;
}

/** Refuses a decision about a value in `status`, with what the value is and what can be done instead. */
function refuse(v: CrfValueRow, action: string, allowed: readonly string[]): void {
  if (allowed.includes(v.status)) return;
  const why: Record<string, string> = {
    superseded: 'it was superseded by a newer version of its source resource',
    rejected: 'it was rejected; correct it to enter a value',
    accepted: 'it is already accepted',
    corrected: 'it was corrected by a person; correct it again to change it',
    auto: 'it has not been reviewed yet',
  };
  throw new AppError('review-conflict', `CRF value ${v.id} cannot be ${action}: ${why[v.status] ?? `status ${v.status}`}`, ['status']);
}

async function setAction(tx: Db, action: string, reason: string | null): Promise<void> {
  await tx.query(`SELECT set_config('trialbridge.action', $1, true), set_config('trialbridge.reason', $2, true)`, [action, reason ?? '']);
}

/**
 * After a person decided about a value waiting for re-review: its review item
 * is resolved, and when the person took the new value (accept, correct) the
 * older values of the same source resource and item stop counting.
 */
async function settleRereview(tx: Db, ctx: ReviewContext, v: CrfValueRow, action: string, takesOver: boolean): Promise<void> {
  if (!v.pendingReview) return;
  if (takesOver) {
    await setAction(tx, 'supersede', `superseded by CRF value ${v.id} of a newer source version`);
    const [type, id] = splitReference(v.source.reference);
    await tx.query(
      `UPDATE crf_values SET status = 'superseded', updated_at = now()
       WHERE site = $1 AND source_type = $2 AND source_id = $3 AND trial = $4 AND subject = $5 AND form = $6 AND item = $7
         AND inbound_id <> $8 AND status IN ('auto', 'accepted', 'corrected', 'rejected')`,
      [v.site, type, id, v.trial, v.subject, v.form, v.item, v.source.inboundId],
    );
  }
  const items = await tx.query<{ id: number }>(
    `UPDATE review_items SET status = 'resolved', resolved_by = $1, resolved_at = now(), resolution_reason = $2, crf_value_id = $3
     WHERE inbound_id = $4 AND trial = $5 AND subject = $6 AND reason = $7 AND status = 'open' RETURNING id`,
    [ctx.actor.id, action, v.id, v.source.inboundId, v.trial, v.subject, SOURCE_CHANGED_AFTER_REVIEW],
  );
  for (const it of items.rows) {
    await appendAudit(tx, ctx.actor, {
      trial: v.trial, site: v.site, subject: v.subject, entity: 'review_item', entityId: String(it.id), action: 'resolve', field: 'status',
      oldValue: { status: 'open' }, newValue: { status: 'resolved', crfValueId: v.id }, reason: `${action} CRF value ${v.id}`,
    }, ctx.traceId);
  }
}

function splitReference(ref: string): [string, string] {
  const i = ref.indexOf('/');
  return [ref.slice(0, i), ref.slice(i + 1)];
}

/** auto → accepted. */
export async function acceptValue(db: Db, ctx: ReviewContext, id: number, note: string | null): Promise<CrfValueRow> {
  return asActor(db, { actor: ctx.actor, action: 'accept', reason: note, traceId: ctx.traceId }, async (tx) => {
    const v = await lockValue(tx, id);
    refuse(v, 'accepted', ['auto']);
    await tx.query(
      `UPDATE crf_values SET status = 'accepted', reviewed_by = $2, reviewed_at = now(), review_reason = NULL, review_note = $3, updated_at = now() WHERE id = $1`,
      [id, ctx.actor.id, note],
    );
    await settleRereview(tx, ctx, v, 'accept', true);
    return (await crfValueById(tx, id))!;
  });
}

export interface Correction extends ReasonNote {
  /** In the CRF unit (converted when the person typed another unit). */
  readonly value: number | string;
  readonly unit: string | null;
  /** What the person typed, when it was converted: kept in the audit trail. */
  readonly entered?: { readonly value: number; readonly unit: string } | null;
}

/**
 * The person's value replaces `value`/`unit`; original_value/original_unit stay
 * what the source said; auto_value/auto_unit keep what the pipeline computed.
 */
export async function correctValue(db: Db, ctx: ReviewContext, id: number, c: Correction): Promise<CrfValueRow> {
  return asActor(db, { actor: ctx.actor, action: 'correct', reason: auditReason(c), traceId: ctx.traceId }, async (tx) => {
    const v = await lockValue(tx, id);
    refuse(v, 'corrected', ['auto', 'accepted', 'corrected']);
    await tx.query(
      `UPDATE crf_values SET
         auto_value = CASE WHEN status = 'corrected' THEN auto_value ELSE value END,
         auto_unit = CASE WHEN status = 'corrected' THEN auto_unit ELSE unit END,
         value = $2::jsonb, unit = $3, status = 'corrected', reviewed_by = $4, reviewed_at = now(), review_reason = $5, review_note = $6, updated_at = now()
       WHERE id = $1`,
      [id, JSON.stringify(c.value), c.unit, ctx.actor.id, c.reason, c.note ?? null],
    );
    if (c.entered) {
      await appendAudit(tx, ctx.actor, {
        trial: v.trial, site: v.site, subject: v.subject, entity: 'crf_value', entityId: String(id), action: 'entered', field: `${v.form}.${v.item}`,
        oldValue: null, newValue: { value: c.entered.value, unit: c.entered.unit, convertedTo: { value: c.value, unit: c.unit } }, reason: auditReason(c),
      }, ctx.traceId);
    }
    await settleRereview(tx, ctx, v, 'correct', true);
    return (await crfValueById(tx, id))!;
  });
}

/** → rejected: the value counts nowhere (it stays, with its history). */
export async function rejectValue(db: Db, ctx: ReviewContext, id: number, r: ReasonNote): Promise<CrfValueRow> {
  return asActor(db, { actor: ctx.actor, action: 'reject', reason: auditReason(r), traceId: ctx.traceId }, async (tx) => {
    const v = await lockValue(tx, id);
    refuse(v, 'rejected', ['auto', 'accepted', 'corrected']);
    await tx.query(
      `UPDATE crf_values SET status = 'rejected', reviewed_by = $2, reviewed_at = now(), review_reason = $3, review_note = $4, updated_at = now() WHERE id = $1`,
      [id, ctx.actor.id, r.reason, r.note ?? null],
    );
    await settleRereview(tx, ctx, v, 'reject', false);
    return (await crfValueById(tx, id))!;
  });
}

/** Every `auto` value the last evaluation assigned to `visit` → accepted (one audit row each). Returns their ids. */
export async function acceptVisit(db: Db, ctx: ReviewContext, k: { trial: string; subject: string; site: string; visit: string }, note: string | null): Promise<number[]> {
  return asActor(db, { actor: ctx.actor, action: 'accept', reason: note ? `visit ${k.visit}: ${note}` : `visit ${k.visit}`, traceId: ctx.traceId }, async (tx) => {
    const r = await tx.query<{ id: number }>(
      `UPDATE crf_values c SET status = 'accepted', reviewed_by = $5, reviewed_at = now(), review_reason = NULL, review_note = $6, updated_at = now()
       WHERE c.id IN (SELECT va.crf_value_id FROM visit_assignments va WHERE va.trial = $1 AND va.subject = $2 AND va.site = $3 AND va.visit = $4)
         AND c.status = 'auto' AND c.rereview_of IS NULL
       RETURNING c.id`,
      [k.trial, k.subject, k.site, k.visit, ctx.actor.id, note],
    );
    return r.rows.map((x) => Number(x.id)).sort((a, b) => a - b);
  });
}

/** Whether the subject has any visit assignment for `visit` (accepting an unknown visit is an error, not a no-op). */
export async function visitAssigned(db: Db, k: { trial: string; subject: string; site: string; visit: string }): Promise<boolean> {
  const r = await db.query('SELECT 1 FROM visit_assignments WHERE trial = $1 AND subject = $2 AND site = $3 AND visit = $4 LIMIT 1', [k.trial, k.subject, k.site, k.visit]);
  return r.rows.length > 0;
}

/** The CRF value a person enters to resolve a review item (provenance: the item's source resource). */
export interface ManualValue extends ReasonNote {
  readonly form: string;
  readonly item: string;
  readonly value: number | string;
  readonly unit: string | null;
  readonly originalValue: unknown;
  readonly originalUnit: string | null;
  readonly effective: string;
  readonly code: string;
  readonly entered?: { readonly value: number; readonly unit: string } | null;
}

/** Rule id of values a person entered by hand. */
export const MANUAL_RULE = 'manual';

async function lockOpenItem(tx: Db, id: number, action: string): Promise<ReviewItemRow> {
  const it = await reviewItemById(tx, id, true);
  if (!it) throw new AppError('not-found', `no review item ${id}`);
  if (it.status !== 'open') throw new AppError('review-conflict', `review item ${id} cannot be ${action}: it is already ${it.status}`, ['status']);
  return it;
}

/** Inserts a `corrected` CRF value from the person and resolves the item with it. */
export async function resolveReviewItem(db: Db, ctx: ReviewContext, id: number, m: ManualValue): Promise<{ item: ReviewItemRow; value: CrfValueRow }> {
  return asActor(db, { actor: ctx.actor, action: 'resolve', reason: auditReason(m), traceId: ctx.traceId }, async (tx) => {
    const it = await lockOpenItem(tx, id, 'resolved');
    const [type, sourceId] = splitReference(it.resource);
    const ins = await tx.query<{ id: number }>(
      `INSERT INTO crf_values (trial, subject, site, form, item, value, unit, original_value, original_unit, effective, source_type, source_id, source_version,
         inbound_id, rule_id, code, status, reviewed_by, reviewed_at, review_reason, review_note)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8::jsonb, $9, $10::timestamptz, $11, $12, $13, $14, $15, $16, 'corrected', $17, now(), $18, $19)
       ON CONFLICT (trial, subject, site, source_type, source_id, source_version, rule_id) DO NOTHING RETURNING id`,
      [it.trial, it.subject, it.site, m.form, m.item, JSON.stringify(m.value), m.unit, JSON.stringify(m.originalValue ?? null), m.originalUnit, m.effective,
        type, sourceId, it.version, it.inboundId, MANUAL_RULE, m.code, ctx.actor.id, m.reason, m.note ?? null],
    );
    if (!ins.rows.length) {
      throw new AppError('review-conflict', `a value entered by hand for ${it.resource} version ${it.version} in ${it.trial} already exists; correct that value instead`, ['item']);
    }
    const valueId = Number(ins.rows[0].id);
    if (m.entered) {
      await appendAudit(tx, ctx.actor, {
        trial: it.trial, site: it.site, subject: it.subject, entity: 'crf_value', entityId: String(valueId), action: 'entered', field: `${m.form}.${m.item}`,
        oldValue: null, newValue: { value: m.entered.value, unit: m.entered.unit, convertedTo: { value: m.value, unit: m.unit } }, reason: auditReason(m),
      }, ctx.traceId);
    }
    await tx.query(
      `UPDATE review_items SET status = 'resolved', resolved_by = $2, resolved_at = now(), resolution_reason = $3, resolution_note = $4, crf_value_id = $5 WHERE id = $1`,
      [id, ctx.actor.id, m.reason, m.note ?? null, valueId],
    );
    await appendAudit(tx, ctx.actor, {
      trial: it.trial, site: it.site, subject: it.subject, entity: 'review_item', entityId: String(id), action: 'resolve', field: 'status',
      oldValue: { status: 'open' }, newValue: { status: 'resolved', crfValueId: valueId }, reason: auditReason(m),
    }, ctx.traceId);
    return { item: (await reviewItemById(tx, id))!, value: (await crfValueById(tx, valueId))! };
  });
}

/** open → dismissed, with the reason. */
export async function dismissReviewItem(db: Db, ctx: ReviewContext, id: number, r: ReasonNote): Promise<ReviewItemRow> {
  return asActor(db, { actor: ctx.actor, action: 'dismiss', reason: auditReason(r), traceId: ctx.traceId }, async (tx) => {
    const it = await lockOpenItem(tx, id, 'dismissed');
    await tx.query(
      `UPDATE review_items SET status = 'dismissed', resolved_by = $2, resolved_at = now(), resolution_reason = $3, resolution_note = $4 WHERE id = $1`,
      [id, ctx.actor.id, r.reason, r.note ?? null],
    );
    await appendAudit(tx, ctx.actor, {
      trial: it.trial || null, site: it.site, subject: it.subject || null, entity: 'review_item', entityId: String(id), action: 'dismiss', field: 'status',
      oldValue: { status: 'open' }, newValue: { status: 'dismissed' }, reason: auditReason(r),
    }, ctx.traceId);
    return (await reviewItemById(tx, id))!;
  });
}
