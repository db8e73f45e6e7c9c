/**
 * Named adapter defaults for trial files and where the files live. Every value here is
 * an [A] default (clinical-reference §0, §6): a trial file may override each one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ExportValues, TrialDefaults } from './types';

/** Body weight [K] (clinical-reference §2), used for per-kg doses. */
export const BODY_WEIGHT_LOINC = '29463-7';

/** Adapter defaults [A] used for any property a trial file's `defaults` leaves out. */
/**
 * Nothing a data manager has not reviewed goes to the sponsor unless the trial file
 * says `export.values: "all"` [A]: the trial database is the record of reviewed data.
 */
export const DEFAULT_EXPORT_VALUES: ExportValues = 'reviewed';

export const TRIAL_DEFAULTS: TrialDefaults = Object.freeze({
  /** +/-10% of the expected dose (§1.2, §6). */
  doseTolerance: 0.1,
  /** Consecutive infusions fewer than 5 calendar days apart are flagged (§6). */
  minInfusionIntervalDays: 5,
  /** Baseline = latest result from Day -7 up to the first infusion start (§0). */
  baselineWindowDays: 7,
  /** Per-kg dose: latest body weight within 7 days before the infusion (§1.2). */
  weightWithinDaysBefore: 7,
  /** §6: infusion visits and weeks 1-3 +/-2, weeks 4-11 +/-3, week >= 12 +/-7. */
  windows: Object.freeze({
    infusion: 2,
    byWeek: Object.freeze([
      Object.freeze({ fromWeek: 0, toWeek: 3, days: 2 }),
      Object.freeze({ fromWeek: 4, toWeek: 11, days: 3 }),
      Object.freeze({ fromWeek: 12, toWeek: null, days: 7 }),
    ]),
  }),
  /** Unrecorded dialysis scored as none, as UNOS and MELD calculators do (§1.3 I3a, §4.1 M10/M11). */
  meld: Object.freeze({ unrecordedDialysis: 'assume-none' }),
});

/** The nearest ancestor of this module holding package.json (works for src/ and dist/ alike). */
function findRepoRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(start, '..', '..', '..');
  }
}

const REPO_ROOT = findRepoRoot(__dirname);

/** `<repo>/mappings/trials`: the default for loadTrials. */
export const DEFAULT_TRIALS_DIR = path.join(REPO_ROOT, 'mappings', 'trials');

/**
 * The schema shipped with the code: it describes what this code understands, whichever
 * directory is validated (same rule as the mapping loader).
 */
export const TRIAL_SCHEMA_PATH = path.join(DEFAULT_TRIALS_DIR, 'trial.schema.json');
