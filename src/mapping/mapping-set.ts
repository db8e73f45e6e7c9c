/**
 * The immutable rule set, indexed once at load so matching an Observation costs one Map
 * lookup per coding: trial -> LOINC code -> rules. It also knows the analyte groups (for
 * telling an unmapped code from a mapped one) and the sites' code maps (local code ->
 * LOINC code of a group).
 */
import type { AnalyteInfo, CompiledRule, MappingSet, SiteCodeTarget } from './rule-types';

const NO_RULES: readonly CompiledRule[] = Object.freeze([]);

/** Site id -> `system|code` -> target. */
export type SiteCodeMaps = ReadonlyMap<string, ReadonlyMap<string, SiteCodeTarget>>;

export class RuleSet implements MappingSet {
  readonly trials: readonly string[];
  readonly ruleCount: number;
  readonly analytes: readonly AnalyteInfo[];
  private readonly rules: readonly CompiledRule[];
  private readonly byTrial = new Map<string, readonly CompiledRule[]>();
  private readonly byTrialCode = new Map<string, ReadonlyMap<string, readonly CompiledRule[]>>();
  private readonly codes: readonly string[];
  private readonly analyteByCode = new Map<string, AnalyteInfo>();
  private readonly siteCodes: SiteCodeMaps;

  /**
   * Built by loadMappings from rules that all compiled; a trial exists when it has rules.
   * `analytes` is the whole catalogue; only groups some rule uses count as mapped codes.
   */
  constructor(rules: readonly CompiledRule[], analytes: readonly AnalyteInfo[] = [], siteCodes: SiteCodeMaps = new Map()) {
    const codes = new Set<string>();
    const byTrial = new Map<string, CompiledRule[]>();
    const byTrialCode = new Map<string, Map<string, CompiledRule[]>>();
    const info = new Map(analytes.map((a) => [a.id, a] as const));
    for (const rule of rules) {
      if (!byTrial.has(rule.trial)) {
        byTrial.set(rule.trial, []);
        byTrialCode.set(rule.trial, new Map());
      }
      byTrial.get(rule.trial)!.push(rule);
      const index = byTrialCode.get(rule.trial)!;
      const group = info.get(rule.analyte.id) ?? { id: rule.analyte.id, name: rule.analyte.id, valueType: rule.analyte.valueType, codes: rule.analyte.codes.map((c) => ({ code: c, name: c, unit: null })) };
      for (const code of rule.analyte.codes) {
        codes.add(code);
        this.analyteByCode.set(code, group);
        const list = index.get(code);
        if (list) list.push(rule);
        else index.set(code, [rule]);
      }
    }
    for (const [trial, list] of byTrial) this.byTrial.set(trial, Object.freeze(list));
    for (const [trial, index] of byTrialCode) this.byTrialCode.set(trial, index);
    this.rules = Object.freeze([...rules]);
    this.analytes = Object.freeze([...analytes]);
    this.siteCodes = siteCodes;
    this.trials = Object.freeze([...byTrial.keys()].sort());
    this.ruleCount = rules.length;
    this.codes = Object.freeze([...codes].sort());
    Object.freeze(this);
  }

  /** The same rules with these site code maps (checked by compileSiteCodeMaps). */
  withSiteCodes(siteCodes: SiteCodeMaps): RuleSet {
    return new RuleSet(this.rules, this.analytes, siteCodes);
  }

  hasTrial(trial: string): boolean {
    return this.byTrial.has(trial);
  }

  rulesFor(trial: string): readonly CompiledRule[] {
    return this.byTrial.get(trial) ?? NO_RULES;
  }

  rulesForCode(trial: string, loincCode: string): readonly CompiledRule[] {
    return this.byTrialCode.get(trial)?.get(loincCode) ?? NO_RULES;
  }

  watchedCodes(): string[] {
    return [...this.codes];
  }

  analyteOfCode(loincCode: string): AnalyteInfo | undefined {
    return this.analyteByCode.get(loincCode);
  }

  siteCode(site: string, system: string, code: string): SiteCodeTarget | undefined {
    return this.siteCodes.get(site)?.get(`${system}|${code}`);
  }
}
