/**
 * valueQuantity -> CRF number: which unit string to trust, aliases, conversion, rounding.
 *
 * Unit source (clinical-reference §2, Adapter rule): `valueQuantity.code` when its
 * `system` is UCUM or absent, else the `unit` text; NEVER the LOINC code, except the
 * code's impliedUnit when the rule says onMissingUnit 'assume' and the quantity has no
 * unit at all. A `code` in another system (a SNOMED concept, observation-example-f204)
 * is ignored in favour of the text.
 */
import { UCUM_SYSTEM, type CompiledRule } from './rule-types';
import type { ReviewReason } from './types';
import { convert, normaliseUnitText, roundHalfUp } from './units';

export interface QuantityJson {
  readonly value?: unknown;
  readonly comparator?: unknown;
  readonly unit?: unknown;
  readonly system?: unknown;
  readonly code?: unknown;
}

export type QuantityResult =
  | { readonly ok: true; readonly value: number; readonly original: number; readonly originalUnit: string | null }
  | { readonly ok: false; readonly reason: ReviewReason; readonly detail: string };

const text = (x: unknown): string => (typeof x === 'string' ? x.trim() : '');

/** Converts one valueQuantity for one rule; `loinc` is the coding that matched the rule. */
export function mapQuantity(q: QuantityJson, rule: CompiledRule, loinc: string): QuantityResult {
  if (typeof q.value !== 'number' || !Number.isFinite(q.value)) {
    return { ok: false, reason: 'missing-value', detail: 'valueQuantity.value is absent or not a number' };
  }
  if (q.comparator !== undefined) {
    return { ok: false, reason: 'unexpected-value-type', detail: `valueQuantity.comparator '${text(q.comparator)}' makes the value a bound, not a measurement` };
  }
  const target = rule.unit as string;
  const source = unitSource(q);
  let from: string;
  let originalUnit: string | null;
  let element: string;
  if (source) {
    ({ raw: originalUnit, element } = source);
    const normalised = normaliseUnitText(source.raw);
    from = rule.analyte.unitAliases.get(normalised) ?? normalised;
  } else {
    const implied = rule.onMissingUnit === 'assume' ? rule.analyte.impliedUnits.get(loinc) : undefined;
    if (!implied) {
      const other = text(q.code) && !isUcumSystem(q.system) ? `; valueQuantity.code is in ${text(q.system)}, not UCUM` : '';
      return { ok: false, reason: 'missing-unit', detail: `valueQuantity has neither a UCUM code nor a unit text${other} (LOINC ${loinc} does not fix the unit for this rule)` };
    }
    from = implied;
    originalUnit = null;
    element = `unit assumed from LOINC ${loinc}`;
  }
  const res = convert(q.value, from, target, rule.analyte.molecularWeight);
  if (!res.ok) {
    const why = res.reason === 'invalid-unit' ? 'is not a valid UCUM unit' : `cannot be converted to '${target}' for ${rule.analyte.id}`;
    return { ok: false, reason: res.reason, detail: `${element} '${originalUnit ?? from}' ${why}` };
  }
  return { ok: true, value: roundHalfUp(res.value, rule.decimals), original: q.value, originalUnit };
}

function isUcumSystem(system: unknown): boolean {
  return system === undefined || system === null || system === UCUM_SYSTEM;
}

/** The unit string to use and the element it came from, or null when there is none. */
function unitSource(q: QuantityJson): { raw: string; element: string } | null {
  const code = text(q.code);
  if (code && isUcumSystem(q.system)) return { raw: code, element: 'valueQuantity.code' };
  const unit = text(q.unit);
  if (unit) return { raw: unit, element: 'valueQuantity.unit' };
  return null;
}
