/** The signature hash and the void reason (21 CFR Part 11 §11.70): pure parts. */
import { canonicalValues, changedItems, valuesHash, type SignedValue } from './signatures';
import { flagEvidenceHash } from './evaluation';

const v = (id: number, item: string, value: number | string, status = 'auto', unit: string | null = 'mg/dL'): SignedValue => ({ id, item, value, unit, status });

describe('canonical JSON and hash of signed values', () => {
  test('ordered by id with keys id, item, value, unit, status, whatever the input order', () => {
    const a = [v(2, 'INR', 1.5, 'auto', '{INR}'), v(1, 'TBIL', 5)];
    expect(canonicalValues(a)).toBe('[{"id":1,"item":"TBIL","value":5,"unit":"mg/dL","status":"auto"},{"id":2,"item":"INR","value":1.5,"unit":"{INR}","status":"auto"}]');
    expect(valuesHash(a)).toBe(valuesHash([...a].reverse()));
    expect(valuesHash(a)).toMatch(/^[0-9a-f]{64}$/);
  });

  test.each([
    ['value', [v(1, 'TBIL', 5.1)]],
    ['unit', [v(1, 'TBIL', 5, 'auto', 'umol/L')]],
    ['status', [v(1, 'TBIL', 5, 'corrected')]],
    ['id', [v(3, 'TBIL', 5)]],
    ['an added value', [v(1, 'TBIL', 5), v(4, 'ALB', 32)]],
  ])('a change of %s changes the hash', (_what, after) => {
    expect(valuesHash(after)).not.toBe(valuesHash([v(1, 'TBIL', 5)]));
  });
});

describe('changed items name what changed', () => {
  test.each([
    [[v(1, 'TBIL', 5), v(2, 'ALB', 32)], [v(1, 'TBIL', 6), v(2, 'ALB', 32)], ['TBIL']],
    [[v(1, 'TBIL', 5)], [v(1, 'TBIL', 5), v(2, 'ALB', 32)], ['ALB']],
    [[v(1, 'TBIL', 5), v(2, 'ALB', 32)], [v(2, 'ALB', 32, 'accepted')], ['ALB', 'TBIL']],
    [[v(1, 'TBIL', 5)], [v(1, 'TBIL', 5)], []],
  ])('%j -> %j: %j', (before, after, items) => {
    expect(changedItems(before, after)).toEqual(items);
  });
});

test('a flag evidence hash ignores evidence order, not the message', () => {
  expect(flagEvidenceHash({ message: 'm', evidence: ['a', 'b'] })).toBe(flagEvidenceHash({ message: 'm', evidence: ['b', 'a'] }));
  expect(flagEvidenceHash({ message: 'm', evidence: ['a'] })).not.toBe(flagEvidenceHash({ message: 'n', evidence: ['a'] }));
});
