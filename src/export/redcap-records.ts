/**
 * The REDCap records file (Data Import Tool, or API "Import Records" with
 * type=flat, format=csv): one row per subject for the subject instrument, then
 * one row per sample (draw) of each CRF instrument: record_id,
 * redcap_event_name, redcap_repeat_instrument, redcap_repeat_instance, the
 * variables, and `<instrument>_complete`.
 *
 * - A subject's rows are in the REDCap arm of the subject's trial arm, or the
 *   "Not yet assigned" arm; a value whose visit that arm lacks goes to the
 *   arm's Unscheduled event, so no value is dropped. A blinded trial has one
 *   arm for every subject (redcap-names.ts).
 * - Instances: the draws of one instrument in one event, in sample-time order
 *   (UTC instant, then local time), numbered from 1. A draw is the sample's
 *   local date-time (ExportValue.localDateTime, as the ODM item group repeat
 *   key); two values of one item at the same time make two instances.
 * - The file is the whole current state: import it with "overwrite" so an
 *   emptied cell is emptied in REDCap too. Instance numbers follow sample time,
 *   so a late-arriving earlier draw renumbers the later ones of that event.
 * - `<instrument>_complete`: 2 (Complete) when every value of the row was
 *   reviewed (accepted or corrected), 1 (Unverified) otherwise; the subject
 *   instrument is 2, as it holds only what the trial files and the enrolment say.
 */
import { crfCell } from './crf-value';
import type { ExportDataset, ExportSubject, ExportValue } from './model';
import { SUBJECT_FIELDS, SUBJECT_FORM, subjectEvent, type RedcapArm, type RedcapDesign, type RedcapEvent, type RedcapForm } from './redcap-names';
import { csvNumber, csvText } from '../util/csv';

/** REDCap form status codes. */
const UNVERIFIED = 1;
const COMPLETE = 2;

interface Draw {
  readonly localDateTime: string;
  readonly values: Map<string, ExportValue>;
}

/** The records CSV of every subject and value in the dataset. */
export function recordsCsv(ds: ExportDataset, design: RedcapDesign): string {
  const header = ['record_id', 'redcap_event_name', 'redcap_repeat_instrument', 'redcap_repeat_instance', ...SUBJECT_FIELDS.slice(1), `${SUBJECT_FORM}_complete`];
  const formStart = new Map<RedcapForm, number>();
  for (const f of design.forms) {
    formStart.set(f, header.length);
    header.push(f.dateTimeField, f.dateField, f.offsetField, ...f.form.items.map((i) => f.fields.get(i.item)!), `${f.name}_complete`);
  }
  const rows: unknown[][] = [];
  for (const subject of subjectsOf(ds)) {
    const arm = armOf(design, subject);
    const row: unknown[] = new Array(header.length).fill('');
    row.splice(0, 8, subject.subject, subjectEvent(design, arm.num).uniqueName, '', '', subject.site, subject.day0 ?? '', subject.status, csvNumber(COMPLETE));
    rows.push(row);
    for (const [event, byForm] of drawsOf(design, arm, ds.values.filter((v) => v.subject === subject.subject))) {
      for (const [form, draws] of byForm) {
        draws.forEach((draw, i) => rows.push(drawRow(header.length, formStart.get(form)!, subject.subject, event, form, i + 1, draw)));
      }
    }
  }
  return csvText(header, rows);
}

/** The dataset's subjects, plus any subject a value names without an enrolment row, sorted by subject number. */
function subjectsOf(ds: ExportDataset): ExportSubject[] {
  const bySubject = new Map(ds.subjects.map((s) => [s.subject, s]));
  for (const v of ds.values) if (!bySubject.has(v.subject)) bySubject.set(v.subject, { subject: v.subject, site: v.site, arm: null, status: '', day0: null });
  return [...bySubject.values()].sort((a, b) => compare(a.subject, b.subject));
}

function armOf(design: RedcapDesign, s: ExportSubject): RedcapArm {
  return design.arms.find((a) => a.armId !== null && a.armId === s.arm) ?? design.arms.find((a) => a.armId === null)!;
}

/** Values grouped by event, instrument and draw, each level in design order; items not in the CRF file are left out. */
function drawsOf(design: RedcapDesign, arm: RedcapArm, values: readonly ExportValue[]): Map<RedcapEvent, Map<RedcapForm, Draw[]>> {
  const armEvents = design.events.filter((e) => e.arm === arm);
  const unscheduled = armEvents.find((e) => e.visit.kind === 'unscheduled') ?? armEvents[armEvents.length - 1];
  const grouped = new Map<RedcapEvent, Map<RedcapForm, Draw[]>>();
  for (const e of armEvents) grouped.set(e, new Map(design.forms.map((f) => [f, []])));
  for (const v of [...values].sort(bySampleTime)) {
    const form = design.forms.find((f) => f.form.form === v.form);
    if (!form || !form.fields.has(v.item)) continue;
    const event = armEvents.find((e) => e.visit.code === v.visit) ?? unscheduled;
    const draws = grouped.get(event)!.get(form)!;
    let draw = draws.find((d) => d.localDateTime === v.localDateTime && !d.values.has(v.item));
    if (!draw) draws.push((draw = { localDateTime: v.localDateTime, values: new Map() }));
    draw.values.set(v.item, v);
  }
  return grouped;
}

function drawRow(width: number, start: number, subject: string, event: RedcapEvent, form: RedcapForm, instance: number, draw: Draw): unknown[] {
  const row: unknown[] = new Array(width).fill('');
  row.splice(0, 4, subject, event.uniqueName, form.name, csvNumber(instance));
  const when = splitLocal(draw.localDateTime);
  row.splice(start, 3, when.dateTime, when.date, when.offset);
  let reviewed = true;
  form.form.items.forEach((item, i) => {
    const v = draw.values.get(item.item);
    if (!v) return;
    row[start + 3 + i] = crfCell(item, v.value);
    if (v.status !== 'accepted' && v.status !== 'corrected') reviewed = false;
  });
  row[start + 3 + form.form.items.length] = csvNumber(reviewed ? COMPLETE : UNVERIFIED);
  return row;
}

/** `2024-03-04T07:00:00+08:00` -> REDCap datetime_seconds_ymd `2024-03-04 07:00:00`, date, `UTC+08:00`; a date alone keeps only the date. */
export function splitLocal(local: string): { dateTime: string; date: string; offset: string } {
  const m = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2})(:\d{2})?(?:\.\d+)?(Z|[+-]\d{2}:\d{2})?)?$/.exec(local);
  if (!m) return { dateTime: '', date: local.slice(0, 10), offset: '' };
  if (!m[2]) return { dateTime: '', date: m[1], offset: '' };
  // `UTC+08:00`, not `+08:00`: a cell starting with + or - would be formula-escaped (src/util/csv.ts).
  return { dateTime: `${m[1]} ${m[2]}${m[3] ?? ':00'}`, date: m[1], offset: m[4] ? `UTC${m[4] === 'Z' ? '+00:00' : m[4]}` : '' };
}

function bySampleTime(a: ExportValue, b: ExportValue): number {
  return compare(a.effective, b.effective) || compare(a.localDateTime, b.localDateTime) || compare(a.item, b.item) || a.id - b.id;
}

/** Code-unit order: the same in every locale, so files are byte-identical everywhere. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
