import { bearerChallenge } from './auth';
import { contentTypeProblem, notAcceptable } from './content';

describe('Content-Type of a request body (FHIR R4 http.html#mime)', () => {
  test.each(['application/fhir+json', 'application/fhir+json; charset=utf-8', 'application/json', 'Application/FHIR+JSON;fhirVersion=4.0'])('%s is read', (t) => {
    expect(contentTypeProblem(t)).toBeNull();
  });
  test.each([
    ['application/json+fhir', /DSTU2 media type; FHIR R4 uses application\/fhir\+json/],
    ['application/json+fhir; charset=utf-8', /DSTU2/],
    ['application/fhir+xml', /got "application\/fhir\+xml"/],
    ['text/plain', /got "text\/plain"/],
    ['application/jsonx', /got/],
    [undefined, /missing/],
  ])('%s is refused', (t, why) => {
    expect(contentTypeProblem(t)).toMatch(why);
  });
});

describe('Accept and _format', () => {
  test.each([
    [undefined, undefined],
    ['application/fhir+json', undefined],
    ['application/json', undefined],
    ['*/*', undefined],
    ['application/*', undefined],
    ['application/fhir+xml;q=1, application/fhir+json;q=0.5', undefined],
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', undefined],
    ['application/fhir+xml', 'json'],
    [undefined, 'application/fhir+json'],
  ])('Accept %s, _format %s: acceptable', (accept, format) => {
    expect(notAcceptable(accept, format)).toBeNull();
  });
  test.each([
    ['application/fhir+xml', undefined, /allows nothing we produce/],
    ['application/xml, text/xml', undefined, /allows nothing/],
    ['application/fhir+json;q=0, application/xml', undefined, /allows nothing/],
    ['*/*;q=0', undefined, /allows nothing/],
    ['application/json+fhir', undefined, /allows nothing/],
    [undefined, 'xml', /_format=xml cannot be produced/],
    ['application/fhir+json', 'application/fhir+xml', /_format/],
    [undefined, ['json', 'xml'], /repeated/],
  ])('Accept %s, _format %s: 406', (accept, format, why) => {
    expect(notAcceptable(accept, format)).toMatch(why);
  });
});

test('WWW-Authenticate challenges (RFC 6750 §3)', () => {
  expect(bearerChallenge(false)).toBe('Bearer realm="trialbridge"');
  expect(bearerChallenge(true)).toMatch(/^Bearer realm="trialbridge", error="invalid_token"/);
});
