/** `trialbridge validate-mappings`: summary and exit 0 on the shipped files, every problem and exit 1 otherwise. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateMappingsCommand } from './validate-mappings';

function capture() {
  const lines = { log: [] as string[], error: [] as string[] };
  return { lines, out: { log: (s: string) => lines.log.push(s), error: (s: string) => lines.error.push(s) } };
}

test('shipped mappings: summary of trials, rules and codes, exit 0', async () => {
  const { lines, out } = capture();
  expect(await validateMappingsCommand([], out)).toBe(0);
  expect(lines.error).toEqual([]);
  expect(lines.log.join('\n')).toMatch(/trials: 4 \(ESLD-UCMSC-DOSE, NCT02812121, NCT03945487, NCT05985863\)/);
  expect(lines.log.join('\n')).toMatch(/rules: +\d+/);
  expect(lines.log.join('\n')).toMatch(/LOINC codes watched: \d+/);
});

test('broken directory: one `file#pointer: message` line per problem, exit 1', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-validate-'));
  try {
    fs.mkdirSync(path.join(dir, 'crf'));
    fs.writeFileSync(path.join(dir, 'analytes.json'), JSON.stringify({ kind: 'analytes', analytes: [] }));
    fs.writeFileSync(path.join(dir, 'crf', 'X.json'), '{');
    const { lines, out } = capture();
    expect(await validateMappingsCommand([dir], out)).toBe(1);
    expect(lines.error).toEqual(
      expect.arrayContaining([expect.stringMatching(/^analytes\.json#\/analytes: /), expect.stringMatching(/^crf\/X\.json#: not valid JSON/), expect.stringMatching(/^2 problems in /)]),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
