/**
 * CDISC SDTM-like LB (laboratory) and EX (exposure) datasets as CSV, following
 * the HL7 FHIR to CDISC Joint Mapping Implementation Guide (LB: Observation,
 * EX: MedicationAdministration) and the SDTMIG variable order.
 *
 * - USUBJID is `<STUDYID>-<site>-<subject>` (SDTMIG: unique within the
 *   submission; the subject number alone repeats across studies and may repeat
 *   across sites).
 * - LB holds the values of the LB form; vital signs (the VS form) belong to the
 *   SDTM VS domain, which is not written.
 * - LBORRES/LBORRESU are what the source said; LBSTRESC/LBSTRESN/LBSTRESU the
 *   CRF value in the CRF unit (UCUM, as the IG maps valueQuantity.code); a coded
 *   result has LBSTRESC = its decode in upper case (NEGATIVE) and no LBSTRESN.
 * - LBNRIND from Observation.interpretation (v3-ObservationInterpretation):
 *   N -> NORMAL; H, HH, HU -> HIGH; L, LL, LU -> LOW; A, AA -> ABNORMAL; any
 *   other code or none -> empty.
 * - --DTC is the site-local time with its UTC offset (ISO 8601), or the date
 *   alone when the source gave only a date.
 * - --DY counts from the subject's Study Day 0 (the first infusion, SDTM
 *   RFSTDTC) with no day 0: Study Day 0 is day 1, the day before is -1.
 * - VISITNUM/VISIT from the schedule: unscheduled values are VISITNUM 99, VISIT
 *   "Unscheduled" (several unscheduled samples differ by --DTC).
 * - EX: one record per administration given in full or in part (not-done and
 *   not yet reviewed administrations are not exposure). EXTRT is the study's
 *   treatment name, which for a blinded trial names both products and never
 *   the arm (clinical-reference §0 Blinding).
 * - --SEQ numbers each subject's records from 1 in the file's order.
 *
 * RFC 4180 CSV (CRLF, UTF-8, header row) through src/util/csv.ts.
 */
import type { ExportAdministration, ExportDataset, ExportItem, ExportStudy } from './model';
import { csvNumber, csvText, type CsvNumber } from '../util/csv';
import { crfCell, crfNumber } from './crf-value';

export const SDTM_CONTENT_TYPE = 'text/csv; charset=utf-8';

export const LB_COLUMNS = ['STUDYID', 'DOMAIN', 'USUBJID', 'LBSEQ', 'LBTESTCD', 'LBTEST', 'LBORRES', 'LBORRESU', 'LBSTRESC', 'LBSTRESN', 'LBSTRESU', 'LBNRIND', 'LBLOINC', 'VISITNUM', 'VISIT', 'LBDTC', 'LBDY'] as const;
export const EX_COLUMNS = ['STUDYID', 'DOMAIN', 'USUBJID', 'EXSEQ', 'EXTRT', 'EXDOSE', 'EXDOSU', 'EXADJ', 'VISITNUM', 'VISIT', 'EXSTDTC', 'EXSTDY'] as const;

/** The form whose values make the LB domain. */
const LB_FORM = 'LB';
/** Administrations that are exposure (schedule AdministrationState). */
const EXPOSED_STATES: ReadonlySet<string> = new Set(['given', 'partial']);

const NRIND: Readonly<Record<string, string>> = { N: 'NORMAL', H: 'HIGH', HH: 'HIGH', HU: 'HIGH', L: 'LOW', LL: 'LOW', LU: 'LOW', A: 'ABNORMAL', AA: 'ABNORMAL' };

/** SDTM LBNRIND of an Observation.interpretation code; empty when none applies. */
export function lbNrind(interpretation: string | null): string {
  return (interpretation && NRIND[interpretation]) || '';
}

/** `<STUDYID>-<site>-<subject>`. */
export function usubjid(study: ExportStudy, site: string, subject: string): string {
  return `${study.trial}-${site}-${subject}`;
}

/** The LB dataset. */
export function lbCsv(ds: ExportDataset): string {
  const items = new Map((ds.study.forms.find((f) => f.form === LB_FORM)?.items ?? []).map((i, n) => [i.item, { item: i, order: n }]));
  const day0 = day0s(ds);
  const values = ds.values.filter((v) => v.form === LB_FORM && items.has(v.item));
  const sorted = [...values].sort((a, b) => compare(a.subject, b.subject) || visitNumber(ds.study, a.visit) - visitNumber(ds.study, b.visit)
    || compare(a.effective, b.effective) || items.get(a.item)!.order - items.get(b.item)!.order || a.id - b.id);
  const seq = sequencer();
  return csvText(LB_COLUMNS, sorted.map((v) => {
    const item = items.get(v.item)!.item;
    const visit = visitOf(ds.study, v.visit);
    return [
      ds.study.trial, 'LB', usubjid(ds.study, v.site, v.subject), csvNumber(seq(v.subject)), item.item, item.label,
      original(v.originalValue), v.originalUnit ?? '', standardText(item, v.value), standardNumber(item, v.value), item.codeList ? '' : (v.unit ?? item.unit ?? ''),
      lbNrind(v.interpretation), v.loinc, visit.num, visit.label, v.localDateTime, studyDay(day0.get(v.subject), v.localDate),
    ];
  }));
}

/** The EX dataset. */
export function exCsv(ds: ExportDataset): string {
  const day0 = day0s(ds);
  const given = ds.administrations.filter((a) => EXPOSED_STATES.has(a.state));
  const sorted = [...given].sort((a, b) => compare(a.subject, b.subject) || compare(utcOf(a), utcOf(b)) || compare(a.start, b.start) || compare(a.source, b.source));
  const seq = sequencer();
  return csvText(EX_COLUMNS, sorted.map((a) => {
    const visit = visitOf(ds.study, a.visit);
    return [
      ds.study.trial, 'EX', usubjid(ds.study, a.site, a.subject), csvNumber(seq(a.subject)), ds.study.treatment.name,
      a.dose === null ? '' : csvNumber(a.dose), a.doseUnit ?? '', a.adjustment ?? '', visit.num, visit.label, a.start, studyDay(day0.get(a.subject), a.start.slice(0, 10)),
    ];
  }));
}

function standardText(item: ExportItem, value: number | string): CsvNumber | string {
  if (crfNumber(item, value) !== null) return crfCell(item, value);
  const decode = item.codeList?.find((c) => c.code === value)?.decode;
  return (decode ?? String(value)).toUpperCase();
}

function standardNumber(item: ExportItem, value: number | string): CsvNumber | string {
  return crfNumber(item, value) === null ? '' : crfCell(item, value);
}

function original(v: number | string): CsvNumber | string {
  return typeof v === 'number' ? csvNumber(v) : v;
}

function visitOf(study: ExportStudy, code: string): { num: CsvNumber | string; label: string } {
  const v = study.visits.find((x) => x.code === code);
  return v ? { num: csvNumber(v.number), label: v.label } : { num: '', label: code };
}

function visitNumber(study: ExportStudy, code: string): number {
  return study.visits.find((x) => x.code === code)?.number ?? Number.MAX_SAFE_INTEGER;
}

function day0s(ds: ExportDataset): Map<string, string | null> {
  return new Map(ds.subjects.map((s) => [s.subject, s.day0]));
}

/** SDTM study day of `date` (YYYY-MM-DD) with Study Day 0 as day 1 and no day 0; empty without both dates. */
export function studyDay(day0: string | null | undefined, date: string): CsvNumber | string {
  if (!day0 || !/^\d{4}-\d{2}-\d{2}$/.test(date)) return '';
  const days = Math.round((Date.parse(`${date}T00:00:00Z`) - Date.parse(`${day0}T00:00:00Z`)) / 86_400_000);
  if (Number.isNaN(days)) return '';
  return csvNumber(days >= 0 ? days + 1 : days);
}

function sequencer(): (subject: string) => number {
  const next = new Map<string, number>();
  return (subject) => {
    const n = (next.get(subject) ?? 0) + 1;
    next.set(subject, n);
    return n;
  };
}

function utcOf(a: ExportAdministration): string {
  const t = Date.parse(a.start);
  return Number.isNaN(t) ? a.start : new Date(t).toISOString();
}

/** Code-unit order: the same in every locale. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
