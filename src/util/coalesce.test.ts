import { coalesce } from './coalesce';

describe('coalesce', () => {
  test('concurrent small calls share one run and each gets its own slice', async () => {
    const runs: number[][] = [];
    const f = coalesce<number, number>({ maxItems: 100, maxWaitMs: 5, run: async (xs) => (runs.push(xs), xs.map((x) => x * 10)) });
    const out = await Promise.all([f([1, 2]), f([3]), f([4, 5, 6])]);
    expect(out).toEqual([[10, 20], [30], [40, 50, 60]]);
    expect(runs).toEqual([[1, 2, 3, 4, 5, 6]]);
  });

  test('a call at the size limit runs at once, alone', async () => {
    const runs: number[][] = [];
    const f = coalesce<number, number>({ maxItems: 3, maxWaitMs: 1000, run: async (xs) => (runs.push(xs), xs) });
    await f([1, 2, 3]);
    expect(runs).toEqual([[1, 2, 3]]);
  });

  test('a data error is isolated to the caller whose items caused it', async () => {
    const f = coalesce<number, number>({
      maxItems: 100,
      maxWaitMs: 5,
      run: async (xs) => {
        if (xs.includes(13)) throw new Error('bad item');
        return xs;
      },
      isolate: () => true,
    });
    const [a, b] = await Promise.allSettled([f([1]), f([13])]);
    expect(a).toEqual({ status: 'fulfilled', value: [1] });
    expect(b.status).toBe('rejected');
  });

  test('an infrastructure error fails every caller of the group', async () => {
    let calls = 0;
    const f = coalesce<number, number>({ maxItems: 100, maxWaitMs: 5, run: async () => (calls++, Promise.reject(new Error('down'))), isolate: () => false });
    const res = await Promise.allSettled([f([1]), f([2])]);
    expect(res.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
  });
});
