import crypto from 'node:crypto';
import { ConfigError, loadConfig } from '.';
import { unknownAliasTrials } from './sites';

const hex = (s: string) => crypto.createHash('sha256').update(s).digest('hex');
const load = (studyAliases: unknown) => loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', TRIALBRIDGE_SITES: JSON.stringify([{ id: 'site-a', tokenSha256: hex('t'), studyAliases }]) });
const problems = (studyAliases: unknown): string[] => {
  try {
    load(studyAliases);
    return [];
  } catch (e) {
    return [...(e as ConfigError).problems];
  }
};

describe('TRIALBRIDGE_SITES[i].studyAliases', () => {
  test('absent: no aliases', () => {
    expect(load(undefined).sites[0].studyAliases).toEqual({});
  });
  test('parsed as trial key → local identifiers (duplicates dropped)', () => {
    expect(load({ NCT05985863: ['IRB-2023-19', 'IRB-2023-19', 'P-302'] }).sites[0].studyAliases).toEqual({ NCT05985863: ['IRB-2023-19', 'P-302'] });
  });
  test.each([
    ['not an object', ['IRB-2023-19'], 'TRIALBRIDGE_SITES[0].studyAliases: expected {"<trial key>": ["<local ResearchStudy identifier>", ...]}'],
    ['a string instead of a list', { NCT05985863: 'IRB-2023-19' }, 'TRIALBRIDGE_SITES[0].studyAliases.NCT05985863: expected a non-empty array of identifier values (non-empty strings)'],
    ['an empty list', { NCT05985863: [] }, 'TRIALBRIDGE_SITES[0].studyAliases.NCT05985863: expected a non-empty array'],
    ['an empty alias', { NCT05985863: [' '] }, 'TRIALBRIDGE_SITES[0].studyAliases.NCT05985863: expected a non-empty array'],
    ['one alias for two trials', { NCT05985863: ['IRB-1'], NCT02812121: ['IRB-1'] }, 'TRIALBRIDGE_SITES[0].studyAliases.NCT02812121: alias "IRB-1" already names NCT05985863; an alias names one trial'],
    ['the key as its own alias', { NCT05985863: ['NCT05985863'] }, 'TRIALBRIDGE_SITES[0].studyAliases.NCT05985863: alias "NCT05985863" is the trial key itself'],
  ])('%s is named precisely', (_name, value, message) => {
    expect(problems(value).join('\n')).toContain(message);
  });
});

describe('unknownAliasTrials (checked at boot, once the trials are loaded)', () => {
  const keys = ['ESLD-UCMSC-DOSE', 'NCT02812121', 'NCT05985863'];
  test('configured trials pass', () => {
    expect(unknownAliasTrials([{ id: 'a', studyAliases: { NCT05985863: ['IRB-2023-19'] } }], keys)).toEqual([]);
  });
  test('an alias for an unknown trial, and an alias that is another trial key, are named', () => {
    expect(unknownAliasTrials([{ id: 'a', studyAliases: {} }, { id: 'b', studyAliases: { NCT00000000: ['IRB-1'], NCT05985863: ['NCT02812121'] } }], keys)).toEqual([
      'TRIALBRIDGE_SITES[1].studyAliases.NCT00000000: no trial "NCT00000000" is configured (known: ESLD-UCMSC-DOSE, NCT02812121, NCT05985863)',
      'TRIALBRIDGE_SITES[1].studyAliases.NCT05985863: alias "NCT02812121" is the key of another trial',
    ]);
  });
});
