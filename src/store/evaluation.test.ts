/** mergeFlagsByKey: the flag upsert never meets one key twice. */
import { flagKey, mergeFlagsByKey, type FlagInput } from './evaluation';

const review = (message: string, evidence = ['Observation/o1']): FlagInput => ({ code: 'value-needs-review', severity: 'info', visit: null, criterion: null, message, evidence });

test('two review flags on one Observation become one flag with both messages', () => {
  const merged = mergeFlagsByKey([review('unit-not-convertible: a'), review('unit-not-convertible: b'), review('missing-unit: c', ['Observation/o2'])]);
  expect(merged).toHaveLength(2);
  expect(merged[0]).toEqual({ key: flagKey(review('x')), flag: review('unit-not-convertible: a; unit-not-convertible: b') });
  expect(new Set(merged.map((m) => m.key)).size).toBe(2);
});

test('the same message twice is kept once; evidence is the union; the higher severity wins', () => {
  const a: FlagInput = { code: 'visit-missed', severity: 'info', visit: 'W1', criterion: null, message: 'm', evidence: ['a'] };
  const b: FlagInput = { ...a, severity: 'warning', evidence: ['b', 'a'] };
  expect(mergeFlagsByKey([a, b])).toEqual([{ key: flagKey(a), flag: { ...a, severity: 'warning', evidence: ['a', 'b'] } }]);
});
