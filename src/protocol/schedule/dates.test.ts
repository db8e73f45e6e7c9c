/** Site-local reading of instants for CRFs (clinical-reference §6 Supporting rules: days are the site's calendar days). */
import { localDateTimeOf, siteLocalTime } from './dates';

describe('siteLocalTime: the instant kept, the site date and wall-clock time added', () => {
  test.each([
    ['2024-03-03T23:00:00Z', 'Asia/Shanghai', '2024-03-04', '2024-03-04T07:00:00+08:00'],
    ['2024-03-03T23:00:00.000Z', 'Asia/Shanghai', '2024-03-04', '2024-03-04T07:00:00+08:00'],
    ['2024-03-04T07:00:00+08:00', 'Asia/Shanghai', '2024-03-04', '2024-03-04T07:00:00+08:00'],
    ['2024-03-04T07:00:00+08:00', 'UTC', '2024-03-03', '2024-03-03T23:00:00+00:00'],
    ['2024-03-10T12:00:00Z', 'America/New_York', '2024-03-10', '2024-03-10T08:00:00-04:00'], // the day DST starts
    ['2024-03-10T06:00:00Z', 'America/New_York', '2024-03-10', '2024-03-10T01:00:00-05:00'],
    ['2024-06-01T00:30:00Z', 'Asia/Kolkata', '2024-06-01', '2024-06-01T06:00:00+05:30'],
  ])('%s in %s -> %s, %s', (value, tz, localDate, localDateTime) => {
    expect(siteLocalTime(value, tz)).toEqual({ localDate, localDateTime });
  });

  test('a date-only value has a local date and no time', () => {
    expect(siteLocalTime('2024-03-04', 'Asia/Shanghai')).toEqual({ localDate: '2024-03-04', localDateTime: null });
  });

  test('a partial or unparseable value has neither', () => {
    expect(siteLocalTime('2024-03', 'Asia/Shanghai')).toEqual({ localDate: null, localDateTime: null });
    expect(siteLocalTime('yesterday', 'Asia/Shanghai')).toEqual({ localDate: null, localDateTime: null });
  });

  test('the local time denotes the same instant', () => {
    const instant = Date.parse('2024-11-03T05:30:00Z');
    expect(Date.parse(localDateTimeOf(instant, 'America/New_York'))).toBe(instant);
  });
});
