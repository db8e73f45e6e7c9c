/**
 * The Study element: GlobalVariables, BasicDefinitions (the CRF units) and one
 * MetaDataVersion built from the trial and CRF files (export/study.ts). Child order
 * is the ODM 1.3.2 XSD's sequence order (ODM1-3-2-foundation.xsd, complex types
 * Study, MetaDataVersion, StudyEventDef, FormDef, ItemGroupDef, ItemDef, CodeList).
 *
 * ODM 1.3.2 has no element for treatment arms (they arrive with ODM 2.0's
 * StudyStructure), so the arms are named in the Protocol's Description, and a visit
 * that only some arms have says which in its StudyEventDef Description.
 */
import type { ExportForm, ExportItem, ExportVisit } from '../model';
import { itemLength, type OdmContext } from './context';
import { codeListOid, formOid, itemGroupOid, itemOid, METADATA_VERSION_OID, studyEventOid } from './oids';
import type { XmlWriter } from './xml';

const EN = [['xml:lang', 'en']] as const;

/** Name-typed texts (StudyName, ProtocolName, Name attributes) must not be empty (XSD type `name`: minLength 1). */
export const nonEmpty = (s: string, fallback: string): string => (s.trim() === '' ? fallback : s);

export function writeStudy(w: XmlWriter, c: OdmContext): void {
  const study = c.ds.study;
  w.open('Study', [['OID', study.trial]]);
  w.open('GlobalVariables');
  w.text('StudyName', nonEmpty(study.title, study.trial));
  w.text('StudyDescription', study.summary);
  w.text('ProtocolName', nonEmpty(study.registryId ?? study.trial, study.trial));
  w.close('GlobalVariables');
  writeUnits(w, c);
  w.open('MetaDataVersion', [['OID', METADATA_VERSION_OID], ['Name', `${study.trial} CRF`], ['Description', `CRF of ${study.trial} as trialbridge collects it from site EHRs (trial and CRF definition files)`]]);
  writeProtocol(w, c);
  for (const v of study.visits) writeStudyEventDef(w, v, study.forms);
  for (const f of study.forms) writeFormDef(w, f);
  for (const f of study.forms) writeItemGroupDef(w, f);
  for (const f of study.forms) for (const i of f.items) writeItemDef(w, c, i);
  for (const f of study.forms) for (const i of f.items) if (i.codeList) writeCodeList(w, i);
  w.close('MetaDataVersion');
  w.close('Study');
}

function translated(w: XmlWriter, element: string, text: string): void {
  w.open(element).text('TranslatedText', text, EN).close(element);
}

function writeUnits(w: XmlWriter, c: OdmContext): void {
  if (c.units.length === 0) return;
  w.open('BasicDefinitions');
  for (const u of c.units) {
    w.open('MeasurementUnit', [['OID', c.unitOid.get(u)], ['Name', u]]);
    translated(w, 'Symbol', u);
    w.empty('Alias', [['Context', 'UCUM'], ['Name', u]]);
    w.close('MeasurementUnit');
  }
  w.close('BasicDefinitions');
}

function writeProtocol(w: XmlWriter, c: OdmContext): void {
  const study = c.ds.study;
  w.open('Protocol');
  if (study.arms.length > 0) translated(w, 'Description', `Arms: ${study.arms.map((a) => `${a.id} (${a.label})`).join('; ')}`);
  for (const v of study.visits) w.empty('StudyEventRef', [['StudyEventOID', studyEventOid(v.code)], ['OrderNumber', v.number], ['Mandatory', v.kind === 'unscheduled' ? 'No' : 'Yes']]);
  w.close('Protocol');
}

function writeStudyEventDef(w: XmlWriter, v: ExportVisit, forms: readonly ExportForm[]): void {
  const unscheduled = v.kind === 'unscheduled';
  w.open('StudyEventDef', [['OID', studyEventOid(v.code)], ['Name', nonEmpty(v.label, v.code)], ['Repeating', unscheduled ? 'Yes' : 'No'], ['Type', unscheduled ? 'Unscheduled' : 'Scheduled'], ['Category', v.kind]]);
  translated(w, 'Description', describeVisit(v));
  forms.forEach((f, i) => w.empty('FormRef', [['FormOID', formOid(f.form)], ['OrderNumber', i + 1], ['Mandatory', 'No']]));
  // SDTM VISITNUM, so an LB/EX dataset and this file name a visit the same way.
  w.empty('Alias', [['Context', 'SDTM VISITNUM'], ['Name', v.number]]);
  w.close('StudyEventDef');
}

function describeVisit(v: ExportVisit): string {
  if (v.kind === 'unscheduled') return `${v.label}: values outside every visit window; one repeat per site-local date (StudyEventRepeatKey YYYY-MM-DD)`;
  const when = v.targetDay === null ? v.label : `${v.label}: study day ${v.targetDay}${v.window ? `, window -${v.window.before}/+${v.window.after} days` : ''}`;
  return v.arms ? `${when}; arms ${v.arms.join(', ')} only` : when;
}

function writeFormDef(w: XmlWriter, f: ExportForm): void {
  w.open('FormDef', [['OID', formOid(f.form)], ['Name', nonEmpty(f.label, f.form)], ['Repeating', 'No']]);
  w.empty('ItemGroupRef', [['ItemGroupOID', itemGroupOid(f.form)], ['OrderNumber', 1], ['Mandatory', 'Yes']]);
  w.close('FormDef');
}

function writeItemGroupDef(w: XmlWriter, f: ExportForm): void {
  // Repeating: one repeat per sample draw, keyed by the sample's site-local date-time.
  w.open('ItemGroupDef', [['OID', itemGroupOid(f.form)], ['Name', nonEmpty(f.label, f.form)], ['Repeating', 'Yes'], ['Domain', f.form]]);
  translated(w, 'Description', `${f.label}: one repeat per sample (ItemGroupRepeatKey = the sample's site-local date-time, or date when the source gave only a date)`);
  f.items.forEach((i, n) => w.empty('ItemRef', [['ItemOID', itemOid(f.form, i.item)], ['OrderNumber', n + 1], ['Mandatory', 'No']]));
  w.close('ItemGroupDef');
}

function writeItemDef(w: XmlWriter, c: OdmContext, i: ExportItem): void {
  w.open('ItemDef', [['OID', itemOid(i.form, i.item)], ['Name', i.item], ['DataType', i.dataType], ['Length', itemLength(i)], ['SignificantDigits', i.dataType === 'float' ? i.decimals : null]]);
  translated(w, 'Question', nonEmpty(i.label, i.item));
  if (i.unit !== null) w.empty('MeasurementUnitRef', [['MeasurementUnitOID', c.unitOid.get(i.unit)]]);
  if (i.codeList) w.empty('CodeListRef', [['CodeListOID', codeListOid(i.form, i.item)]]);
  // The XSD allows one Alias per Context in an ItemDef (unique constraint UC-ID-1), so the
  // analyte group's first LOINC code is "LOINC" and the others "LOINC 2", "LOINC 3", ...
  i.loinc.forEach((l, n) => w.empty('Alias', [['Context', n === 0 ? 'LOINC' : `LOINC ${n + 1}`], ['Name', l.code]]));
  w.close('ItemDef');
}

function writeCodeList(w: XmlWriter, i: ExportItem): void {
  w.open('CodeList', [['OID', codeListOid(i.form, i.item)], ['Name', `${nonEmpty(i.label, i.item)} codes`], ['DataType', 'text']]);
  (i.codeList ?? []).forEach((code, n) => {
    w.open('CodeListItem', [['CodedValue', code.code], ['OrderNumber', n + 1]]);
    translated(w, 'Decode', nonEmpty(code.decode, code.code));
    w.close('CodeListItem');
  });
  w.close('CodeList');
}
