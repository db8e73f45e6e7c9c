/** `trialbridge import` argument parsing; the import itself is tested in src/ingest/file-import.test.ts and test/integration/import.test.ts. */
import { parseImportArgs } from './import';

test('arguments', () => {
  expect(parseImportArgs(['f.ndjson', '--site', 'a'])).toEqual({ file: 'f.ndjson', site: 'a', batch: 500, json: false });
  expect(parseImportArgs(['--site', 'a', '--batch', '50', '--json', 'f'])).toEqual({ file: 'f', site: 'a', batch: 50, json: true });
  expect(parseImportArgs(['f', '--site'])).toBe('--site needs a value');
  expect(parseImportArgs(['f', '--site', 'a', '--batch', '1.5'])).toMatch(/^--batch must be an integer/);
  expect(parseImportArgs(['f', '--site', 'a', '--batch', '10001'])).toMatch(/^--batch must be an integer/);
  expect(parseImportArgs(['f', 'g', '--site', 'a'])).toBe('unexpected argument g');
  expect(parseImportArgs(['--help'])).toEqual({ help: true });
});
