import { EXPORT_USAGE, exportCommand, parseExportArgs } from './export';

describe('trialbridge export arguments', () => {
  test.each([
    [['--trial', 'NCT05985863', '--format', 'odm'], { trial: 'NCT05985863', format: 'odm', out: null }],
    [['--trial', 'NCT05985863', '--format', 'odm', '--since-last'], { trial: 'NCT05985863', format: 'odm', out: null }],
    [['--format', 'lb', '--trial', 'NCT02812121', '--out', '/tmp/lb.csv'], { trial: 'NCT02812121', format: 'lb', out: '/tmp/lb.csv' }],
  ])('%j', (argv, want) => {
    expect(parseExportArgs(argv)).toEqual(want);
  });

  test.each([
    [['--format', 'odm'], '--trial is required'],
    [['--trial', 'NCT05985863'], '--format is required (odm, odm-snapshot, redcap, lb, ex)'],
    [['--trial', 'NCT05985863', '--format', 'pdf'], 'unknown format "pdf"; known: odm, odm-snapshot, redcap, lb, ex'],
    [['--trial', 'NCT05985863', '--format', 'redcap', '--since-last'], '--since-last applies to --format odm only (ODM Transactional); redcap is always a full snapshot'],
    [['--trial', '--format', 'odm'], '--trial needs a trial key'],
    [['--trial', 'NCT05985863', '--format', 'odm', '--out'], '--out needs a file name'],
    [['--trial', 'NCT05985863', '--format', 'odm', 'extra'], 'unexpected argument extra'],
  ])('%j is refused: %s', (argv, problem) => {
    expect(parseExportArgs(argv)).toBe(problem);
  });

  test('--help prints the usage with every format on stdout and exits 0', async () => {
    const out = { logs: [] as string[], errors: [] as string[], log(s: string) { this.logs.push(s); }, error(s: string) { this.errors.push(s); } };
    expect(await exportCommand(['--help'], out, {})).toBe(0);
    expect(out.logs).toEqual([EXPORT_USAGE]);
    for (const f of ['odm', 'odm-snapshot', 'redcap', 'lb', 'ex', 'TRIALBRIDGE_EXPORT_USER', '--since-last', '--out']) expect(EXPORT_USAGE).toContain(f);
  });

  test('a bad argument exits 2 with the problem and the usage on stderr, before any database is opened', async () => {
    const out = { logs: [] as string[], errors: [] as string[], log(s: string) { this.logs.push(s); }, error(s: string) { this.errors.push(s); } };
    expect(await exportCommand(['--trial', 'NCT05985863', '--format', 'ex', '--since-last'], out, {})).toBe(2);
    expect(out.errors[0]).toMatch(/^export: --since-last applies to --format odm only/);
    expect(out.errors[0]).toContain('usage: trialbridge export');
  });

  test('an unknown trial exits 2 naming the known trials', async () => {
    const out = { logs: [] as string[], errors: [] as string[], log(s: string) { this.logs.push(s); }, error(s: string) { this.errors.push(s); } };
    expect(await exportCommand(['--trial', 'NCT00000000', '--format', 'odm'], out, {})).toBe(2);
    expect(out.errors).toEqual([expect.stringMatching(/^export: unknown trial "NCT00000000"; known: .*NCT05985863/)]);
  });
});
