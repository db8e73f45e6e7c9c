/**
 * How the workbench writes values for people: quantities with readable units,
 * large counts in powers of ten, audit entries, reason codes as their labels,
 * and eligibility reasons without trialbridge's internal code-system URIs.
 * Display only: forms, the API and the CSV keep the stored codes (UCUM units,
 * reason codes), so what a person reads here can be traced to them.
 * static/app.js mirrors these rules for the value panel it fills in the browser.
 */
import { REVIEW_REASONS, type ReasonKind } from '../protocol/review-reasons';

const SUPERSCRIPT: Record<string, string> = { '0': '⁰', '1': '¹', '2': '²', '3': '³', '4': '⁴', '5': '⁵', '6': '⁶', '7': '⁷', '8': '⁸', '9': '⁹', '-': '⁻' };
const sup = (s: string): string => [...s].map((c) => SUPERSCRIPT[c] ?? c).join('');

/**
 * A UCUM unit as people write it (UCUM §2.2 and §2.6: `10*9` is 10⁹, `u` the
 * micro prefix, `{…}` an annotation without dimension, `[IU]` a unit in brackets).
 */
export function displayUnit(unit: string | null | undefined): string {
  if (!unit) return '';
  return unit
    .replace(/10\*(-?\d+)/g, (_m, e: string) => `10${sup(e)}`)
    .replace(/(^|[^A-Za-z])u(?=(mol|g|L|l|IU|\[IU\]|m)\b)/g, '$1µ')
    .replace(/\{([^}]*)\}/g, '$1')
    .replace(/\[([^\]]*)\]/g, '$1');
}

/** A number for reading: counts of a million and more as a × 10ⁿ (1.5 × 10⁸), others as given. */
export function displayNumber(n: number): string {
  if (!Number.isFinite(n) || Math.abs(n) < 1e6) return String(n);
  const e = Math.floor(Math.log10(Math.abs(n)));
  const m = Number((n / 10 ** e).toPrecision(4));
  return `${m === 1 ? '' : `${m} × `}10${sup(String(e))}`;
}

/** A CRF value with its unit, for reading (numbers through displayNumber, other values as text or JSON). */
export function displayQuantity(value: unknown, unit?: string | null): string {
  const v = value === null || value === undefined ? '' : typeof value === 'number' ? displayNumber(value) : typeof value === 'string' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
  const u = displayUnit(unit);
  return u ? `${v} ${u}` : v;
}

// ------------------------------------------------------------------------------------------ audit

/** Audit actions (store/audit.ts, migration 008) in words. */
const ACTION_LABEL: Record<string, string> = {
  insert: 'created', update: 'updated', accept: 'accepted', correct: 'corrected', reject: 'rejected', entered: 'entered by hand',
  resolve: 'resolved', dismiss: 'dismissed', answer: 'answered', sign: 'signed', void: 'voided', acknowledge: 'acknowledged',
};
export const actionLabel = (action: string): string => ACTION_LABEL[action] ?? action;

/** The automatic pipeline's actor id (migration 008 audit_actor()). */
export const SYSTEM_ACTOR_ID = 'trialbridge';

/** Who acted: the name, and the login in brackets; the pipeline is "automatic". */
export function actorLabel(r: { actor: string; actorName: string | null; actorRole: string }): { name: string; id: string } {
  if (r.actorRole === 'system' && r.actor === SYSTEM_ACTOR_ID) return { name: r.actorName ?? r.actor, id: 'automatic' };
  return { name: r.actorName ?? r.actor, id: r.actor };
}

/** Which record an audit row is about, in words: "Value LB.TBIL (#1)". */
export function entityLabel(r: { entity: string; entityId: string; field: string | null }): string {
  switch (r.entity) {
    case 'crf_value': return `Value ${r.field ?? ''} (#${r.entityId})`.replace('Value  ', 'Value ');
    case 'review_item': return `Review item #${r.entityId}`;
    case 'flag': return `Flag ${r.field ?? ''} (#${r.entityId})`.replace('Flag  ', 'Flag ');
    case 'signature': return r.field && r.field !== 'status' ? `Signature of ${r.field === 'CRF' ? 'the whole CRF' : `visit ${r.field}`} (#${r.entityId})` : `Signature #${r.entityId}`;
    case 'eligibility_answer': return `Answer to ${r.field ?? r.entityId}`;
    default: return `${r.entity} ${r.entityId}${r.field ? ` · ${r.field}` : ''}`;
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An audit old/new value in words: "6.2 mg/dL (auto)", "open", "signed “reviewed and approved”, 3 values". */
export function auditValue(v: unknown): string {
  if (v === null || v === undefined || v === '') return '—';
  if (!isRecord(v)) return typeof v === 'string' ? v : JSON.stringify(v);
  if ('convertedTo' in v && isRecord(v.convertedTo)) {
    const entered = displayQuantity(v.value, v.unit as string | null);
    const stored = displayQuantity(v.convertedTo.value, v.convertedTo.unit as string | null);
    return entered === stored ? entered : `${entered}, stored as ${stored}`;
  }
  if ('value' in v && ('unit' in v || 'status' in v)) return `${displayQuantity(v.value, v.unit as string | null)}${v.status ? ` (${String(v.status)})` : ''}`;
  if ('meaning' in v) return `“${String(v.meaning)}”${Array.isArray(v.valueIds) ? `, ${v.valueIds.length} value${v.valueIds.length === 1 ? '' : 's'}` : ''}`;
  if ('status' in v && Object.keys(v).every((k) => k === 'status' || k === 'crfValueId')) return `${String(v.status)}${v.crfValueId ? ` (value #${String(v.crfValueId)})` : ''}`;
  return Object.entries(v).map(([k, x]) => `${k}: ${typeof x === 'string' ? x : JSON.stringify(x)}`).join(', ');
}

/** Which controlled list an audit action's reason code comes from (src/api/review.ts reasonOf). */
const REASON_KIND: Record<string, ReasonKind> = { correct: 'correct', entered: 'correct', resolve: 'correct', reject: 'reject', dismiss: 'dismiss' };

export interface ReadableReason {
  /** The controlled reason's label, with its code (the CSV and the API use the code). */
  readonly label: string | null;
  readonly code: string | null;
  /** The person's free-text note (or a reason that is not from a list, e.g. the pipeline's). */
  readonly note: string | null;
}

/**
 * An audit row's reason split into the controlled reason and the note. Review
 * actions store "code" or "code: note" (store/review.ts auditReason); accepting
 * stores the note only, accepting a visit "visit W1" or "visit W1: note".
 */
export function readableReason(action: string, reason: string | null): ReadableReason {
  if (!reason) return { label: null, code: null, note: null };
  const kind = REASON_KIND[action];
  const m = /^([a-z0-9-]+)(?::\s*([\s\S]*))?$/.exec(reason);
  const known = kind && m ? REVIEW_REASONS[kind].find((r) => r.code === m[1]) : undefined;
  if (known && m) return { label: known.label, code: known.code, note: m[2]?.trim() || null };
  return { label: null, code: null, note: reason };
}

// ------------------------------------------------------------------------------------ eligibility

/** Code systems named in answer lists, by a short human name. */
const SYSTEM_NAMES: readonly [RegExp, string][] = [[/icd-10/i, 'ICD-10'], [/snomed/i, 'SNOMED CT'], [/loinc/i, 'LOINC']];

/** One answer a judgement criterion can take from the EHR ("Condition http://hl7.org/fhir/sid/icd-10|Z94.4"), in words. */
function answerSource(resourceType: string, system: string, code: string): string {
  if (system === 'urn:trialbridge:eligibility') return resourceType === 'Observation' ? 'EHR answer' : `EHR ${resourceType}`;
  const what = resourceType === 'Condition' ? 'EHR diagnosis' : `EHR ${resourceType}`;
  const named = SYSTEM_NAMES.find(([re]) => re.test(system));
  return `${what} ${named ? `${named[1]} ` : ''}${code}`;
}

/** A criterion's reason, split into what it says and the clinical-reference section it cites. */
export interface CriterionReason {
  readonly text: string;
  readonly cite: string | null;
}

/**
 * The evaluator's reason for a criterion, for investigators: the question
 * (already shown as the criterion's text) is left out, the internal code
 * systems become "EHR answer" / "EHR diagnosis", and the clinical-reference
 * citation is returned apart so it can be shown small.
 */
export function readableCriterionReason(reason: string | null | undefined): CriterionReason {
  if (!reason) return { text: 'not evaluated yet', cite: null };
  let text = reason;
  let cite: string | null = null;
  const c = /\s*\((clinical-reference [^()]*)\)\s*$/.exec(text);
  if (c) {
    cite = c[1];
    text = text.slice(0, c.index);
  }
  text = text.replace(/clinician judgement "[^"]*":\s*/g, '');
  text = text.replace(/no decisive answer recorded \(([^()]*)\)/g, (_m, named: string) => {
    const sources = [...new Set(named.split(' or ').map((part) => {
      const p = /^(\w+) (\S+)\|(\S+)$/.exec(part.trim());
      return p ? answerSource(p[1], p[2], p[3]) : part.trim();
    }))];
    const all = ['investigator answer', ...sources];
    return `no answer yet (${all.length > 2 ? `${all.slice(0, -1).join(', ')} or ${all[all.length - 1]}` : all.join(' or ')})`;
  });
  // Other answers named by trialbridge's own code system (e.g. the date of onset) are EHR answers too.
  text = text.replace(/\((?:Observation )?urn:trialbridge:eligibility\|[^)]*\)/g, '(expected as an EHR answer)');
  return { text: text.trim(), cite };
}
