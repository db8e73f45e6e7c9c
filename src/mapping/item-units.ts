/**
 * The one unit converter for callers outside mapping/ (design.md "One converter"): values
 * of one trial's CRF item between units, through the item's analyte group
 * (mappings/analytes.json: unit-text aliases and the mass<->molar factor of
 * clinical-reference §3, run through ucum-lhc by units.ts). The protocol engine converts
 * CRF values to the units of a formula or threshold here and nowhere else.
 *
 * Source precision: a CRF value is rounded for the CRF (e.g. bilirubin 4.6 mg/dL is stored
 * as 78.7 umol/L); converting that back gives 4.6023 mg/dL and MELD 16.7416 instead of the
 * 16.740 of clinical-reference §4.1 M10. {@link ItemUnits.valueIn} therefore converts the
 * source value itself whenever the CRF value is exactly that source value rounded, and the
 * CRF value only when a person changed it (a corrected value has no other source).
 */
import type { CompiledRule, MappingSet } from './rule-types';
import { convert, normaliseUnitText, roundHalfUp } from './units';

/** The value and unit as the source resource gave them (MappedValue.originalValue/originalUnit). */
export interface SourceQuantity {
  readonly value: number | string;
  /** The unit text of the source; null when the rule assumed the unit from the LOINC code. */
  readonly unit: string | null;
  /** The coding that matched the rule (fixes the assumed unit). */
  readonly code?: string;
}

/** A CRF value of one item, with the source it was mapped from when known. */
export interface CrfQuantity {
  readonly item: string;
  /** In the CRF unit, rounded to the CRF item's decimals. */
  readonly value: number | string;
  readonly unit: string | null;
  readonly source?: SourceQuantity | null;
}

/** Conversions of one trial's CRF items. */
export interface ItemUnits {
  /**
   * `value` of `item` from `from` (UCUM, or a feed spelling such as `µmol/L`) to the UCUM
   * unit `to`, at full precision; null when the units are not commensurable for the item.
   */
  convert(item: string, value: number, from: string, to: string): number | null;
  /**
   * The CRF value in `to`, from the source value when the CRF value is that source value
   * rounded (see the module comment), else from the CRF value; null when it is not a
   * number or cannot be converted.
   */
  valueIn(q: CrfQuantity, to: string): number | null;
  /** The UCUM code a unit text of `item` stands for (`µmol/L` -> `umol/L`, `IU/L` -> `U/L` for enzymes). */
  canonical(item: string, unit: string): string;
}

/** The converter for one trial's CRF items, from its compiled rules. */
export function itemUnits(set: MappingSet, trial: string): ItemUnits {
  const byItem = new Map<string, CompiledRule>();
  for (const rule of set.rulesFor(trial)) if (!byItem.has(rule.item)) byItem.set(rule.item, rule);
  return new RuleUnits(byItem);
}

/** Significant digits kept: far beyond any lab's precision, and below ucum-lhc's float noise. */
const SIGNIFICANT_DIGITS = 12;

/**
 * ucum-lhc scales through base units, so 85.5 umol/L comes back as 4.999999999999998 mg/dL;
 * 12 significant digits return the 5 that the §3 factor gives (clinical-reference §0
 * "Float comparisons", §3 "Pin 17.1 and test with 85.5 umol/L").
 */
function snap(x: number): number {
  return Number(x.toPrecision(SIGNIFICANT_DIGITS));
}

class RuleUnits implements ItemUnits {
  constructor(private readonly byItem: ReadonlyMap<string, CompiledRule>) {
    Object.freeze(this);
  }

  canonical(item: string, unit: string): string {
    const normalised = normaliseUnitText(unit);
    return this.byItem.get(item)?.analyte.unitAliases.get(normalised) ?? normalised;
  }

  convert(item: string, value: number, from: string, to: string): number | null {
    const res = convert(value, this.canonical(item, from), this.canonical(item, to), this.byItem.get(item)?.analyte.molecularWeight);
    return res.ok ? snap(res.value) : null;
  }

  valueIn(q: CrfQuantity, to: string): number | null {
    if (typeof q.value !== 'number' || !Number.isFinite(q.value) || q.unit === null) return null;
    const source = this.sourceOf(q);
    if (source) {
      const inCrfUnit = this.convert(q.item, source.value, source.unit, q.unit);
      const rule = this.byItem.get(q.item);
      if (inCrfUnit !== null && rule && roundHalfUp(inCrfUnit, rule.decimals) === q.value) return this.convert(q.item, source.value, source.unit, to);
    }
    return this.convert(q.item, q.value, q.unit, to);
  }

  /** The numeric source value and its unit (assumed from the code where the rule allows it). */
  private sourceOf(q: CrfQuantity): { value: number; unit: string } | null {
    const s = q.source;
    if (!s || typeof s.value !== 'number' || !Number.isFinite(s.value)) return null;
    if (s.unit !== null && s.unit.trim() !== '') return { value: s.value, unit: s.unit };
    const rule = this.byItem.get(q.item);
    const implied = rule?.onMissingUnit === 'assume' && s.code ? rule.analyte.impliedUnits.get(s.code) : undefined;
    return implied ? { value: s.value, unit: implied } : null;
  }
}
