/**
 * A REDCap project for the trial and its records, as CSV files an administrator
 * imports as they are (README "Send data to the trial database"), in this
 * order, with the REDCap API method (or the matching CSV upload of the
 * Project Setup and Data Import Tool pages):
 *
 *   <trial>_DataDictionary.csv              Import Metadata (Data Dictionary upload)
 *   <trial>_Arms.csv                        Import Arms
 *   <trial>_Events.csv                      Import Events
 *   <trial>_InstrumentEventMapping.csv      Import Instrument-Event Mappings
 *   <trial>_RepeatingInstrumentsEvents.csv  Import Repeating Instruments and Events
 *   <trial>_Records.csv                     Import Records (flat CSV, overwriteBehavior=overwrite)
 *
 * after making the project longitudinal and switching on repeating
 * instruments, which no import can do. The choices of names, arms, events and
 * repeats are in redcap-names.ts, redcap-events.ts and redcap-records.ts.
 */
import { zipSync, strToU8 } from 'fflate';
import type { ExportDataset } from './model';
import { dataDictionaryCsv } from './redcap-dictionary';
import { armsCsv, eventsCsv, instrumentEventMappingCsv, repeatingInstrumentsCsv } from './redcap-events';
import { recordsCsv } from './redcap-records';
import { redcapDesign } from './redcap-names';

export interface RedcapFile {
  readonly name: string;
  readonly content: string;
}

export const REDCAP_ZIP_CONTENT_TYPE = 'application/zip';
export const REDCAP_FILE_KINDS = ['DataDictionary', 'Arms', 'Events', 'InstrumentEventMapping', 'RepeatingInstrumentsEvents', 'Records'] as const;

/** The project files and the records, in import order; file names are `<trial>_<kind>.csv`. */
export function redcapProject(ds: ExportDataset): readonly RedcapFile[] {
  const design = redcapDesign(ds.study);
  const contents: Record<(typeof REDCAP_FILE_KINDS)[number], string> = {
    DataDictionary: dataDictionaryCsv(design),
    Arms: armsCsv(design),
    Events: eventsCsv(design),
    InstrumentEventMapping: instrumentEventMappingCsv(design),
    RepeatingInstrumentsEvents: repeatingInstrumentsCsv(design),
    Records: recordsCsv(ds, design),
  };
  return REDCAP_FILE_KINDS.map((kind) => ({ name: `${fileStem(ds.study.trial)}_${kind}.csv`, content: contents[kind] }));
}

/**
 * The same files in one zip. Every entry carries the dataset's read time
 * (asOf, as UTC wall time), never the clock, so one dataset gives the same bytes.
 */
export function redcapZip(ds: ExportDataset): Uint8Array {
  const mtime = zipTime(ds.asOf);
  const entries: Record<string, [Uint8Array, { mtime: Date }]> = {};
  for (const f of redcapProject(ds)) entries[f.name] = [strToU8(f.content), { mtime }];
  return zipSync(entries, { level: 6 });
}

/**
 * Zip stores local DOS date-times and fflate reads them with the local-time
 * getters, so the Date is built from the UTC fields in local time: the bytes
 * do not depend on the time zone of the process. fflate takes the years 1980-2099.
 */
function zipTime(asOf: string): Date {
  const t = new Date(asOf);
  if (Number.isNaN(t.getTime())) return new Date(1980, 0, 1);
  const year = Math.min(2099, Math.max(1980, t.getUTCFullYear()));
  return new Date(year, t.getUTCMonth(), t.getUTCDate(), t.getUTCHours(), t.getUTCMinutes(), t.getUTCSeconds());
}

/** Trial keys are file-name safe by the trial schema; anything else becomes an underscore. */
function fileStem(trial: string): string {
  return trial.replace(/[^A-Za-z0-9._-]/g, '_');
}
