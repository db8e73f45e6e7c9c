/** TRIALBRIDGE_SITES[i].prescreen: parsed at boot, every problem reported at once (design.md habit 2). */
import { parsePrescreen, PRESCREEN_RETENTION_DAYS, unknownPrescreenTrials } from './sites';

const parse = (v: unknown, connected = false) => {
  const bad: string[] = [];
  return { cfg: parsePrescreen(v, 'S[0].prescreen', connected, bad), bad };
};

describe('parsePrescreen', () => {
  test('absent: the site does not pre-screen', () => {
    expect(parse(undefined)).toEqual({ cfg: null, bad: [] });
  });

  test.each([
    [{ trials: ['NCT05985863'] }, false, { kind: 'all' }],
    [{ trials: ['NCT05985863'], scope: 'all' }, false, { kind: 'all' }],
    [{ trials: ['NCT05985863'], scope: { group: 'Group/hep' } }, true, { kind: 'group', group: 'Group/hep' }],
    [{ trials: ['NCT05985863'], scope: { group: 'hep' } }, true, { kind: 'group', group: 'Group/hep' }],
    [{ trials: ['NCT05985863'], scope: { location: 'ward-7' } }, true, { kind: 'location', location: 'Location/ward-7' }],
    [{ trials: ['NCT05985863'], scope: { service: 'http://snomed.info/sct|394582007' } }, true, { kind: 'service', serviceType: 'http://snomed.info/sct|394582007' }],
  ])('%j (connected %s) → scope %j, default retention', (v, connected, scope) => {
    const { cfg, bad } = parse(v, connected);
    expect(bad).toEqual([]);
    expect(cfg).toEqual({ trials: ['NCT05985863'], scope, retentionDays: PRESCREEN_RETENTION_DAYS });
  });

  test('every problem is reported, with its path', () => {
    const { bad } = parse({ trials: [], scope: { ward: 'x' }, retentionDays: -1, extra: 1 }, true);
    expect(bad).toEqual([
      'S[0].prescreen.extra: unknown member (expected trials, scope, retentionDays, lookbackDays)',
      'S[0].prescreen.trials: expected a non-empty array of trial keys',
      'S[0].prescreen.scope: expected "all", {"group": "Group/<id>"}, {"location": "Location/<id>"} or {"service": "<service type code>"}',
      'S[0].prescreen.retentionDays: expected an integer from 0 to 3650',
    ]);
  });

  test('a push-only site cannot scope by Group or Location', () => {
    expect(parse({ trials: ['NCT05985863'], scope: { group: 'Group/hep' } }, false).bad).toEqual([
      'S[0].prescreen.scope: a push-only site (no fhir) pre-screens "all" the patients whose labs it sends; group membership is read from the site\'s FHIR server',
    ]);
  });

  test('an unknown trial stops boot', () => {
    const sites = [{ id: 'a', prescreen: { trials: ['NCT05985863', 'NCT00000000'], scope: { kind: 'all' as const }, retentionDays: 30 } }, { id: 'b', prescreen: null }];
    expect(unknownPrescreenTrials(sites, ['NCT05985863', 'NCT02812121'])).toEqual([
      'TRIALBRIDGE_SITES[0].prescreen.trials: no trial "NCT00000000" is configured (known: NCT02812121, NCT05985863)',
    ]);
  });
});
