import { canonicalJson, contentHash, patientKey, toInbound } from './normalize';

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

  test('version is meta.versionId when given, else derived from content; id derived when absent', () => {
    const withVersion = toInbound('s', { resourceType: 'Observation', id: 'o1', meta: { versionId: '7' }, status: 'final', code: { text: 'x' } } as never, null);
    expect(withVersion.version).toBe('7');
    const noId = toInbound('s', { resourceType: 'Observation', status: 'final', code: { text: 'x' } } as never, null);
    const again = toInbound('s', { code: { text: 'x' }, status: 'final', resourceType: 'Observation' } as never, null);
    expect(noId.resourceId).toMatch(/^h[0-9a-f]{40}$/);
    expect(again.resourceId).toBe(noId.resourceId);
    expect(again.version).toBe(noId.version);
  });
});
