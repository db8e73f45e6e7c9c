/** suggestAnalyte: hints for a site code map from display text or unit (never a mapping). */
import { DEFAULT_MAPPINGS_DIR, loadMappings } from './index';
import { suggestAnalyte } from './suggest';

const set = loadMappings(DEFAULT_MAPPINGS_DIR);

test.each([
  ['Bilirubin, total', 'mg/dL', 'TBIL', 'display'],
  ['Total Bilirubin', null, 'TBIL', 'display'],
  ['BILIRUBIN DIRECT', 'umol/L', 'DBIL', 'display'],
  ['Creatinine', 'umol/L', 'CREA', 'display'],
  ['Platelet count', '10*9/L', 'PLT', 'display'],
  ['Platelet count', 'K/uL', 'PLT', 'display'],
  ['Prothrombin time', 's', 'PT', 'display'],
  ['Prothrombin activity', '%', 'PTA', 'display'],
  ['INR', null, 'INR', 'display'],
  ['Sodium', 'mmol/L', 'NA', 'display'],
  ['HBsAg', null, 'HBSAG', 'display'],
  ['Hepatitis B virus surface Ag', null, 'HBSAG', 'display'],
  ['Local test 42', 's', 'PT', 'unit'],
  ['Local test 43', 'kg', 'WEIGHT', 'unit'],
])('%j in %j -> %s', (display, unit, analyte, by) => {
  const s = suggestAnalyte(set, display, unit);
  expect(s && { analyte: s.analyte, by: s.by }).toEqual(analyte ? { analyte, by } : null);
});

test.each([
  ['Hemoglobin A1c/Hemoglobin.total in Blood', '%'],
  ['Albumin/Creatinine [Mass Ratio] in Urine', 'mg/g'],
  ['Glucose', 'mg/dL'],
  ['Body temperature', 'Cel'],
  ['Heart rate', '/min'],
  ['MCH [Entitic mass] by Automated count', 'pg'],
  ['Platelet mean volume [Entitic volume] in Blood by Automated count', 'fL'],
  ['Erythrocytes [#/volume] in Blood by Automated count', '10*6/uL'],
  [null, 'mg/dL'],
  [null, null],
])('%j in %j -> no suggestion', (display, unit) => {
  expect(suggestAnalyte(set, display, unit)).toBeNull();
});
