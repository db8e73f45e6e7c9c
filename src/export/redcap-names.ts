/**
 * The names a REDCap project is built from: arms, events (and the unique event
 * names REDCap derives from them), instruments and variables. Every file of the
 * project (src/export/redcap.ts) takes its names from here, so the data
 * dictionary, the event files and the records always agree.
 *
 * Choices (README "Send data to the trial database"):
 * - Instruments: `trial_subject` (record_id, site, Study Day 0, status; mapped
 *   to the first event of each arm, Screening, only), then one per CRF form, named from the form
 *   label in lower case (LB -> `laboratory`, VS -> `vital_signs`).
 * - Variables: `<form code>_<item code>` in lower case (`lb_tbil`, `vs_weight`):
 *   REDCap variable names are unique across the whole project while CRF item
 *   codes are unique only within their form. Per form, `<form>_sample_datetime`,
 *   `<form>_sample_date` and `<form>_sample_offset` hold when the sample was taken.
 * - Events: "Screening", "Week N", "Unscheduled" in each arm that has the visit.
 *   REDCap generates the unique event name itself (an import cannot set it):
 *   the event name in lower case, characters other than letters, digits and
 *   spaces dropped, spaces as underscores, the first 18 characters, then
 *   `_arm_<n>`. The names above are short and plain, so the generated names are
 *   exactly `screening_arm_1`, `week_12_arm_2`, `unscheduled_arm_1`.
 */
import type { ExportForm, ExportItem, ExportStudy, ExportVisit } from './model';

/** REDCap keeps arm names in a 50-character column. */
const ARM_NAME_MAX = 50;
/** REDCap keeps only the first 18 characters of an event name in its unique name. */
const UNIQUE_EVENT_STEM_MAX = 18;
/** REDCap variable and instrument names: lower-case letter first, then letters, digits, underscores. */
const REDCAP_NAME = /^[a-z][a-z0-9_]*$/;

/** The instrument of the subject's identity; the first instrument, so record_id is its first field. */
export const SUBJECT_FORM = 'trial_subject';
/** Label of the arm of subjects without an arm yet (screened, not randomised). */
export const UNASSIGNED_ARM_NAME = 'Not yet assigned';
/** The one arm of a blinded trial's project. */
export const BLINDED_ARM_NAME = 'All subjects (blinded)';

export interface RedcapArm {
  readonly num: number;
  readonly name: string;
  /** Trial arm id, or null for the arm of subjects without one. */
  readonly armId: string | null;
}

export interface RedcapEvent {
  readonly arm: RedcapArm;
  readonly visit: ExportVisit;
  readonly eventName: string;
  readonly uniqueName: string;
}

export interface RedcapForm {
  readonly form: ExportForm;
  /** Instrument name (REDCap "Form Name"). */
  readonly name: string;
  readonly dateTimeField: string;
  readonly dateField: string;
  readonly offsetField: string;
  /** Item code -> variable name. */
  readonly fields: ReadonlyMap<string, string>;
}

export interface RedcapDesign {
  readonly arms: readonly RedcapArm[];
  /** Per arm in arm order, then visits in schedule order (UNS last). */
  readonly events: readonly RedcapEvent[];
  readonly forms: readonly RedcapForm[];
}

/** The unique event name REDCap generates for `eventName` in arm `armNum`. */
export function uniqueEventName(eventName: string, armNum: number): string {
  const stem = eventName.toLowerCase().replace(/[^a-z0-9 ]/g, '').replace(/ /g, '_').slice(0, UNIQUE_EVENT_STEM_MAX).replace(/_+$/, '');
  return `${stem}_arm_${armNum}`;
}

/** A REDCap name from free text: lower case, runs of other characters as one underscore. */
export function redcapName(text: string): string {
  const name = text.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  return /^[a-z]/.test(name) ? name : `f_${name}`;
}

/**
 * Arms, events and instruments of the study. A blinded trial is one REDCap arm
 * with every visit: a subject's REDCap arm, its name, or a visit only some arms
 * have would tell anyone with access to the project the randomised arm
 * (clinical-reference §0 Blinding); the randomisation stays in the trial's IWRS.
 */
export function redcapDesign(study: ExportStudy): RedcapDesign {
  const arms: RedcapArm[] = study.treatment.blinded
    ? [{ num: 1, name: BLINDED_ARM_NAME, armId: null }]
    : [...study.arms.map((a, i) => ({ num: i + 1, name: truncate(a.label, ARM_NAME_MAX), armId: a.id })), { num: study.arms.length + 1, name: UNASSIGNED_ARM_NAME, armId: null }];
  const blinded = study.treatment.blinded;
  const events: RedcapEvent[] = [];
  for (const arm of arms) {
    for (const visit of study.visits) {
      if (!blinded && !armHasVisit(arm, visit)) continue;
      const eventName = eventNameOf(visit);
      events.push({ arm, visit, eventName, uniqueName: uniqueEventName(eventName, arm.num) });
    }
  }
  assertUnique(events.map((e) => e.uniqueName), 'unique event name');
  const forms = study.forms.map(formOf);
  assertUnique([SUBJECT_FORM, ...forms.map((f) => f.name)], 'instrument name');
  assertUnique([...SUBJECT_FIELDS, ...forms.flatMap((f) => [f.dateTimeField, f.dateField, f.offsetField, ...f.fields.values()])], 'variable name');
  return { arms, events, forms };
}

/** The event that holds the subject instrument in arm `armNum`: its first event (Screening). */
export function subjectEvent(design: RedcapDesign, armNum: number): RedcapEvent {
  const e = design.events.find((x) => x.arm.num === armNum);
  if (!e) throw new Error(`REDCap arm ${armNum} has no event`);
  return e;
}

/** Variables of the subject instrument, in dictionary order. */
export const SUBJECT_FIELDS = ['record_id', 'subject_site', 'subject_day0', 'subject_status'] as const;

/**
 * An arm has the visits open to every arm and the visits listed for it; the arm
 * of unassigned subjects has only the visits open to every arm. UNS is in every arm.
 */
function armHasVisit(arm: RedcapArm, visit: ExportVisit): boolean {
  return visit.arms === null || (arm.armId !== null && visit.arms.includes(arm.armId));
}

function eventNameOf(visit: ExportVisit): string {
  // Letters, digits and spaces only, so REDCap's unique name is predictable (see the module comment).
  return visit.label.replace(/[^A-Za-z0-9 ]+/g, ' ').replace(/\s+/g, ' ').trim() || visit.code;
}

function formOf(form: ExportForm): RedcapForm {
  const prefix = redcapName(form.form);
  const fields = new Map(form.items.map((i: ExportItem) => [i.item, `${prefix}_${redcapName(i.item)}`]));
  return { form, name: redcapName(form.label), dateTimeField: `${prefix}_sample_datetime`, dateField: `${prefix}_sample_date`, offsetField: `${prefix}_sample_offset`, fields };
}

function assertUnique(names: readonly string[], what: string): void {
  const seen = new Set<string>();
  for (const n of names) {
    // The CRF and trial files are checked at boot; a clash here is a definition REDCap cannot hold.
    if (seen.has(n) || (what !== 'unique event name' && !REDCAP_NAME.test(n))) throw new Error(`REDCap ${what} "${n}" is not unique or not valid`);
    seen.add(n);
  }
}

function truncate(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : chars.slice(0, max).join('').trimEnd();
}
