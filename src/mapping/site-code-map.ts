/**
 * Site code maps: a site's local lab codes translated to the LOINC code of an analyte
 * group, so a local code for bilirubin maps exactly like 1975-2 (README "Connect a site",
 * `codeMap`). The shape is checked with the rest of TRIALBRIDGE_SITES; the meaning
 * (which analyte, which LOINC code) is checked here at boot against the loaded groups,
 * every problem named with its path, all at once (design.md habit 2).
 */
import { ConfigError } from '../config';
import type { MappingSet, SiteCodeTarget } from './rule-types';

/** One entry of a site's `codeMap`: `system|code` -> an analyte id or a LOINC code. */
export interface SiteCodeMapEntry {
  readonly system: string;
  readonly code: string;
  readonly target: string;
}

/** The part of a site's configuration this module reads. */
export interface SiteWithCodeMap {
  readonly id: string;
  readonly codeMap?: readonly SiteCodeMapEntry[];
}

const LOINC = /^\d{1,7}-\d$/;

/** What one target names, or why it names nothing. */
export function resolveTarget(set: MappingSet, target: string): SiteCodeTarget | string {
  if (LOINC.test(target)) {
    const group = set.analyteOfCode(target);
    return group ? { loinc: target, analyte: group.id } : `LOINC ${target} is in no analyte group that a CRF rule uses (mappings/analytes.json)`;
  }
  const group = set.analytes.find((a) => a.id === target);
  // An analyte stands for its primary code (clinical-reference §2, first code of the group).
  const primary = group?.codes[0]?.code;
  if (group && primary && set.analyteOfCode(primary)) return { loinc: primary, analyte: group.id };
  const known = [...new Set(set.watchedCodes().map((c) => set.analyteOfCode(c)!.id))].sort();
  return group ? `analyte '${target}' is used by no CRF rule` : `unknown analyte '${target}' (known: ${known.join(', ')}; or give a LOINC code such as "1975-2")`;
}

/**
 * Checks every site's code map against the rule set and returns the rule set that
 * applies them; throws one ConfigError naming every bad entry.
 */
export function applySiteCodeMaps(set: MappingSet, sites: readonly SiteWithCodeMap[]): MappingSet {
  const problems: string[] = [];
  const maps = new Map<string, ReadonlyMap<string, SiteCodeTarget>>();
  sites.forEach((site, i) => {
    if (!site.codeMap?.length) return;
    const map = new Map<string, SiteCodeTarget>();
    for (const e of site.codeMap) {
      const key = `${e.system}|${e.code}`;
      const t = resolveTarget(set, e.target);
      if (typeof t === 'string') problems.push(`TRIALBRIDGE_SITES[${i}].codeMap["${key}"]: ${t}`);
      else map.set(key, t);
    }
    maps.set(site.id, map);
  });
  if (problems.length) throw new ConfigError(problems);
  return maps.size ? set.withSiteCodes(maps) : set;
}
