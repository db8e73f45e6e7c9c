import { above, approxEqual, atLeast, atMost, below, clamp, COMPARISON_TOLERANCE, roundHalfUp } from './numeric';

describe('roundHalfUp (clinical-reference §4.1 rounding pitfall: half up, not banker’s)', () => {
  test.each([
    ['§4.1 half up, Python round(30.5) = 30 is wrong', 30.5, 0, 31],
    ['§4.1 half up at .5 of an even integer', 16.5, 0, 17],
    ['M10 raw 16.74 → 17', 16.74, 0, 17],
    ['M11 raw 30.42 → 30', 30.42, 0, 30],
    ['M12 raw 30.59 → 31', 30.59, 0, 31],
    ['IEEE guard: 2.675 × 100 = 267.49999999999997 still rounds up', 2.675, 2, 2.68],
    ['IEEE guard: 1.005 × 100 = 100.49999999999999 still rounds up', 1.005, 2, 1.01],
    ['CLIF-C ACLF example 40.906 → 40.9 (one decimal)', 40.906, 1, 40.9],
    ['one decimal, half up', 0.25, 1, 0.3],
    ['below the half stays down', 30.4999, 0, 30],
    ['negative: half away from zero', -2.5, 0, -3],
    ['no negative zero', -0.2, 0, 0],
  ])('%s', (_why, x, digits, expected) => {
    expect(Object.is(roundHalfUp(x, digits), expected)).toBe(true);
  });
});

describe('tolerant threshold comparisons (clinical-reference §0, tolerance 1e-9)', () => {
  const threeFromSi = 51.3 / 17.1; // 2.9999999999999996

  test('51.3 / 17.1 is not exactly 3 in IEEE doubles', () => {
    expect(threeFromSi).not.toBe(3);
    expect(threeFromSi).toBe(2.9999999999999996);
  });

  test.each([
    ['atLeast(51.3/17.1, 3)', atLeast(threeFromSi, 3), true],
    ['atMost(51.3/17.1, 3)', atMost(threeFromSi, 3), true],
    ['below(51.3/17.1, 3) is false: it counts as 3.0', below(threeFromSi, 3), false],
    ['above(3 + 1e-12, 3) is false', above(3 + 1e-12, 3), false],
    ['approxEqual(51.3/17.1, 3)', approxEqual(threeFromSi, 3), true],
    ['atLeast(205.2/17.1 = 11.999999999999998, 12)', atLeast(205.2 / 17.1, 12), true],
    ['atLeast(132.6/88.4 = 1.4999999999999998, 1.5)', atLeast(132.6 / 88.4, 1.5), true],
    ['a real difference still counts: atLeast(2.99, 3)', atLeast(2.99, 3), false],
    ['just outside the tolerance: above(3 + 10 × tol, 3)', above(3 + 10 * COMPARISON_TOLERANCE, 3), true],
  ])('%s → %s', (_why, actual, expected) => {
    expect(actual).toBe(expected);
  });
});

describe('clamp', () => {
  test.each([
    [0.9, 1, undefined, 1],
    [4.1, 1, 4, 4],
    [2, 1, 4, 2],
    [140, 125, 137, 137],
    [120, 125, 137, 125],
  ])('clamp(%p, %p, %p) = %p', (x, lo, hi, expected) => {
    expect(clamp(x, lo, hi)).toBe(expected);
  });
});
