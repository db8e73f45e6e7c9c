/**
 * The longitudinal set-up of the REDCap project, as REDCap's API imports
 * ("Import Arms", "Import Events", "Import Instrument-Event Mappings",
 * "Import Repeating Instruments and Events") and the Project Setup pages'
 * CSV uploads take them.
 *
 * The events file has no unique_event_name column: REDCap generates the unique
 * name of a new event and reads a given one as "update this existing event"
 * (API documentation, Import Events), so the file creates the events and the
 * names come out as redcap-names.ts predicts.
 *
 * Each CRF instrument is a repeating instrument in every event, one instance
 * per sample (draw): a visit window can hold several draws, and values outside
 * every window (UNS) are many draws on many days. A repeating event was the
 * other choice REDCap offers, but an instrument cannot repeat inside a
 * repeating event, so two draws on one unscheduled day would not fit.
 */
import { SUBJECT_FORM, subjectEvent, type RedcapDesign, type RedcapEvent } from './redcap-names';
import { csvNumber, csvText } from '../util/csv';

export function armsCsv(design: RedcapDesign): string {
  return csvText(['arm_num', 'name'], design.arms.map((a) => [csvNumber(a.num), a.name]));
}

/**
 * One event per visit per arm that has it. day_offset is the visit's target
 * study day and offset_min/offset_max its window; Screening is day 0 before
 * Week 0 (REDCap orders events by day offset, then name), Unscheduled one day
 * after the last target day.
 */
export function eventsCsv(design: RedcapDesign): string {
  const lastDay = Math.max(0, ...design.events.map((e) => e.visit.targetDay ?? 0));
  return csvText(
    ['event_name', 'arm_num', 'day_offset', 'offset_min', 'offset_max'],
    design.events.map((e) => [e.eventName, csvNumber(e.arm.num), csvNumber(dayOffset(e, lastDay)), csvNumber(e.visit.window?.before ?? 0), csvNumber(e.visit.window?.after ?? 0)]),
  );
}

function dayOffset(e: RedcapEvent, lastDay: number): number {
  if (e.visit.kind === 'unscheduled') return lastDay + 1;
  return e.visit.targetDay ?? 0;
}

/** The subject instrument in the first event of each arm (Screening) only; every CRF instrument in every event. */
export function instrumentEventMappingCsv(design: RedcapDesign): string {
  return csvText(
    ['arm_num', 'unique_event_name', 'form'],
    design.events.flatMap((e) => formsOfEvent(design, e).map((form) => [csvNumber(e.arm.num), e.uniqueName, form])),
  );
}

export function formsOfEvent(design: RedcapDesign, e: RedcapEvent): string[] {
  return [...(e === subjectEvent(design, e.arm.num) ? [SUBJECT_FORM] : []), ...design.forms.map((f) => f.name)];
}

/** Every CRF instrument repeats in every event; the instance label is the sample time (REDCap piping). */
export function repeatingInstrumentsCsv(design: RedcapDesign): string {
  return csvText(
    ['event_name', 'form_name', 'custom_form_label'],
    design.events.flatMap((e) => design.forms.map((f) => [e.uniqueName, f.name, `[${f.dateTimeField}]`])),
  );
}
