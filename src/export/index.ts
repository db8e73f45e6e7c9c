/**
 * Public face of the exports: pure writers from an ExportDataset to files for the
 * trial database (CDISC ODM 1.3.2, REDCap, CDISC LB/EX). README "Send data to the
 * trial database".
 */
export type { ExportAdministration, ExportArm, ExportCode, ExportDataset, ExportForm, ExportItem, ExportSignature, ExportSite, ExportStudy, ExportSubject, ExportUser, ExportValue, ExportVisit, ValueAudit, ValueChange, ValueStatus } from './model';
export { valueKey } from './model';
export { UNSCHEDULED, buildStudy } from './study';
export { REDCAP_FILE_KINDS, REDCAP_ZIP_CONTENT_TYPE, redcapProject, redcapZip, type RedcapFile } from './redcap';
export { EX_COLUMNS, LB_COLUMNS, SDTM_CONTENT_TYPE, exCsv, lbCsv } from './sdtm';
export { ODM_CONTENT_TYPE, OdmWriteError, odmSnapshot, odmTransactional, type OdmFileInfo } from './odm';
