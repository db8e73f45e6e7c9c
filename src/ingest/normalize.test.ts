import { canonicalJson, contentHash, normalize, patientKey, storableInstant } from './normalize';

describe('normalize', () => {
  test('canonical JSON does not depend on key order', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] })).toBe(canonicalJson({ a: [{ c: 3, d: 2 }], b: 1 }));
  });

  test('meta does not change the content hash; content does', () => {
    const o = { resourceType: 'Observation', id: 'x', status: 'final', code: { text: 't' } } as const;
    expect(contentHash({ ...o, meta: { lastUpdated: '2024-01-01T00:00:00Z' } } as never)).toBe(contentHash(o as never));
    expect(contentHash({ ...o, status: 'amended' } as never)).not.toBe(contentHash(o as never));
  });

  test.each([
    [{ reference: 'Patient/123' }, '123'],
    [{ reference: 'https://ehr.example/fhir/Patient/abc-1' }, 'abc-1'],
    [{ reference: 'Patient/9/_history/2' }, '9'],
    [{ identifier: { system: 'urn:mrn', value: 'M1' } }, 'identifier:urn:mrn|M1'],
    [{ reference: 'Group/1' }, null],
    [undefined, null],
  ])('patientKey(%j) = %s', (ref, want) => {
    expect(patientKey(ref as never)).toBe(want);
  });

  test('the sender version is kept; an id is derived from the content when absent, whatever the key order', () => {
    const withVersion = normalize({ resourceType: 'Observation', id: 'o1', meta: { versionId: '7' }, status: 'final', code: { text: 'x' } } as never);
    expect(withVersion).toMatchObject({ resourceId: 'o1', senderVersion: '7', idFromContent: false });
    const noId = normalize({ resourceType: 'Observation', status: 'final', code: { text: 'x' } } as never);
    const again = normalize({ code: { text: 'x' }, status: 'final', resourceType: 'Observation' } as never);
    expect(noId.resourceId).toMatch(/^h[0-9a-f]{40}$/);
    expect(noId).toMatchObject({ idFromContent: true, senderVersion: null });
    expect(again.resourceId).toBe(noId.resourceId);
    expect(again.contentHash).toBe(noId.contentHash);
  });

  test.each([
    ['2024-03-01T08:00:00+08:00', '2024-03-01T00:00:00.000Z'],
    ['2024-02-29T10:00:00Z', '2024-02-29T10:00:00.000Z'],
    ['2024-02-30T10:00:00Z', null],
    ['2023-02-29T10:00:00Z', null],
    ['2024-03-01T08:00:00', null],
    ['2024-03-01', null],
    [undefined, null],
  ])('storableInstant(%s) = %s (PostgreSQL refuses what Date rolls over)', (v, want) => {
    expect(storableInstant(v)).toBe(want);
  });
});
