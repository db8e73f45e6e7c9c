import type { Resource } from '@medplum/fhirtypes';
import { AppError } from '../errors';
import type { AcceptResult } from './accept';
import { entryResponse, etagOf, httpDate, preferReturn, renderSingle, versionUrl } from './respond';

const stored: Resource = { resourceType: 'Observation', id: 'o1', meta: { versionId: '3', lastUpdated: '2024-03-04T07:00:00.000Z' }, status: 'final', code: { text: 'x' } } as Resource;
const result = (outcome: AcceptResult['outcome'], extra: Partial<AcceptResult> = {}): AcceptResult => ({
  index: 0, outcome, resourceType: 'Observation', id: 'o1', versionId: '3', lastUpdated: '2024-03-04T07:00:00.000Z', stored, ...extra,
});
const ctx = (prefer: 'minimal' | 'representation' | 'OperationOutcome' = 'representation') => ({ base: 'https://tb.example', prefer });

describe('preferReturn (RFC 7240, FHIR R4 http.html#ops)', () => {
  test.each([
    [undefined, 'representation'],
    ['return=minimal', 'minimal'],
    ['return=OperationOutcome', 'OperationOutcome'],
    ['return=representation', 'representation'],
    ['respond-async, return=minimal', 'minimal'],
    ['handling=strict; return="minimal"', 'minimal'],
    ['return=bogus', 'representation'],
    [['wait=10', 'return=OperationOutcome'], 'OperationOutcome'],
  ])('%p → %s', (h, want) => {
    expect(preferReturn(h as never)).toBe(want);
  });
});

describe('single create / update', () => {
  test('create: 201, absolute Location with the version, weak ETag, HTTP-date Last-Modified, the stored resource', () => {
    const out = renderSingle(result('created'), ctx());
    expect(out.status).toBe(201);
    expect(out.headers).toEqual({ Location: 'https://tb.example/fhir/Observation/o1/_history/3', ETag: 'W/"3"', 'Last-Modified': 'Mon, 04 Mar 2024 07:00:00 GMT' });
    expect(out.body).toBe(stored);
  });
  test.each(['updated', 'unchanged'] as const)('%s: 200 with the same headers', (o) => {
    const out = renderSingle(result(o), ctx());
    expect(out.status).toBe(200);
    expect(out.headers.Location).toBe('https://tb.example/fhir/Observation/o1/_history/3');
  });
  test('minimal: no body; OperationOutcome: an informational outcome', () => {
    expect(renderSingle(result('created'), ctx('minimal')).body).toBeNull();
    const oo = renderSingle(result('unchanged'), ctx('OperationOutcome')).body as any;
    expect(oo.resourceType).toBe('OperationOutcome');
    expect(oo.issue[0]).toMatchObject({ severity: 'information', diagnostics: 'already stored Observation/o1/_history/3; nothing changed' });
  });
  test('a refusal is thrown with its catalogue code and issues', () => {
    const issues = [{ severity: 'error' as const, code: 'conflict' as const, expression: ['Observation'] }];
    let e: unknown;
    try {
      renderSingle({ index: 0, outcome: 'precondition-failed', code: 'precondition-failed', issues } as AcceptResult, ctx());
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).status).toBe(412);
    expect((e as AppError).issues).toEqual(issues);
  });
});

describe('Bundle entry responses', () => {
  test('representation (default): resource and response with location, etag, lastModified', () => {
    expect(entryResponse(result('created'), ctx())).toEqual({
      fullUrl: 'https://tb.example/fhir/Observation/o1',
      resource: stored,
      response: { status: '201 Created', location: 'https://tb.example/fhir/Observation/o1/_history/3', etag: 'W/"3"', lastModified: '2024-03-04T07:00:00.000Z' },
    });
  });
  test('minimal: response only; OperationOutcome: response.outcome', () => {
    const min = entryResponse(result('updated'), ctx('minimal'));
    expect(min.resource).toBeUndefined();
    expect(min.response?.status).toBe('200 OK');
    expect(min.response?.outcome).toBeUndefined();
    const oo = entryResponse(result('updated'), ctx('OperationOutcome'));
    expect(oo.resource).toBeUndefined();
    expect(oo.response?.outcome?.issue[0].diagnostics).toBe('stored Observation/o1/_history/3, a new version');
  });
  test('refused and ignored entries carry their outcome whatever the preference', () => {
    const bad = entryResponse({ index: 1, outcome: 'invalid', code: 'validation-failed', issues: [{ severity: 'error', code: 'value', expression: ['Bundle.entry[1].resource.effectiveDateTime'] }] }, ctx('minimal'));
    expect(bad.response?.status).toBe('400 Bad Request');
    expect(bad.response?.outcome?.issue.map((i) => i.expression?.[0])).toEqual([undefined, 'Bundle.entry[1].resource.effectiveDateTime']);
    const ign = entryResponse({ index: 2, outcome: 'ignored', resourceType: 'Encounter', issues: [{ severity: 'warning', code: 'not-supported', diagnostics: 'Encounter is not used' }] }, ctx('minimal'));
    expect(ign.response).toEqual({ status: '200 OK', outcome: { resourceType: 'OperationOutcome', issue: [{ severity: 'warning', code: 'not-supported', diagnostics: 'Encounter is not used' }] } });
    expect(entryResponse({ index: 3, outcome: 'precondition-failed', code: 'precondition-failed' }, ctx()).response?.status).toBe('412 Precondition Failed');
  });
});

test('helpers', () => {
  expect(etagOf('h"x')).toBe('W/"hx"');
  expect(httpDate('not a date')).toBeNull();
  expect(versionUrl('http://h', { resourceType: 'Patient', id: 'p.1', versionId: 'v 1' })).toBe('http://h/fhir/Patient/p.1/_history/v%201');
});
