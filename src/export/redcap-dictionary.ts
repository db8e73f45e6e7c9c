/**
 * The REDCap data dictionary (Project Setup > Data Dictionary > upload, or API
 * "Import Metadata"): REDCap's 18 metadata columns, one row per variable, the
 * instruments in order. record_id, the subject number, is the first variable of
 * the first instrument, as REDCap requires of the record identifier.
 *
 * Numbers are text fields validated as `integer` or `number_<N>dp` (REDCap
 * checks the number of decimals: values are written with exactly the CRF
 * item's decimals), the CRF unit is the Field Note, coded items are dropdowns
 * ("NEG, Negative | POS, Positive") and the LOINC codes of the analyte go in
 * the Field Annotation. Dates of care are marked as identifiers ("Identifier?"
 * = y) so REDCap's de-identified exports can drop them (HIPAA Safe Harbor,
 * 45 CFR 164.514(b)(2)(i)(C): all elements of dates except the year).
 */
import type { ExportItem } from './model';
import { SUBJECT_FORM, type RedcapDesign, type RedcapForm } from './redcap-names';
import { csvText } from '../util/csv';

/** REDCap's metadata columns, in REDCap's order and spelling. */
export const DATA_DICTIONARY_COLUMNS = [
  'Variable / Field Name',
  'Form Name',
  'Section Header',
  'Field Type',
  'Field Label',
  'Choices, Calculations, OR Slider Labels',
  'Field Note',
  'Text Validation Type OR Show Slider Number',
  'Text Validation Min',
  'Text Validation Max',
  'Identifier?',
  'Branching Logic (Show field only if...)',
  'Required Field?',
  'Custom Alignment',
  'Question Number (surveys only)',
  'Matrix Group Name',
  'Matrix Ranking?',
  'Field Annotation',
] as const;

/** REDCap's fixed-decimal number validations go up to four decimals; beyond, any number. */
const MAX_FIXED_DECIMALS = 4;

interface FieldDef {
  readonly name: string;
  readonly form: string;
  readonly type: 'text' | 'dropdown';
  readonly label: string;
  readonly choices?: string;
  readonly note?: string;
  readonly validation?: string;
  readonly identifier?: boolean;
  readonly annotation?: string;
}

/** The REDCap validation of an item's values: `integer`, `number_<N>dp`, `number`, or none (text). */
export function itemValidation(item: ExportItem): string {
  if (item.codeList || item.dataType === 'text') return '';
  if (item.dataType === 'integer' || item.decimals === 0) return 'integer';
  return item.decimals <= MAX_FIXED_DECIMALS ? `number_${item.decimals}dp` : 'number';
}

/** The data dictionary CSV. */
export function dataDictionaryCsv(design: RedcapDesign): string {
  const fields: FieldDef[] = [
    { name: 'record_id', form: SUBJECT_FORM, type: 'text', label: 'Subject number', note: 'Trial subject number' },
    { name: 'subject_site', form: SUBJECT_FORM, type: 'text', label: 'Site' },
    { name: 'subject_day0', form: SUBJECT_FORM, type: 'text', label: 'Study Day 0', note: 'Site-local date', validation: 'date_ymd', identifier: true },
    { name: 'subject_status', form: SUBJECT_FORM, type: 'text', label: 'Subject status', note: 'FHIR ResearchSubject.status' },
    ...design.forms.flatMap(formFields),
  ];
  return csvText(
    DATA_DICTIONARY_COLUMNS,
    fields.map((f) => [f.name, f.form, '', f.type, f.label, f.choices ?? '', f.note ?? '', f.validation ?? '', '', '', f.identifier ? 'y' : '', '', '', '', '', '', '', f.annotation ?? '']),
  );
}

function formFields(f: RedcapForm): FieldDef[] {
  const sample: FieldDef[] = [
    { name: f.dateTimeField, form: f.name, type: 'text', label: 'Sample date and time', note: 'Site-local time; empty when the source gave only a date', validation: 'datetime_seconds_ymd', identifier: true },
    { name: f.dateField, form: f.name, type: 'text', label: 'Sample date', note: 'Site-local date', validation: 'date_ymd', identifier: true },
    { name: f.offsetField, form: f.name, type: 'text', label: 'UTC offset of the sample time', note: 'e.g. UTC+08:00; empty when the source gave only a date' },
  ];
  return [...sample, ...f.form.items.map((item) => itemField(f, item))];
}

function itemField(f: RedcapForm, item: ExportItem): FieldDef {
  const base = { name: f.fields.get(item.item)!, form: f.name, label: itemLabel(item), annotation: item.loinc.length ? `LOINC: ${item.loinc.map((c) => c.code).join(', ')}` : '' };
  if (item.codeList) return { ...base, type: 'dropdown', choices: item.codeList.map((c) => `${c.code}, ${c.decode}`).join(' | ') };
  return { ...base, type: 'text', note: item.unit ?? '', validation: itemValidation(item) };
}

/** The analyte name, with the CRF item code unless the name already shows it (INR, "Urea nitrogen (BUN)"). */
function itemLabel(item: ExportItem): string {
  return new RegExp(`\\b${item.item}\\b`, 'i').test(item.label) ? item.label : `${item.label} (${item.item})`;
}
