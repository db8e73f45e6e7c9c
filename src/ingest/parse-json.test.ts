import { validateResource } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { copyJsonObject, jsonHazards, JsonSyntaxError, MAX_JSON_DEPTH, parseJson } from './parse-json';
import { initFhirValidator, validateFhir } from './validate';

const PROTO_FAMILY = ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', '__defineGetter__'];
const obsText = (member: string) => `{"resourceType":"Observation","status":"final","code":{"text":"x"},${JSON.stringify(member)}:{"status":"final"}}`;

describe('parseJson', () => {
  test('__proto__ stays an ordinary member and never reaches the prototype', () => {
    const v = parseJson('{"resourceType":"Observation","__proto__":{"status":"final"}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v)).toEqual(['resourceType', '__proto__']);
    expect(v.status).toBeUndefined();
  });
  test('a byte order mark is ignored', () => {
    expect(parseJson('\uFEFF{"a":1}')).toEqual({ a: 1 });
  });
  test('syntax errors name the position, never the input text', () => {
    const e = (() => {
      try {
        parseJson('{"name": "Zhang Wei", oops}');
      } catch (x) {
        return x as JsonSyntaxError;
      }
      throw new Error('no error');
    })();
    expect(e).toBeInstanceOf(JsonSyntaxError);
    expect(e.message).toMatch(/at character 23/);
    expect(e.message).not.toMatch(/Zhang/);
    expect(() => parseJson('')).toThrow('unexpected end of input');
  });
});

describe('copyJsonObject copies __proto__ as a member', () => {
  test('assignment would have set the prototype; the copy keeps the member', () => {
    const src = parseJson('{"__proto__":{"status":"final"}}') as Record<string, unknown>;
    const assigned: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(src)) assigned[k] = v;
    expect(assigned.status).toBe('final');
    const copy = copyJsonObject(Object.entries(src));
    expect(copy.status).toBeUndefined();
    expect(Object.keys(copy)).toEqual(['__proto__']);
    expect(JSON.stringify(copy)).toBe('{"__proto__":{"status":"final"}}');
  });
});

describe('jsonHazards', () => {
  test.each(PROTO_FAMILY)('%s as a member name is an unknown element, at any depth', (k) => {
    const top = parseJson(obsText(k));
    expect(jsonHazards(top, 'Observation')).toEqual([{ severity: 'error', code: 'structure', details: { text: `Invalid additional property "${k}"` }, expression: [`Observation.${k}`] }]);
    const deep = parseJson(`{"code":{"coding":[{"system":"s",${JSON.stringify(k)}:1}]}}`);
    expect(jsonHazards(deep, 'Bundle.entry[2].resource').map((i) => i.expression?.[0])).toEqual([`Bundle.entry[2].resource.code.coding[0].${k}`]);
  });
  test('NUL characters and unpaired surrogates in values and names', () => {
    const v = parseJson('{"note":[{"text":"a\\u0000b"}],"x\\u0000":1,"y":"\\ud800"}');
    const issues = jsonHazards(v, 'Observation');
    expect(issues.map((i) => [i.expression?.[0], i.details?.text?.slice(0, 30)])).toEqual([
      ['Observation.note[0].text', 'contains a NUL character (U+00'],
      ['Observation', 'a member name contains a NUL c'],
      ['Observation.y', 'contains an unpaired UTF-16 su'],
    ]);
    expect(jsonHazards(parseJson('{"t":"\\ud83d\\ude00 ok"}'), 'X')).toEqual([]);
  });
  test('nesting past the limit is one issue, not a stack overflow', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const issues = jsonHazards(parseJson(`{"a":${deep}}`), 'Observation');
    expect(issues).toHaveLength(1);
    expect(issues[0].code).toBe('too-costly');
    expect(issues[0].details?.text).toBe(`nested deeper than ${MAX_JSON_DEPTH} levels`);
  });
});

describe('validateFhir rejects the __proto__ family like "foo"', () => {
  beforeAll(() => initFhirValidator());
  test('@medplum/core alone takes these names for known elements (why the extra check exists)', () => {
    expect(validateResource(parseJson(obsText('constructor')) as Resource)).toEqual([]);
    expect(() => validateResource(parseJson(obsText('foo')) as Resource)).toThrow('Invalid additional property "foo"');
  });
  test.each(['foo', ...PROTO_FAMILY])('%s → one unknown-element issue at its path', (k) => {
    const issues = validateFhir(parseJson(obsText(k)) as Resource, 'Bundle.entry[0].resource');
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ severity: 'error', code: 'structure', expression: [`Bundle.entry[0].resource.${k}`] });
    expect(issues[0].details?.text).toBe(`Invalid additional property "${k}"`);
  });
  test('a status supplied through __proto__ does not count: status is missing', () => {
    const r = parseJson('{"resourceType":"Observation","code":{"text":"x"},"__proto__":{"status":"final"}}') as Resource;
    expect(validateFhir(r).map((i) => i.expression?.[0]).sort()).toEqual(['Observation.__proto__', 'Observation.status']);
  });
  test('a resourceType named like a prototype member is not a crash', () => {
    expect(validateFhir({ resourceType: 'constructor' } as unknown as Resource).length).toBeGreaterThan(0);
  });
  test('impossible dates and NUL strings are validation issues', () => {
    const r = parseJson('{"resourceType":"Observation","status":"final","code":{"text":"a\\u0000"},"meta":{"lastUpdated":"2024-02-30T10:00:00Z"},"valueDateTime":"2024-03-01T25:00:00Z"}') as Resource;
    expect(validateFhir(r).map((i) => i.expression?.[0])).toEqual(['Observation.code.text', 'Observation.meta.lastUpdated', 'Observation.valueDateTime']);
  });
  test('a deeply nested extension chain is refused without recursing', () => {
    let ext: Record<string, unknown> = { url: 'urn:x', valueString: 'v' };
    for (let i = 0; i < 5000; i++) ext = { url: 'urn:x', extension: [ext] };
    const issues = validateFhir({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, extension: [ext] } as unknown as Resource);
    expect(issues.map((i) => i.code)).toEqual(['too-costly']);
  });
});
