/**
 * The review API (README "Review API"): data managers accept, correct and
 * reject CRF values, accept a visit's values at once, and resolve or dismiss
 * review items; everyone in scope reads a value's provenance and history and
 * the audit trail.
 *
 * Every endpoint checks the principal's grants against the trial and site of
 * the row it touches (http/scope.ts; 21 CFR Part 11 §11.10(d) and (g): access
 * limited to authorised individuals, authority checks). A row outside the
 * reader's scope is refused with 403 that names the action, never the data.
 * After a change the subject is re-evaluated before the answer, so flags and
 * the report already reflect it.
 */
import { reevaluate, type ApiDeps } from './deps';
import express, { type Request, type Router } from 'express';
import { AppError } from '../errors';
import { ah, assertCan, can, scopeOf, scopeSql, type Action, type Principal, principalOf } from '../http';
import { itemUnits, roundHalfUp, type CompiledRule, type MappingSet } from '../mapping';
import { isReason, MAX_NOTE_LENGTH, OTHER_REASON, REVIEW_REASONS, type ReasonKind } from '../protocol/review-reasons';
import { siteLocalTime } from '../protocol/schedule';
import { auditCsv, listAudit, type Actor } from '../store/audit';
import { crfValueById, reviewItemById, type CrfValueRow } from '../store/crf';
import type { Db } from '../store/db';
import { inboundBody } from '../store/inbound';
import { acceptValue, acceptVisit, correctValue, dismissReviewItem, rejectValue, resolveReviewItem, visitAssigned, type ReasonNote, type ReviewContext } from '../store/review';

/** What the review endpoints need. */
export type ReviewDeps = ApiDeps;

/** Audit rows per page, and the most one CSV download holds. */
export const AUDIT_DEFAULT_LIMIT = 100;
export const AUDIT_MAX_LIMIT = 1000;
export const AUDIT_CSV_MAX_ROWS = 100_000;
/** History rows shown with one CRF value. */
export const HISTORY_LIMIT = 1000;
/** Largest review request body (a value, a reason and a note). */
export const REVIEW_BODY_LIMIT = '64kb';

/** The principal, which requireUser set (never absent behind it). */
/**
 * The actor recorded in the audit trail: the user, with the role of the grant
 * that allowed `action` on (trial, site). Throws 403 when no grant does.
 */
export function actorFor(p: Principal, action: Action, trial: string, site: string): Actor {
  assertCan(p, action, trial, site);
  const g = p.grants.find((x) => can({ ...p, grants: [x] }, action, trial, site))!;
  return { id: p.id, role: g.role, name: p.name };
}

function idParam(v: string, name: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(v)) throw new AppError('not-found', `no ${name} "${v.slice(0, 40)}"`);
  return Number(v);
}

function bodyOf(req: Request): Record<string, unknown> {
  const b: unknown = req.body;
  if (b === undefined || b === null) return {};
  if (typeof b !== 'object' || Array.isArray(b)) throw new AppError('invalid-review', 'the body must be a JSON object', ['body']);
  return b as Record<string, unknown>;
}

/** An optional note: a string of at most MAX_NOTE_LENGTH characters, trimmed; empty is none. */
export function noteOf(body: Record<string, unknown>): string | null {
  const n = body.note;
  if (n === undefined || n === null) return null;
  if (typeof n !== 'string') throw new AppError('invalid-review', 'note must be a string', ['note']);
  const t = n.trim();
  if (t.length > MAX_NOTE_LENGTH) throw new AppError('invalid-review', `note must be at most ${MAX_NOTE_LENGTH} characters`, ['note']);
  return t || null;
}

/** The reason code from the controlled list of `kind`, and the note (`other` needs one). */
export function reasonOf(kind: ReasonKind, body: Record<string, unknown>): ReasonNote {
  if (body.reason === undefined || body.reason === null || body.reason === '') throw new AppError('invalid-review', `reason is required: one of ${REVIEW_REASONS[kind].map((r) => r.code).join(', ')}`, ['reason']);
  if (!isReason(kind, body.reason)) {
    throw new AppError('invalid-review', `reason must be one of ${REVIEW_REASONS[kind].map((r) => r.code).join(', ')} (GET /api/review-reasons)`, ['reason']);
  }
  const note = noteOf(body);
  if (body.reason === OTHER_REASON && !note) throw new AppError('invalid-review', 'reason "other" needs a note saying why', ['note']);
  return { reason: body.reason, note };
}

/** A value as the CRF item stores it, and what was typed when it was converted. */
export interface ItemValue {
  readonly value: number | string;
  readonly unit: string | null;
  readonly entered: { readonly value: number; readonly unit: string } | null;
}

/**
 * Checks a person's value against the CRF item: a numeric item takes a finite
 * number in its unit or in a unit the one converter (mapping/item-units.ts)
 * turns into it (the result rounded to the item's decimals, as the pipeline
 * does); a coded item takes one of its codes and no unit.
 */
export function itemValueOf(mappings: MappingSet, rule: CompiledRule, body: Record<string, unknown>): ItemValue {
  const where = `${rule.form}.${rule.item}`;
  if (rule.analyte.valueType === 'quantity' && rule.unit !== null) {
    const v = body.value;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new AppError('invalid-review', `value must be a finite number for ${where}`, ['value']);
    const typed = body.unit === undefined || body.unit === null ? rule.unit : body.unit;
    if (typeof typed !== 'string' || !typed.trim()) throw new AppError('invalid-review', `unit must be a non-empty unit text for ${where}`, ['unit']);
    const units = itemUnits(mappings, rule.trial);
    if (units.canonical(rule.item, typed) === units.canonical(rule.item, rule.unit)) return { value: v, unit: rule.unit, entered: null };
    const converted = units.convert(rule.item, v, typed, rule.unit);
    if (converted === null) throw new AppError('invalid-review', `unit "${typed.slice(0, 40)}" cannot be converted to ${rule.unit} for ${where}`, ['unit']);
    return { value: roundHalfUp(converted, rule.decimals), unit: rule.unit, entered: { value: v, unit: typed } };
  }
  const v = body.value;
  if (typeof v !== 'string' || !v.trim()) throw new AppError('invalid-review', `value must be a code (text) for ${where}`, ['value']);
  const codes = new Set([...rule.codeMap.values(), ...rule.textMap.values()]);
  if (codes.size && !codes.has(v)) throw new AppError('invalid-review', `value must be one of ${[...codes].sort().join(', ')} for ${where}`, ['value']);
  if (body.unit !== undefined && body.unit !== null) throw new AppError('invalid-review', `${where} is a coded item and takes no unit`, ['unit']);
  return { value: v, unit: null, entered: null };
}

/** The CRF item (form, item) of the trial's CRF definition, or a 400 naming the field. */
export function crfItemOf(mappings: MappingSet, trial: string, form: unknown, item: unknown): CompiledRule {
  const rules = mappings.rulesFor(trial);
  if (typeof form !== 'string' || !rules.some((r) => r.form === form)) throw new AppError('invalid-review', `form must be a form of the CRF of ${trial}`, ['form']);
  const rule = rules.find((r) => r.form === form && r.item === item);
  if (!rule) throw new AppError('invalid-review', `item must be an item of form ${form} of the CRF of ${trial}`, ['item']);
  return rule;
}

/** A FHIR dateTime with a time and a UTC offset (R4 requires the offset when a time is given). */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function instantOf(v: unknown): string | null {
  if (typeof v !== 'string' || !DATE_TIME.test(v)) return null;
  const t = Date.parse(v);
  return Number.isFinite(t) ? new Date(t).toISOString() : null;
}

/** The effective time of a source resource, as the mapping rules read it (Observation.effective[x], issued, the Bundle's fallback). */
function sourceEffective(body: Record<string, unknown>, context: Record<string, unknown> | null): unknown {
  const period = body.effectivePeriod as { start?: unknown } | undefined;
  return body.effectiveDateTime ?? period?.start ?? body.effectiveInstant ?? body.issued ?? context?.fallbackEffective;
}

/** What the source said: its value and unit (null when it gave none). */
function sourceQuantity(body: Record<string, unknown>): { value: unknown; unit: string | null } {
  const q = body.valueQuantity as { value?: unknown; unit?: unknown; code?: unknown } | undefined;
  if (q) return { value: q.value ?? null, unit: typeof q.unit === 'string' ? q.unit : typeof q.code === 'string' ? q.code : null };
  if (typeof body.valueString === 'string') return { value: body.valueString, unit: null };
  const cc = body.valueCodeableConcept as { coding?: { code?: unknown }[]; text?: unknown } | undefined;
  if (cc) return { value: cc.coding?.find((c) => typeof c.code === 'string')?.code ?? cc.text ?? null, unit: null };
  return { value: null, unit: null };
}

/** The code of the source that belongs to the item's analyte group, else its first LOINC or other code. */
function sourceCode(body: Record<string, unknown>, rule: CompiledRule): string {
  const codings = ((body.code as { coding?: { system?: string; code?: string }[] } | undefined)?.coding ?? []).filter((c) => typeof c.code === 'string');
  return (codings.find((c) => rule.analyte.codes.includes(c.code!)) ?? codings.find((c) => c.system === 'http://loinc.org') ?? codings[0])?.code ?? '';
}

export function reviewRouter(db: Db, deps: ReviewDeps): Router {
  const r = express.Router();
  r.use(['/crf-values', '/subjects/:subject/visits', '/review-items'], express.json({ limit: REVIEW_BODY_LIMIT, type: ['application/json', 'application/*+json'] }));

  const afterChange = async (row: { trial: string; subject: string; site: string }) => {
    // The key only: a CRF row carries values, which must not travel into job data or logs (design.md habit 5).
    const k = { trial: row.trial, subject: row.subject, site: row.site };
    try {
      await reevaluate(deps, k);
    } catch (e) {
      // The change is committed; the next evaluation picks it up. References only in the log (design.md habit 9).
      deps.log?.warn({ trial: k.trial, site: k.site, err: (e as Error).message?.slice(0, 200) }, 're-evaluation after review failed');
    }
  };
  const ctxOf = (req: Request, actor: Actor): ReviewContext => ({ actor, traceId: req.traceId ?? null });

  const detail = async (v: CrfValueRow) => {
    let conversion = null;
    if (typeof v.originalValue === 'number' && v.originalUnit && v.unit) {
      const units = itemUnits(deps.mappings, v.trial);
      if (units.canonical(v.item, v.originalUnit) !== units.canonical(v.item, v.unit)) {
        conversion = { from: v.originalUnit, to: v.unit, originalValue: v.originalValue, value: units.convert(v.item, v.originalValue, v.originalUnit, v.unit) };
      }
    }
    return {
      value: { ...v, ...siteLocalTime(v.effective, deps.timeZoneOf(v.site)) },
      provenance: {
        source: { reference: v.source.reference, version: v.source.version, inboundId: v.source.inboundId, localCode: v.source.localCode },
        originalValue: v.originalValue, originalUnit: v.originalUnit, effective: v.effective, ruleId: v.ruleId, code: v.code, conversion,
      },
      history: await listAudit(db, { entity: 'crf_value', entityId: String(v.id), limit: HISTORY_LIMIT }),
    };
  };
  const valueOr404 = async (raw: string) => {
    const v = await crfValueById(db, idParam(raw, 'CRF value'));
    if (!v) throw new AppError('not-found', `no CRF value ${raw}`);
    return v;
  };

  r.get('/review-reasons', (_req, res) => {
    res.json(REVIEW_REASONS);
  });

  r.get('/crf-values/:id', ah(async (req, res) => {
    const v = await valueOr404(req.params.id);
    assertCan(principalOf(req), 'read', v.trial, v.site);
    res.json(await detail(v));
  }));

  r.post('/crf-values/:id/accept', ah(async (req, res) => {
    const v = await valueOr404(req.params.id);
    const actor = actorFor(principalOf(req), 'review', v.trial, v.site);
    const note = noteOf(bodyOf(req));
    const done = await acceptValue(db, ctxOf(req, actor), v.id, note);
    await afterChange(done);
    res.json(await detail(done));
  }));

  r.post('/crf-values/:id/correct', ah(async (req, res) => {
    const v = await valueOr404(req.params.id);
    const actor = actorFor(principalOf(req), 'review', v.trial, v.site);
    const body = bodyOf(req);
    const why = reasonOf('correct', body);
    const rule = deps.mappings.rulesFor(v.trial).find((x) => x.form === v.form && x.item === v.item);
    if (!rule) throw new AppError('review-conflict', `${v.form}.${v.item} is no longer an item of the CRF of ${v.trial}; reject the value instead`, ['item']);
    const iv = itemValueOf(deps.mappings, rule, body);
    const done = await correctValue(db, ctxOf(req, actor), v.id, { ...why, ...iv });
    await afterChange(done);
    res.json(await detail(done));
  }));

  r.post('/crf-values/:id/reject', ah(async (req, res) => {
    const v = await valueOr404(req.params.id);
    const actor = actorFor(principalOf(req), 'review', v.trial, v.site);
    const done = await rejectValue(db, ctxOf(req, actor), v.id, reasonOf('reject', bodyOf(req)));
    await afterChange(done);
    res.json(await detail(done));
  }));

  r.post('/subjects/:subject/visits/:visit/accept', ah(async (req, res) => {
    const body = bodyOf(req);
    const { subject, visit } = req.params;
    for (const k of ['trial', 'site'] as const) if (typeof body[k] !== 'string' || !body[k]) throw new AppError('invalid-review', `${k} is required`, [k]);
    const trial = body.trial as string;
    const site = body.site as string;
    const actor = actorFor(principalOf(req), 'review', trial, site);
    const def = deps.trials.get(trial);
    if (!def) throw new AppError('invalid-review', `trial "${trial.slice(0, 64)}" is not configured`, ['trial']);
    if (!def.visits.some((x) => x.code === visit)) throw new AppError('invalid-review', `visit must be a visit of ${trial}: ${def.visits.map((x) => x.code).join(', ')}`, ['visit']);
    const k = { trial, subject, site, visit };
    if (!(await visitAssigned(db, k))) throw new AppError('not-found', `no values of subject "${subject}" are assigned to visit ${visit} of ${trial} at ${site}`);
    const accepted = await acceptVisit(db, ctxOf(req, actor), k, noteOf(body));
    await afterChange({ trial, subject, site });
    res.json({ trial, site, subject, visit, accepted });
  }));

  r.post('/review-items/:id/resolve', ah(async (req, res) => {
    const it = await reviewItemById(db, idParam(req.params.id, 'review item'));
    if (!it) throw new AppError('not-found', `no review item ${req.params.id}`);
    const actor = actorFor(principalOf(req), 'review', it.trial, it.site);
    const body = bodyOf(req);
    if (!it.trial || !it.subject) throw new AppError('review-conflict', `review item ${it.id} (${it.reason}) names no enrolled subject: no CRF value can be entered for it; dismiss it`, ['trial']);
    if (it.status !== 'open') throw new AppError('review-conflict', `review item ${it.id} cannot be resolved: it is already ${it.status}`, ['status']);
    const rule = crfItemOf(deps.mappings, it.trial, body.form, body.item);
    const iv = itemValueOf(deps.mappings, rule, body);
    const why = reasonOf('correct', body);
    const src = await inboundBody(db, it.inboundId);
    let effective: string | null;
    if (body.effective !== undefined && body.effective !== null) {
      effective = instantOf(body.effective);
      if (!effective) throw new AppError('invalid-review', 'effective must be a FHIR dateTime with a time and UTC offset (e.g. 2024-03-01T08:00:00+08:00)', ['effective']);
    } else {
      effective = src ? instantOf(sourceEffective(src.body, src.context)) : null;
      if (!effective) throw new AppError('invalid-review', `${it.resource} gives no effective time with a time and UTC offset; send effective`, ['effective']);
    }
    const original = src ? sourceQuantity(src.body) : { value: null, unit: null };
    const done = await resolveReviewItem(db, ctxOf(req, actor), it.id, {
      form: rule.form, item: rule.item, ...iv, ...why, effective, originalValue: original.value, originalUnit: original.unit, code: src ? sourceCode(src.body, rule) : '',
    });
    await afterChange({ trial: it.trial, subject: it.subject, site: it.site });
    res.status(201).json({ item: done.item, ...(await detail(done.value)) });
  }));

  r.post('/review-items/:id/dismiss', ah(async (req, res) => {
    const it = await reviewItemById(db, idParam(req.params.id, 'review item'));
    if (!it) throw new AppError('not-found', `no review item ${req.params.id}`);
    const actor = actorFor(principalOf(req), 'review', it.trial, it.site);
    const done = await dismissReviewItem(db, ctxOf(req, actor), it.id, reasonOf('dismiss', bodyOf(req)));
    if (it.trial && it.subject) await afterChange({ trial: it.trial, subject: it.subject, site: it.site });
    res.json({ item: done });
  }));

  r.get('/audit', ah(async (req, res) => {
    const p = principalOf(req);
    const q = (k: string): string | undefined => {
      const v = req.query[k];
      if (v === undefined) return undefined;
      if (typeof v !== 'string' || !v) throw new AppError('invalid-query', `${k} must be given once, non-empty`, [k]);
      return v;
    };
    const format = q('format');
    if (format !== undefined && format !== 'csv' && format !== 'json') throw new AppError('invalid-query', 'format must be csv or json', ['format']);
    const csv = format === 'csv';
    const max = csv ? AUDIT_CSV_MAX_ROWS : AUDIT_MAX_LIMIT;
    const int = (k: string, dflt: number, top: number) => {
      const v = q(k);
      if (v === undefined) return dflt;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > top) throw new AppError('invalid-query', `${k} must be an integer from 0 to ${top}`, [k]);
      return n;
    };
    const limit = int('limit', csv ? AUDIT_CSV_MAX_ROWS : AUDIT_DEFAULT_LIMIT, max);
    const afterId = int('after', 0, Number.MAX_SAFE_INTEGER);
    // Admins with a grant for everything read all of it (rows of no trial included: connector and system events);
    // everyone else reads the rows of their trials and sites (21 CFR Part 11 §11.10(d)).
    const params: unknown[] = [];
    const sql = scopeOf(p, 'admin').all ? 'TRUE' : `(${scopeSql(p, params, '', 'read')}) AND trial IS NOT NULL AND site IS NOT NULL`;
    const rows = await listAudit(db, {
      trial: q('trial'), site: q('site'), subject: q('subject'), entity: q('entity'), entityId: q('entityId'), afterId, limit, scope: { sql, params },
    });
    const next = rows.length === limit && rows.length ? rows[rows.length - 1].id : null;
    if (csv) {
      res.type('text/csv; charset=utf-8');
      res.set('Content-Disposition', 'attachment; filename="audit.csv"');
      if (next !== null) res.set('X-Next-After', String(next));
      res.send(auditCsv(rows));
      return;
    }
    res.json({ rows, next });
  }));

  return r;
}
