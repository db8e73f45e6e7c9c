/**
 * CDISC ODM 1.3.2 files of a trial's CRF data (README "Send data to the trial
 * database"): a Snapshot of the current values, or a Transactional file of the
 * changes since the previous one (Insert / Update / Remove per ItemData). Both carry
 * the Study (metadata from the trial and CRF files) and the AdminData their audit
 * records and signatures reference, and validate against the official schema
 * (ODM1-3-2.xsd; the unit tests run xmllint on every shipped trial).
 *
 * Files are streamed: the generators yield chunks of a few tens of kilobytes, so a
 * trial of 100 subjects and two years of weekly labs is never one string in memory.
 * The same dataset always gives the same bytes. OIDs: see ./oids.ts.
 */
import type { ExportDataset, ValueChange } from '../model';
import { writeAdminData } from './admin';
import { snapshotCells, transactionalCells, writeClinicalData, type Cell } from './clinical';
import { isDateTime, odmContext, OdmWriteError, type OdmContext } from './context';
import { writeStudy } from './metadata';
import { XmlWriter } from './xml';

export { OdmWriteError } from './context';
export { METADATA_VERSION_OID, oidPart } from './oids';

export interface OdmFileInfo {
  /** ODM FileOID: the export id (EXP-<n>). */
  readonly fileOid: string;
  /** FileOID of the previous transactional file this one continues, or null for the first. */
  readonly priorFileOid: string | null;
  /** ISO 8601 instant the file was made. */
  readonly creationDateTime: string;
  /** trialbridge version (SourceSystemVersion). */
  readonly sourceSystemVersion: string;
}

export const ODM_CONTENT_TYPE = 'application/xml';

const ODM_NAMESPACE = 'http://www.cdisc.org/ns/odm/v1.3';

/** Snapshot: Study (GlobalVariables, BasicDefinitions, MetaDataVersion), AdminData, ClinicalData of every value in ds.values. */
export function odmSnapshot(ds: ExportDataset, file: OdmFileInfo): Iterable<string> {
  return odmFile(ds, file, ds.values, () => snapshotCells(ds.values), false);
}

/** Transactional: the same Study/AdminData, ClinicalData of the changes only (insert/update/remove). */
export function odmTransactional(ds: ExportDataset, changes: readonly ValueChange[], file: OdmFileInfo): Iterable<string> {
  return odmFile(ds, file, changes.map((ch) => ch.value), () => transactionalCells(changes), true);
}

function* odmFile(ds: ExportDataset, file: OdmFileInfo, values: ExportDataset['values'], cells: () => Cell[], transactional: boolean): Generator<string> {
  // Every check runs before the first chunk, so a dataset that cannot be written fails whole.
  const c = odmContext(ds, values);
  if (!isDateTime(file.creationDateTime)) throw new OdmWriteError('ODM writer: CreationDateTime is not an ISO 8601 date-time');
  if (file.fileOid === '' || file.priorFileOid === '') throw new OdmWriteError('ODM writer: FileOID and PriorFileOID must not be empty');
  const w = new XmlWriter();
  w.raw('<?xml version="1.0" encoding="UTF-8"?>\n');
  w.open('ODM', rootAttributes(c, file, transactional));
  writeStudy(w, c);
  writeAdminData(w, c);
  yield w.drain();
  yield* writeClinicalData(w, c, cells(), { transactional });
  w.close('ODM');
  yield w.drain();
}

function rootAttributes(c: OdmContext, file: OdmFileInfo, transactional: boolean) {
  const trial = c.ds.study.trial;
  const scope = c.sites.length > 0 ? `sites ${c.sites.join(', ')}` : 'no site';
  const description = transactional
    ? `trialbridge CRF changes of ${trial} (${scope}) since ${file.priorFileOid ?? 'the first export'}`
    : `trialbridge CRF snapshot of ${trial} (${scope})`;
  return [
    ['xmlns', ODM_NAMESPACE],
    ['ODMVersion', '1.3.2'],
    ['FileType', transactional ? 'Transactional' : 'Snapshot'],
    // The file holds metadata, admin data and clinical data together.
    ['Granularity', 'All'],
    ['Description', description],
    ['FileOID', file.fileOid],
    ['PriorFileOID', file.priorFileOid],
    ['CreationDateTime', file.creationDateTime],
    ['AsOfDateTime', c.ds.asOf],
    ['Originator', 'trialbridge'],
    ['SourceSystem', 'trialbridge'],
    ['SourceSystemVersion', file.sourceSystemVersion],
  ] as const;
}
