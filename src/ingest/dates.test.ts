import type { Resource } from '@medplum/fhirtypes';
import { dateElements, dateIssues, dateProblem, daysInMonth, NO_OFFSET, readLocalTimes, zoneOffsetAt, type DateKind } from './dates';

describe('dateProblem: FHIR R4 date, dateTime, instant (datatypes.html)', () => {
  test.each<[string, DateKind]>([
    ['2024', 'date'], ['2024-02', 'date'], ['2024-02-29', 'date'], ['2000-02-29', 'date'], ['0001-01-01', 'date'],
    ['2024', 'dateTime'], ['2024-03', 'dateTime'], ['2024-03-01', 'dateTime'],
    ['2024-03-01T08:00:00+08:00', 'dateTime'], ['2024-03-01T08:00:00Z', 'dateTime'], ['2024-03-01T08:00:00.123-05:00', 'dateTime'],
    ['2024-12-31T23:59:60Z', 'dateTime'], ['2024-03-01T08:00:00+14:00', 'dateTime'], ['2024-03-01T08:00:00-13:59', 'dateTime'],
    ['2024-03-01T08:00:00.5Z', 'instant'], ['2024-02-29T00:00:00+05:30', 'instant'],
  ])('%s is a valid %s', (v, kind) => {
    expect(dateProblem(v, kind)).toBeNull();
  });

  test.each<[string, DateKind, RegExp]>([
    ['2024-02-30', 'date', /day 30 does not exist: February 2024 has 29 days/],
    ['2023-02-29', 'date', /day 29 does not exist: February 2023 has 28 days/],
    ['1900-02-29', 'date', /February 1900 has 28 days/],
    ['2024-04-31', 'dateTime', /April 2024 has 30 days/],
    ['2024-13-01', 'date', /month 13 does not exist/],
    ['2024-00-10', 'date', /month 0 does not exist/],
    ['2024-01-00', 'date', /day 0 does not exist/],
    ['0000-01-01', 'date', /year 0000/],
    ['2024-03-01T25:00:00Z', 'dateTime', /hour 25 does not exist/],
    ['2024-03-01T24:00:00Z', 'dateTime', /hour 24 does not exist/],
    ['2024-03-01T08:60:00Z', 'dateTime', /minute 60/],
    ['2024-03-01T08:00:61Z', 'dateTime', /second 61/],
    ['2024-03-01T08:00:00+15:00', 'dateTime', /offset \+15:00 does not exist/],
    ['2024-03-01T08:00:00+14:30', 'dateTime', /offset \+14:30/],
    ['2024-03-01T08:00:00+08:75', 'dateTime', /offset \+08:75/],
    ['2024-02-30T10:00:00Z', 'instant', /February 2024 has 29 days/],
    ['2024-03-01T08:00:00', 'dateTime', /no UTC offset/],
    ['2024-03-01T08:00:00.000', 'instant', /no UTC offset/],
    ['2024-03-01T08:00+08:00', 'dateTime', /needs seconds/],
    ['2024-03-01T08', 'dateTime', /not a FHIR dateTime/],
    ['2024-03-01Z', 'dateTime', /not a FHIR dateTime/],
    ['2024-3-1', 'date', /not a FHIR date/],
    ['2024-03-01 08:00:00Z', 'dateTime', /not a FHIR dateTime/],
    ['2024-03-01T08:00:00Z', 'date', /a date has no time/],
    ['2024-03-01', 'instant', /an instant needs a full date and time/],
    ['', 'date', /not a FHIR date/],
  ])('%s is not a valid %s', (v, kind, why) => {
    expect(dateProblem(v, kind)).toMatch(why);
  });

  test('non-strings are refused', () => {
    expect(dateProblem(20240301, 'date')).toMatch(/must be a string/);
  });

  test.each([[2024, 2, 29], [2023, 2, 28], [2000, 2, 29], [2100, 2, 28], [2024, 1, 31], [2024, 11, 30]])('daysInMonth(%i, %i) = %i', (y, m, d) => {
    expect(daysInMonth(y, m)).toBe(d);
  });
});

const obs = (extra: Record<string, unknown>): Resource => ({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, ...extra }) as Resource;

describe('dateElements walks every date-typed element by its StructureDefinition', () => {
  test('choice types, backbone elements, arrays, Meta, extensions, primitive extensions, contained resources', () => {
    const r = obs({
      meta: { lastUpdated: '2024-02-30T10:00:00Z' },
      effectiveDateTime: '2024-03-01T08:00:00+08:00',
      issued: '2024-03-01T09:00:00+08:00',
      component: [{ code: { text: 'y' }, valuePeriod: { start: '2023-02-29' } }],
      extension: [{ url: 'urn:x', valueDate: '2024-02-30' }],
      _status: { extension: [{ url: 'urn:y', valueInstant: '2024-01-01T00:00:00Z' }] },
      contained: [{ resourceType: 'Patient', id: 'p', birthDate: '1970-01-01' }],
      note: [{ text: '2024-02-30', time: '2024-01-02T00:00:00Z' }],
    });
    expect(dateElements(r).map((e) => [e.path, e.kind])).toEqual([
      ['Observation.meta.lastUpdated', 'instant'],
      ['Observation.effectiveDateTime', 'dateTime'],
      ['Observation.issued', 'instant'],
      ['Observation.component[0].valuePeriod.start', 'dateTime'],
      ['Observation.extension[0].valueDate', 'date'],
      ['Observation._status.extension[0].valueInstant', 'instant'],
      ['Observation.contained[0].birthDate', 'date'],
      ['Observation.note[0].time', 'dateTime'],
    ]);
  });

  test('dateIssues names each bad element and why; a string element that looks like a date is not a date', () => {
    const issues = dateIssues(obs({ meta: { lastUpdated: '2024-02-30T10:00:00Z' }, effectiveDateTime: '2024-03-01T08:00:00', note: [{ text: '2024-02-30' }] }));
    expect(issues.map((i) => [i.expression?.[0], i.code])).toEqual([['Observation.meta.lastUpdated', 'value'], ['Observation.effectiveDateTime', 'value']]);
    expect(issues[0].details?.text).toBe('instant day 30 does not exist: February 2024 has 29 days');
    expect(issues[1].details?.text).toBe(`dateTime ${NO_OFFSET}`);
  });

  test('offset-less times may be allowed (site zone option); impossible dates never are', () => {
    const issues = dateIssues(obs({ effectiveDateTime: '2024-03-01T08:00:00', issued: '2024-02-30T08:00:00Z' }), { localTimesAllowed: true });
    expect(issues.map((i) => i.expression?.[0])).toEqual(['Observation.issued']);
  });
});

describe('reading offset-less times in the site zone', () => {
  test.each([
    ['2024-03-01T08:00:00', 'Asia/Shanghai', '+08:00'],
    ['2024-07-01T08:00:00', 'Europe/Berlin', '+02:00'],
    ['2024-01-01T08:00:00', 'Europe/Berlin', '+01:00'],
    ['2024-03-01T08:00:00', 'UTC', '+00:00'],
    ['2024-03-31T02:30:00', 'Europe/Berlin', null],
    ['2024-10-27T02:30:00', 'Europe/Berlin', null],
    ['2024-11-03T01:30:00', 'America/New_York', null],
    ['2024-11-03T03:30:00', 'America/New_York', '-05:00'],
  ])('%s in %s has offset %s', (wall, zone, offset) => {
    expect(zoneOffsetAt(wall, zone)).toBe(offset);
  });

  test('readLocalTimes rewrites a copy and lists what it read', () => {
    const r = obs({ effectiveDateTime: '2024-03-04T07:00:00', issued: '2024-03-04T09:00:00+08:00', component: [{ code: { text: 'y' }, valueDateTime: '2024-03-04T07:30:00.250' }] });
    const out = readLocalTimes(r, 'Asia/Shanghai');
    expect((out.resource as any).effectiveDateTime).toBe('2024-03-04T07:00:00+08:00');
    expect((out.resource as any).component[0].valueDateTime).toBe('2024-03-04T07:30:00.250+08:00');
    expect((out.resource as any).issued).toBe('2024-03-04T09:00:00+08:00');
    expect(out.paths).toEqual(['Observation.effectiveDateTime', 'Observation.component[0].valueDateTime']);
    expect(out.issues).toEqual([]);
    expect((r as any).effectiveDateTime).toBe('2024-03-04T07:00:00');
    expect(Date.parse((out.resource as any).effectiveDateTime)).toBe(Date.parse('2024-03-03T23:00:00Z'));
  });

  test('a wall-clock time inside a DST gap is an issue, not a guess', () => {
    const out = readLocalTimes(obs({ effectiveDateTime: '2024-03-31T02:30:00' }), 'Europe/Berlin');
    expect(out.paths).toEqual([]);
    expect(out.issues[0].expression).toEqual(['Observation.effectiveDateTime']);
  });
});
