/**
 * A trial is a package (design.md): its protocol file (mappings/trials/<key>.json) and its
 * CRF rule file (mappings/crf/<key>.json) are loaded together and checked against each
 * other, and every problem of either file or of the pair is reported at once (design.md
 * habit 2). A trial with one file and not the other would otherwise fail silently: no
 * CRF rules turn every enrollment into `unknown-study`, no trial file gives no report.
 *
 * Cross-checks: both files exist for every key (by file name, so the pairing is checked
 * even when a file does not load); every CRF item the protocol names
 * (`crfUnits`) has a rule with that unit; every item a criterion reads is a CRF item whose
 * unit converts to the criterion's; every per-kg dose's body-weight code is mapped.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { itemUnits, loadMappings, MappingLoadError, type CompiledRule, type MappingSet } from '../mapping';
import { ptr, type LoadProblem } from '../util/load-problems';
import { scoreLabItems } from './eligibility';
import { LoadedTrialSet, readTrials, TrialPackageLoadError, type CriterionRule, type Trial, type TrialSet } from './trials';

/** The loaded, cross-checked trials and the mapping rules they share. */
export interface TrialPackages {
  readonly trials: TrialSet;
  readonly mappings: MappingSet;
}

export interface PackageDirs {
  /** Trial definitions (TRIALBRIDGE_TRIALS_DIR). */
  readonly trialsDir: string;
  /** Mapping files: analytes.json and crf/<key>.json (TRIALBRIDGE_MAPPINGS_DIR). */
  readonly mappingsDir: string;
}

/** Loads and cross-checks every trial package; throws one TrialPackageLoadError listing all problems. */
export function loadTrialPackages(dirs: PackageDirs): TrialPackages {
  const problems: LoadProblem[] = [];
  const trialsLabel = labelOf(dirs);
  let mappings: MappingSet | null = null;
  try {
    mappings = loadMappings(dirs.mappingsDir);
  } catch (err) {
    if (!(err instanceof MappingLoadError)) throw err;
    problems.push(...err.problems);
  }
  const read = readTrials(dirs.trialsDir);
  problems.push(...read.problems.map((p) => ({ ...p, file: `${trialsLabel}/${p.file}` })));
  // Pairing by file name holds even when a file of the pair does not load.
  problems.push(...pairing(jsonKeys(dirs.trialsDir), jsonKeys(path.join(dirs.mappingsDir, 'crf')), trialsLabel));
  if (mappings) {
    for (const trial of read.trials) {
      const file = `${trialsLabel}/${trial.file}`;
      if (mappings.hasTrial(trial.key)) problems.push(...checkTrial(trial, mappings, (pointer, message) => ({ file, pointer, message })));
    }
  }
  if (problems.length > 0 || !mappings) {
    const where = dirs.trialsDir.startsWith(dirs.mappingsDir) ? dirs.mappingsDir : `${dirs.mappingsDir} and ${dirs.trialsDir}`;
    throw new TrialPackageLoadError(where, [...problems].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0)));
  }
  return { trials: new LoadedTrialSet(read.trials), mappings };
}

/** How trial files are named in problems: relative to the mappings directory when inside it. */
function labelOf(dirs: PackageDirs): string {
  const rel = path.relative(dirs.mappingsDir, dirs.trialsDir);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : dirs.trialsDir;
}

/** `<key>` of every `<key>.json` in `dir` (JSON schemas excluded); none when it cannot be read (the loaders report that). */
function jsonKeys(dir: string): Set<string> {
  try {
    return new Set(fs.readdirSync(dir).filter((n) => n.endsWith('.json') && !n.endsWith('.schema.json')).map((n) => n.slice(0, -'.json'.length)));
  } catch {
    return new Set();
  }
}

/** A trial file without its CRF file, and a CRF file without its trial file. */
function pairing(trialKeys: ReadonlySet<string>, crfKeys: ReadonlySet<string>, trialsLabel: string): LoadProblem[] {
  const out: LoadProblem[] = [];
  for (const key of [...trialKeys].sort()) {
    if (!crfKeys.has(key)) out.push({ file: `${trialsLabel}/${key}.json`, pointer: '/key', message: `trial '${key}' has no CRF rule file crf/${key}.json: every enrollment in it would be refused as unknown-study` });
  }
  for (const key of [...crfKeys].sort()) {
    if (!trialKeys.has(key)) out.push({ file: `crf/${key}.json`, pointer: '/trial', message: `CRF rules of '${key}' have no trial definition ${trialsLabel}/${key}.json: its subjects would get no report` });
  }
  return out;
}

type At = (pointer: string, message: string) => LoadProblem;

function checkTrial(trial: Trial, mappings: MappingSet, at: At): LoadProblem[] {
  const out: LoadProblem[] = [];
  const rules = new Map<string, CompiledRule>();
  for (const r of mappings.rulesFor(trial.key)) if (!rules.has(r.item)) rules.set(r.item, r);
  const crf = `crf/${trial.key}.json`;
  for (const [item, unit] of Object.entries(trial.crfUnits)) {
    const rule = rules.get(item);
    if (!rule) out.push(at(ptr('crfUnits', item), `CRF item ${item} has no rule in ${crf}`));
    else if (rule.unit !== unit) out.push(at(ptr('crfUnits', item), `the protocol asks for ${item} in ${unit}; ${crf} stores ${rule.unit ?? 'a code'}`));
  }
  const units = itemUnits(mappings, trial.key);
  const needItem = (pointer: string, item: string, unit: string | null, why: string) => {
    const rule = rules.get(item);
    if (!rule) out.push(at(pointer, `${why} reads ${item}, which is not a CRF item of ${crf}: it could never be evaluated`));
    else if (unit !== null && (rule.unit === null || units.convert(item, 1, rule.unit, unit) === null)) {
      out.push(at(pointer, `${why} compares ${item} in ${unit}, which ${crf} stores as ${rule.unit ?? 'a code'} and cannot be converted`));
    }
  };
  trial.eligibility.forEach((c, i) => walkRule(c.rule, ptr('eligibility', i, 'rule'), (rule, pointer) => {
    const why = `criterion ${c.id}`;
    if (rule.kind === 'lab-threshold') needItem(`${pointer}/item`, rule.item, rule.unit, why);
    else if (rule.kind === 'tbil-uln-multiple') needItem(`${pointer}/item`, rule.item, rule.defaultUln.unit, why);
    else if (rule.kind === 'hbsag-duration') needItem(`${pointer}/item`, rule.item, null, why);
    else if (rule.kind === 'score-range') for (const l of scoreLabItems(rule.score) ?? []) needItem(`${pointer}/score`, l.item, l.unit, `${why} (${rule.score})`);
  }));
  const codes = new Set(mappings.rulesFor(trial.key).flatMap((r) => r.analyte.codes));
  trial.arms.forEach((arm, i) => {
    for (const d of arm.doses) {
      if (d.amount?.kind === 'per-kg' && !codes.has(d.amount.weightLoinc)) {
        out.push(at(ptr('arms', i), `arm ${arm.id} doses per kg of body weight LOINC ${d.amount.weightLoinc}, which no rule of ${crf} maps`));
        return;
      }
    }
  });
  return out;
}

/** Visits a rule and its sub-rules with their JSON pointers. */
function walkRule(rule: CriterionRule, pointer: string, visit: (rule: CriterionRule, pointer: string) => void): void {
  visit(rule, pointer);
  if (rule.kind === 'any-of' || rule.kind === 'all-of') rule.rules.forEach((r, j) => walkRule(r, `${pointer}/rules/${j}`, visit));
  else if (rule.kind === 'pre-onset') walkRule(rule.rule, `${pointer}/rule`, visit);
}
