import { csvField, csvNumber, csvRow, csvText } from './csv';
import { csvField as auditCsvField } from '../store/audit';
import { parseCsv } from '../export/csv-test-support';

describe('csvField', () => {
  test.each([
    [null, ''],
    [undefined, ''],
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\r\nlines', '"two\r\nlines"'],
    ['=HYPERLINK("http://x")', `"'=HYPERLINK(""http://x"")"`],
    ['+1+2', "'+1+2"],
    ['-2+3', "'-2+3"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\tcmd', "'\tcmd"],
    [12, '12'],
    [-1, "'-1"],
    [{ a: 1 }, '"{""a"":1}"'],
  ])('%j -> %j', (input, expected) => {
    expect(csvField(input)).toBe(expected);
  });

  test('the audit trail keeps using the same function', () => {
    expect(auditCsvField).toBe(csvField);
  });
});

describe('csvNumber', () => {
  test.each([
    [1.25, 1, '1.3'],
    [2, 2, '2.00'],
    [-1.5, 1, '-1.5'],
    [-0.04, 1, '0.0'],
    [17, undefined, '17'],
    [0.1, undefined, '0.1'],
  ])('%p with %p decimals -> %p, never formula-escaped', (n, decimals, expected) => {
    expect(csvField(csvNumber(n, decimals))).toBe(expected);
  });

  test('refuses what is not a finite number', () => {
    expect(() => csvNumber(Number.NaN)).toThrow(RangeError);
    expect(() => csvNumber(Infinity)).toThrow(RangeError);
  });
});

describe('csvRow and csvText', () => {
  test('records end with CRLF and read back field for field', () => {
    const text = csvText(['a', 'b', 'c'], [['x,y', csvNumber(-3), '=1+1'], ['', null, 'line\nbreak']]);
    expect(text).toBe(`a,b,c\r\n"x,y",-3,'=1+1\r\n,,"line\nbreak"\r\n`);
    expect(parseCsv(text)).toEqual([['a', 'b', 'c'], ['x,y', '-3', "'=1+1"], ['', '', 'line\nbreak']]);
  });

  test('a row longer or shorter than the header is a bug, not a file', () => {
    expect(() => csvText(['a', 'b'], [['1']])).toThrow(/1 cells, the header 2/);
    expect(csvRow([])).toBe('\r\n');
  });
});
