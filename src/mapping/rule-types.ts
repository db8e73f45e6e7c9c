/**
 * Shapes of the mapping files (as JSON, after schema validation) and of the compiled,
 * immutable rule set that mapResource applies. The file format is specified by
 * mappings/schema/rules.schema.json; keep the two in step.
 */
import type { CompiledExpression } from './fhirpath-engine';
import type { MolarFactor } from './units';

export const LOINC_SYSTEM = 'http://loinc.org';
export const UCUM_SYSTEM = 'http://unitsofmeasure.org';

export type CodeProperty =
  | 'mass-concentration'
  | 'substance-concentration'
  | 'catalytic-concentration'
  | 'number-concentration'
  | 'arbitrary-concentration'
  | 'time'
  | 'ratio'
  | 'percent'
  | 'mass'
  | 'presence';

export interface AnalyteCodeJson {
  readonly code: string;
  readonly name: string;
  readonly property: CodeProperty;
  readonly unit?: string;
  readonly impliedUnit?: string;
  readonly note?: string;
}

export interface MolarConversionJson extends MolarFactor {
  readonly source: string;
}

export interface AnalyteJson {
  readonly id: string;
  readonly name: string;
  readonly valueType: 'quantity' | 'coded';
  readonly codes: readonly AnalyteCodeJson[];
  readonly molarConversion?: MolarConversionJson;
  readonly unitAliases?: Readonly<Record<string, string>>;
  readonly note?: string;
}

export interface AnalytesFileJson {
  readonly kind: 'analytes';
  readonly analytes: readonly AnalyteJson[];
}

export type OnMissingUnit = 'review' | 'assume';

export interface RuleDefaultsJson {
  readonly resourceType: 'Observation';
  readonly value: string;
  readonly effective: readonly string[];
  readonly where?: string;
  readonly onMissingUnit: OnMissingUnit;
  readonly onUnconvertibleUnit: 'review';
}

export interface CodedValueJson {
  readonly system: string;
  readonly code: string;
  readonly value: string;
}

export interface RuleJson {
  readonly id: string;
  readonly form: string;
  readonly item: string;
  readonly analyte: string;
  readonly unit?: string;
  readonly decimals?: number;
  readonly codeMap?: readonly CodedValueJson[];
  readonly textMap?: Readonly<Record<string, string>>;
  readonly value?: string;
  readonly effective?: readonly string[];
  readonly where?: string;
  readonly onMissingUnit?: OnMissingUnit;
  readonly onUnconvertibleUnit?: 'review';
}

export interface CrfFileJson {
  readonly kind: 'crf';
  readonly trial: string;
  readonly title: string;
  readonly defaults: RuleDefaultsJson;
  readonly rules: readonly RuleJson[];
}

/** An analyte group ready for matching and conversion. */
export interface CompiledAnalyte {
  readonly id: string;
  readonly valueType: 'quantity' | 'coded';
  /** LOINC code -> the unit assumed when a quantity has none (only codes that declare one). */
  readonly impliedUnits: ReadonlyMap<string, string>;
  readonly codes: readonly string[];
  /** LOINC code -> its usual UCUM unit (quantity codes), for load-time checks of CRF units. */
  readonly usualUnits: ReadonlyMap<string, string>;
  /** Derived from molarConversion so ucum-lhc reproduces the published factor (units.ts). */
  readonly molecularWeight?: number;
  /** Normalised feed spelling -> UCUM code, for this analyte only. */
  readonly unitAliases: ReadonlyMap<string, string>;
}

/** One CRF item rule, with defaults applied and every expression compiled. */
export interface CompiledRule {
  readonly id: string;
  readonly trial: string;
  readonly form: string;
  readonly item: string;
  readonly resourceType: 'Observation';
  readonly analyte: CompiledAnalyte;
  /** CRF unit (UCUM); null for coded items. */
  readonly unit: string | null;
  readonly decimals: number;
  readonly onMissingUnit: OnMissingUnit;
  /** `system|code` -> CRF code (coded items). */
  readonly codeMap: ReadonlyMap<string, string>;
  /** lower-cased trimmed text -> CRF code (coded items). */
  readonly textMap: ReadonlyMap<string, string>;
  readonly value: CompiledExpression;
  readonly effective: readonly CompiledExpression[];
  readonly where: CompiledExpression | null;
  /** `<file>#<pointer>` of the rule, for review details and logs. */
  readonly source: string;
}

/** An analyte group as a person reads it (names for preview suggestions, units for checks). */
export interface AnalyteInfo {
  readonly id: string;
  readonly name: string;
  readonly valueType: 'quantity' | 'coded';
  readonly codes: ReadonlyArray<{ readonly code: string; readonly name: string; readonly unit: string | null }>;
}

/** What a site's local code stands for: the LOINC code of an analyte group (README "Connect a site", `codeMap`). */
export interface SiteCodeTarget {
  readonly loinc: string;
  readonly analyte: string;
}

/** The loaded, validated, immutable rule set (design.md habit 1). */
export interface MappingSet {
  /** Trial keys, sorted. */
  readonly trials: readonly string[];
  readonly ruleCount: number;
  hasTrial(trial: string): boolean;
  /** Rules of one trial in file order; empty for an unknown trial. */
  rulesFor(trial: string): readonly CompiledRule[];
  /** Rules of one trial whose analyte group contains this LOINC code. */
  rulesForCode(trial: string, loincCode: string): readonly CompiledRule[];
  /** Every LOINC code used by any rule, sorted (for subscriptions and pollers). */
  watchedCodes(): string[];
  /** Every analyte group of mappings/analytes.json, in file order. */
  readonly analytes: readonly AnalyteInfo[];
  /** The analyte group a LOINC code belongs to, when some trial's rule uses that group. */
  analyteOfCode(loincCode: string): AnalyteInfo | undefined;
  /** A site's local coding (`system|code`) translated by its code map, or undefined. */
  siteCode(site: string, system: string, code: string): SiteCodeTarget | undefined;
  /** The same rules with these site code maps (site id -> `system|code` -> target); see site-code-map.ts. */
  withSiteCodes(siteCodes: ReadonlyMap<string, ReadonlyMap<string, SiteCodeTarget>>): MappingSet;
}
