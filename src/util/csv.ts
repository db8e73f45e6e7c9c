/**
 * CSV as RFC 4180 writes it: fields separated by commas, records ended by CRLF,
 * a field quoted when it holds a comma, a double quote or a line break (quotes
 * doubled inside). Text is UTF-8 without a byte order mark.
 *
 * Cells are also protected against spreadsheet formula injection (OWASP "CSV
 * Injection"): text starting with = + - @, a tab or a carriage return is
 * prefixed with a single quote, so a spreadsheet shows it instead of running it.
 * A number written through `csvNumber` is exempt: a numeral cannot be a formula,
 * and a prefixed "-1.5" would no longer import as a number.
 */

/** A number already formatted for a CSV cell (see `csvNumber`). */
export class CsvNumber {
  constructor(readonly text: string) {}
}

/**
 * A finite number as a cell: `decimals` fixed digits after the point when given
 * (toFixed rounding of the stored value), else the shortest round-trip text.
 * Negative zero is written as zero.
 */
export function csvNumber(n: number, decimals?: number): CsvNumber {
  if (!Number.isFinite(n)) throw new RangeError('csvNumber: not a finite number');
  const text = decimals === undefined ? String(n) : n.toFixed(decimals);
  return new CsvNumber(Number(text) === 0 ? text.replace(/^-/, '') : text);
}

/** RFC 4180 field: quoted when it holds a comma, quote or line break; a leading =+-@ (or tab, CR) is prefixed with ' so spreadsheets do not run it. */
export function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (v instanceof CsvNumber) return v.text;
  let s = typeof v === 'string' ? v : JSON.stringify(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One record: the fields joined by commas, ended by CRLF. */
export function csvRow(cells: readonly unknown[]): string {
  return `${cells.map(csvField).join(',')}\r\n`;
}

/** A whole file: the header record, then one record per row (every row as long as the header). */
export function csvText(header: readonly string[], rows: readonly (readonly unknown[])[]): string {
  for (const r of rows) if (r.length !== header.length) throw new RangeError(`csvText: a row has ${r.length} cells, the header ${header.length}`);
  return csvRow(header) + rows.map(csvRow).join('');
}
