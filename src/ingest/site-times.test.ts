import { withSiteTimes } from './site-times';

const entry = (effectiveDateTime: string) => ({
  resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, effectiveDateTime },
  path: 'Bundle.entry[0].resource',
  context: { fallbackEffective: '2024-03-04' },
});

test('reject (default): entries untouched', () => {
  const es = [entry('2024-03-04T07:00:00')];
  expect(withSiteTimes({ timeZone: 'Asia/Shanghai', localTimeWithoutOffset: 'reject' }, es)).toBe(es);
});

test('site-zone: the offset of the site zone is added and recorded in the context', () => {
  const [out] = withSiteTimes({ timeZone: 'Asia/Shanghai', localTimeWithoutOffset: 'site-zone' }, [entry('2024-03-04T07:00:00')]);
  expect((out.resource as any).effectiveDateTime).toBe('2024-03-04T07:00:00+08:00');
  expect(out.context).toEqual({ fallbackEffective: '2024-03-04', localTimes: { timeZone: 'Asia/Shanghai', paths: ['Observation.effectiveDateTime'] } });
});

test('site-zone: values with an offset, and non-resources, are left alone', () => {
  const withOffset = entry('2024-03-04T07:00:00Z');
  const notResource = { resource: [1], path: 'Bundle.entry[1].resource' };
  const out = withSiteTimes({ timeZone: 'Asia/Shanghai', localTimeWithoutOffset: 'site-zone' }, [withOffset, notResource]);
  expect(out[0]).toBe(withOffset);
  expect(out[1]).toBe(notResource);
});
