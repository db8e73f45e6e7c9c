/**
 * The immutable rule set, indexed once at load so matching an Observation costs one Map
 * lookup per coding: trial -> LOINC code -> rules.
 */
import type { CompiledRule, MappingSet } from './rule-types';

const NO_RULES: readonly CompiledRule[] = Object.freeze([]);

export class RuleSet implements MappingSet {
  readonly trials: readonly string[];
  readonly ruleCount: number;
  private readonly byTrial = new Map<string, readonly CompiledRule[]>();
  private readonly byTrialCode = new Map<string, ReadonlyMap<string, readonly CompiledRule[]>>();
  private readonly codes: readonly string[];

  /** Built by loadMappings from rules that all compiled; a trial exists when it has rules. */
  constructor(rules: readonly CompiledRule[]) {
    const codes = new Set<string>();
    const byTrial = new Map<string, CompiledRule[]>();
    const byTrialCode = new Map<string, Map<string, CompiledRule[]>>();
    for (const rule of rules) {
      if (!byTrial.has(rule.trial)) {
        byTrial.set(rule.trial, []);
        byTrialCode.set(rule.trial, new Map());
      }
      byTrial.get(rule.trial)!.push(rule);
      const index = byTrialCode.get(rule.trial)!;
      for (const code of rule.analyte.codes) {
        codes.add(code);
        const list = index.get(code);
        if (list) list.push(rule);
        else index.set(code, [rule]);
      }
    }
    for (const [trial, list] of byTrial) this.byTrial.set(trial, Object.freeze(list));
    for (const [trial, index] of byTrialCode) this.byTrialCode.set(trial, index);
    this.trials = Object.freeze([...byTrial.keys()].sort());
    this.ruleCount = rules.length;
    this.codes = Object.freeze([...codes].sort());
    Object.freeze(this);
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
}
