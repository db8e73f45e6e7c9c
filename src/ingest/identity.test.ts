import { decideVersion, matchesIdentifier, parseIfMatch, parseIfNoneExist, parsePutUrl, putIdentity, type StoredVersion } from './identity';

const v = (inboundId: number, version: string, contentHash: string, senderVersion: string | null = version, lastUpdated: string | null = null): StoredVersion => ({
  inboundId, version, senderVersion, contentHash, lastUpdated, receivedAt: `2024-03-0${inboundId}T00:00:00.000Z`,
});

describe('version decision (README "FHIR receiver")', () => {
  test('a new id is created under the sender versionId, else a content version', () => {
    expect(decideVersion([], { senderVersion: '1', contentHash: 'a'.repeat(64), lastUpdated: null })).toEqual({ kind: 'new', version: '1', created: true });
    expect(decideVersion([], { senderVersion: null, contentHash: 'a'.repeat(64), lastUpdated: null })).toEqual({ kind: 'new', version: `h${'a'.repeat(16)}`, created: true });
  });
  test('the current content again is a redelivery, whatever the meta says', () => {
    const d = decideVersion([v(1, '1', 'A')], { senderVersion: '2', contentHash: 'A', lastUpdated: '2024-05-01T00:00:00.000Z' });
    expect(d).toMatchObject({ kind: 'same', existing: { version: '1' } });
  });
  test('different content under the same versionId is a new version (a correction), not a redelivery', () => {
    expect(decideVersion([v(1, '1', 'A'.repeat(64))], { senderVersion: '1', contentHash: 'B'.repeat(64), lastUpdated: null })).toEqual({ kind: 'new', version: `h${'B'.repeat(16)}`, created: false });
  });
  test('an older version delivered again exactly is a redelivery; brought back under a new lastUpdated it is a new version', () => {
    const vs = [v(1, '1', 'A', '1', '2024-03-01T00:00:00.000Z'), v(2, '2', 'B', '2', '2024-03-02T00:00:00.000Z')];
    expect(decideVersion(vs, { senderVersion: '1', contentHash: 'A', lastUpdated: '2024-03-01T00:00:00.000Z' })).toMatchObject({ kind: 'same', existing: { version: '1' } });
    expect(decideVersion(vs, { senderVersion: '3', contentHash: 'A', lastUpdated: '2024-03-03T00:00:00.000Z' })).toEqual({ kind: 'new', version: '3', created: false });
  });
  test('a content version already taken is made unique', () => {
    const h = 'C'.repeat(64);
    const vs = [v(1, `h${'C'.repeat(16)}`, h, null, '2024-03-01T00:00:00.000Z'), v(2, 'x', 'D', null, '2024-03-02T00:00:00.000Z')];
    expect(decideVersion(vs, { senderVersion: null, contentHash: h, lastUpdated: '2024-03-03T00:00:00.000Z' })).toEqual({ kind: 'new', version: `h${'C'.repeat(16)}-3`, created: false });
  });
});

describe('request identity and conditions (FHIR R4 http.html)', () => {
  test.each([
    ['Observation/o-1', { type: 'Observation', id: 'o-1' }],
    ['https://ehr.example/fhir/Observation/o-1', { type: 'Observation', id: 'o-1' }],
    ['Observation/o-1?x=1', { type: 'Observation', id: 'o-1' }],
    ['Observation', null],
  ])('parsePutUrl(%s)', (url, want) => expect(parsePutUrl(url)).toEqual(want));

  test('a PUT URL gives the id; another type or id is refused where it is', () => {
    expect(putIdentity('Observation/a', { resourceType: 'Observation' }, 'Bundle.entry[0].request.url', 'Bundle.entry[0].resource')).toEqual({ id: 'a' });
    expect(putIdentity('Patient/a', { resourceType: 'Observation' }, 'u', 'r')).toMatchObject({ code: 'resource-type-mismatch', issues: [{ expression: ['r.resourceType'] }] });
    expect(putIdentity('Observation/a', { resourceType: 'Observation', id: 'b' }, 'u', 'r')).toMatchObject({ code: 'id-mismatch', issues: [{ expression: ['r.id'] }] });
    expect(putIdentity('Observation/a_b', { resourceType: 'Observation' }, 'u', 'r')).toMatchObject({ code: 'invalid-id' });
  });

  test.each([
    ['identifier=urn:lab|ACC-1', { system: 'urn:lab', value: 'ACC-1' }],
    ['identifier=ACC-1', { value: 'ACC-1' }],
    ['identifier=%7CACC-1', { system: null, value: 'ACC-1' }],
    ['Observation?identifier=urn%3Alab%7CACC-1', { system: 'urn:lab', value: 'ACC-1' }],
    ['identifier=urn:lab|', { system: 'urn:lab' }],
  ])('If-None-Exist %s', (q, want) => expect(parseIfNoneExist(q, 'at')).toEqual(want));

  test.each(['code=1975-2', 'identifier=a&patient=p', 'identifier=a&identifier=b', '', 'identifier='])('If-None-Exist %j is refused with 412 unsupported-condition', (q) => {
    expect(parseIfNoneExist(q, 'at')).toMatchObject({ code: 'unsupported-condition', issues: [{ code: 'not-supported', expression: ['at'] }] });
  });

  test('identifier matching follows token search', () => {
    const r = { identifier: [{ system: 'urn:lab', value: 'A' }, { value: 'B' }] };
    expect(matchesIdentifier(r, { system: 'urn:lab', value: 'A' })).toBe(true);
    expect(matchesIdentifier(r, { value: 'A' })).toBe(true);
    expect(matchesIdentifier(r, { system: null, value: 'A' })).toBe(false);
    expect(matchesIdentifier(r, { system: null, value: 'B' })).toBe(true);
    expect(matchesIdentifier(r, { system: 'urn:other', value: 'A' })).toBe(false);
    expect(matchesIdentifier({}, { value: 'A' })).toBe(false);
  });

  test.each([['W/"3"', '3'], ['"3"', '3'], ['3', '3'], ['W/"h0a1b"', 'h0a1b'], ['W/"a b"', null]])('If-Match %s', (h, want) => expect(parseIfMatch(h)).toBe(want));
});
