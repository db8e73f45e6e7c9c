/**
 * A CRF value as the CSV writers (REDCap, LB) write it: numbers of a numeric
 * item with exactly the item's decimals (the CRF precision; REDCap's
 * number_<N>dp validation checks it), codes of a coded item as they are.
 */
import type { ExportItem } from './model';
import { csvNumber, type CsvNumber } from '../util/csv';

const DECIMAL = /^-?\d+(\.\d+)?$/;

/** The number of a numeric item's value (a numeral stored as text counts), or null for coded and text items. */
export function crfNumber(item: ExportItem, value: number | string): number | null {
  if (item.codeList || item.dataType === 'text') return null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  return DECIMAL.test(value.trim()) ? Number(value) : null;
}

/** The value as a cell: a CsvNumber with the item's decimals, else the text. */
export function crfCell(item: ExportItem, value: number | string): CsvNumber | string {
  const n = crfNumber(item, value);
  return n === null ? String(value) : csvNumber(n, item.dataType === 'integer' ? 0 : item.decimals);
}
