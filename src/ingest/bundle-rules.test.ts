import { checkBundleContainer } from './bundle-rules';

const obs = (id: string) => ({ resourceType: 'Observation', id, status: 'final', code: { text: 'x' } });
const put = (id: string) => ({ fullUrl: `urn:uuid:00000000-0000-4000-8000-00000000000${id}`, resource: obs(id), request: { method: 'PUT', url: `Observation/${id}` } });
const paths = (b: unknown) => checkBundleContainer(b).map((i) => i.expression?.[0]);
const texts = (b: unknown) => checkBundleContainer(b).map((i) => `${i.expression?.[0]}: ${i.details?.text}`);

describe('checkBundleContainer (FHIR R4 bundle.html invariants)', () => {
  test('conformant batch, transaction, collection and history Bundles pass', () => {
    expect(checkBundleContainer({ resourceType: 'Bundle', type: 'batch', entry: [put('1'), put('2')] })).toEqual([]);
    expect(checkBundleContainer({ resourceType: 'Bundle', type: 'transaction', entry: [{ ...put('1'), request: { method: 'POST', url: 'Observation', ifNoneExist: 'identifier=a|b' } }] })).toEqual([]);
    expect(checkBundleContainer({ resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl: 'http://x/Observation/1', resource: obs('1') }] })).toEqual([]);
    expect(checkBundleContainer({
      resourceType: 'Bundle', type: 'history', total: 2,
      entry: [
        { ...put('1'), response: { status: '201 Created' } },
        { fullUrl: 'http://x/Observation/2', request: { method: 'DELETE', url: 'Observation/2' }, response: { status: '204' } },
      ],
    })).toEqual([]);
    expect(checkBundleContainer({ resourceType: 'Bundle', type: 'batch' })).toEqual([]);
  });

  test.each([
    ['bdl-1: total in a batch', { resourceType: 'Bundle', type: 'batch', total: 1, entry: [put('1')] }, 'Bundle.total', /bdl-1/],
    ['bdl-2: search in a batch entry', { resourceType: 'Bundle', type: 'batch', entry: [{ ...put('1'), search: { mode: 'match' } }] }, 'Bundle.entry[0].search', /bdl-2/],
    ['bdl-3: a batch entry without request', { resourceType: 'Bundle', type: 'batch', entry: [put('1'), put('2'), put('3'), { resource: obs('4') }] }, 'Bundle.entry[3].request', /bdl-3: entry.request is mandatory in a batch/],
    ['bdl-3: a transaction entry without request', { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: obs('4') }] }, 'Bundle.entry[0].request', /bdl-3/],
    ['bdl-3: request in a collection', { resourceType: 'Bundle', type: 'collection', entry: [put('1')] }, 'Bundle.entry[0].request', /only allowed in batch, transaction and history/],
    ['bdl-4: a history entry without response', { resourceType: 'Bundle', type: 'history', entry: [put('1')] }, 'Bundle.entry[0].response', /bdl-4: entry.response is mandatory in a history/],
    ['bdl-4: response in a batch', { resourceType: 'Bundle', type: 'batch', entry: [{ ...put('1'), response: { status: '200' } }] }, 'Bundle.entry[0].response', /bdl-4/],
    ['bdl-5: an empty collection entry', { resourceType: 'Bundle', type: 'collection', entry: [{}] }, 'Bundle.entry[0].resource', /bdl-5/],
    ['bdl-7: the same fullUrl twice', { resourceType: 'Bundle', type: 'batch', entry: [put('1'), { ...put('2'), fullUrl: put('1').fullUrl }] }, 'Bundle.entry[1].fullUrl', /bdl-7: fullUrl repeats entry\[0\]/],
    ['bdl-8: a version-specific fullUrl', { resourceType: 'Bundle', type: 'batch', entry: [{ ...put('1'), fullUrl: 'http://x/fhir/Observation/1/_history/2' }] }, 'Bundle.entry[0].fullUrl', /bdl-8/],
    ['request.method missing', { resourceType: 'Bundle', type: 'batch', entry: [{ ...put('1'), request: { url: 'Observation/1' } }] }, 'Bundle.entry[0].request.method', /method is required/],
    ['request.method not an HTTP verb', { resourceType: 'Bundle', type: 'batch', entry: [{ ...put('1'), request: { method: 'put', url: 'Observation/1' } }] }, 'Bundle.entry[0].request.method', /one of GET, HEAD, POST, PUT, DELETE, PATCH/],
    ['request.url missing', { resourceType: 'Bundle', type: 'transaction', entry: [{ ...put('1'), request: { method: 'PUT' } }] }, 'Bundle.entry[0].request.url', /url is required/],
    ['response.status missing', { resourceType: 'Bundle', type: 'history', entry: [{ ...put('1'), response: {} }] }, 'Bundle.entry[0].response.status', /status is required/],
    ['unknown Bundle member', { resourceType: 'Bundle', type: 'batch', foo: 1, entry: [] }, 'Bundle.foo', /Invalid additional property "foo"/],
    ['__proto__ on the Bundle', JSON.parse('{"resourceType":"Bundle","type":"batch","__proto__":{"x":1}}'), 'Bundle.__proto__', /Invalid additional property "__proto__"/],
    ['unknown entry member', { resourceType: 'Bundle', type: 'batch', entry: [{ ...put('1'), resources: obs('1') }] }, 'Bundle.entry[0].resources', /not an element of Bundle.entry/],
    ['constructor on an entry', { resourceType: 'Bundle', type: 'batch', entry: [JSON.parse(`{"constructor":1,"resource":${JSON.stringify(obs('1'))},"request":{"method":"POST","url":"Observation"}}`)] }, 'Bundle.entry[0].constructor', /Invalid additional property/],
    ['unknown request member', { resourceType: 'Bundle', type: 'batch', entry: [{ ...put('1'), request: { method: 'PUT', url: 'Observation/1', ifNoneMatch2: 'x' } }] }, 'Bundle.entry[0].request.ifNoneMatch2', /not an element of Bundle.entry.request/],
    ['no type', { resourceType: 'Bundle', entry: [] }, 'Bundle.type', /Bundle.type is required/],
    ['an unknown type', { resourceType: 'Bundle', type: 'bag', entry: [] }, 'Bundle.type', /must be one of/],
    ['entry not an array', { resourceType: 'Bundle', type: 'batch', entry: {} }, 'Bundle.entry', /must be an array/],
    ['an entry that is not an object', { resourceType: 'Bundle', type: 'batch', entry: [null] }, 'Bundle.entry[0]', /must be an object/],
    ['a resource without resourceType', { resourceType: 'Bundle', type: 'batch', entry: [{ resource: { id: 'x' }, request: { method: 'POST', url: 'Observation' } }] }, 'Bundle.entry[0].resource', /must be a resource/],
    ['an impossible timestamp', { resourceType: 'Bundle', type: 'batch', timestamp: '2024-02-30T00:00:00Z', entry: [] }, 'Bundle.timestamp', /February 2024 has 29 days/],
  ])('%s', (_name, bundle, path, text) => {
    const issues = checkBundleContainer(bundle);
    expect(issues.map((i) => i.expression?.[0])).toContain(path);
    expect(issues.find((i) => i.expression?.[0] === path)?.details?.text).toMatch(text);
    expect(issues.every((i) => i.severity === 'error')).toBe(true);
  });

  test('bdl-7 allows one fullUrl with different versions, and anything in a history Bundle', () => {
    const v = (n: string) => ({ ...put('1'), resource: { ...obs('1'), meta: { versionId: n } } });
    expect(paths({ resourceType: 'Bundle', type: 'batch', entry: [v('1'), v('2')] })).toEqual([]);
    expect(paths({ resourceType: 'Bundle', type: 'batch', entry: [v('1'), v('1')] })).toEqual(['Bundle.entry[1].fullUrl']);
    expect(paths({ resourceType: 'Bundle', type: 'history', entry: [{ ...v('1'), response: { status: '200' } }, { ...v('1'), response: { status: '200' } }] })).toEqual([]);
  });

  test('nested collection Bundles are checked with their own path', () => {
    const nested = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Bundle', type: 'collection', entry: [{ resource: obs('1'), request: { method: 'PUT', url: 'Observation/1' } }] } }] };
    expect(texts(nested)).toEqual(['Bundle.entry[0].resource.entry[0].request: bdl-3: entry.request is only allowed in batch, transaction and history Bundles, not collection']);
  });

  test('primitive extensions of defined elements are allowed', () => {
    expect(paths({ resourceType: 'Bundle', type: 'batch', _type: { extension: [] }, entry: [{ ...put('1'), _fullUrl: { id: 'x' } }] })).toEqual([]);
  });
});
