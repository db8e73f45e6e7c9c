import fs from 'node:fs';
import path from 'node:path';
import { AppError, ERROR_CATALOGUE, appErrorOutcome, outcomeFor } from './errors';

describe('error catalogue', () => {
  const readme = fs.readFileSync(path.resolve(__dirname, '../README.md'), 'utf8');

  test.each(Object.entries(ERROR_CATALOGUE))('%s is documented in the README with its status and issue code', (code, e) => {
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
    expect(row).toBeDefined();
    const cells = row!.split('|').map((c) => c.trim());
    expect(Number(cells[2])).toBe(e.status);
    expect(cells[3]).toBe(e.issue);
  });

  test('every code in the README table exists in the catalogue', () => {
    const section = readme.split('## Error codes')[1].split('\n## ')[0];
    const codes = [...section.matchAll(/^\| `([a-z-]+)` \|/gm)].map((m) => m[1]);
    expect(codes.sort()).toEqual(Object.keys(ERROR_CATALOGUE).sort());
  });

  test('an AppError renders with its catalogue code, diagnostics and extra issues', () => {
    const err = new AppError('validation-failed', '1 problem(s)', undefined, [{ severity: 'error', code: 'structure', expression: ['Observation.status'] }]);
    expect(err.status).toBe(400);
    const oo = appErrorOutcome(err);
    expect(oo.issue[0].details?.coding?.[0].code).toBe('validation-failed');
    expect(oo.issue[0].code).toBe('structure');
    expect(oo.issue[1].expression).toEqual(['Observation.status']);
    expect(outcomeFor('not-found').issue[0].code).toBe('not-found');
  });
});
