import fs from 'node:fs';
import path from 'node:path';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { isNotificationBundle, parseNotification, parseStatusBundle, subscriptionIdOf, type ParsedNotification, type ParseResult } from './notification';

// Real Backport IG STU 1.1 examples, as Inferno's fixtures (shared/fhir-samples/README.md §5).
const SAMPLES = path.resolve(__dirname, '../../../shared/fhir-samples/inferno-framework_subscriptions-test-kit');
const haveSamples = fs.existsSync(SAMPLES);
const sample = (name: string): unknown => JSON.parse(fs.readFileSync(path.join(SAMPLES, name), 'utf8'));

const ENCOUNTER_URL = 'https://fhirserver.org/fhir/Encounter/86009987-eabe-42bf-8c02-b112b18cb616';
const STATUS_REQUEST = { request: { method: 'GET', url: 'https://fhirserver.org/fhir/Subscription/123/$status' }, response: { status: '200' } };

/** Backport IG Bundle/r4-notification-id-only (STU 1.1), inline so the parser is tested without the samples folder. */
function idOnly(): any {
  return {
    resourceType: 'Bundle',
    id: 'r4-notification-id-only',
    type: 'history',
    timestamp: '2020-05-29T11:44:13.1882432-05:00',
    entry: [
      {
        fullUrl: 'urn:uuid:292d3c72-edc1-4d8a-afaa-d85e19c7f563',
        resource: {
          resourceType: 'Parameters',
          id: '292d3c72-edc1-4d8a-afaa-d85e19c7f563',
          meta: { profile: ['http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4'] },
          parameter: [
            { name: 'subscription', valueReference: { reference: 'https://fhirserver.org/fhir/Subscription/123' } },
            { name: 'topic', valueCanonical: 'http://fhirserver.org/topics/patient-admission' },
            { name: 'status', valueCode: 'active' },
            { name: 'type', valueCode: 'event-notification' },
            { name: 'events-since-subscription-start', valueString: '1' },
            {
              name: 'notification-event',
              part: [
                { name: 'event-number', valueString: '1' },
                { name: 'timestamp', valueInstant: '2020-05-29T11:44:13.1882432-05:00' },
                { name: 'focus', valueReference: { reference: ENCOUNTER_URL } },
              ],
            },
          ],
        },
        ...STATUS_REQUEST,
      },
      { fullUrl: ENCOUNTER_URL, request: { method: 'POST', url: 'Encounter' }, response: { status: '201' } },
    ],
  };
}

const ENCOUNTER = {
  resourceType: 'Encounter',
  id: '86009987-eabe-42bf-8c02-b112b18cb616',
  status: 'in-progress',
  class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'VR' },
  subject: { reference: 'https://fhirserver.org/fhir/Patient/1599eb66-431a-447c-a3de-6897fe9ae9a1', display: 'Example Patient' },
};

/** Backport IG Bundle/r4-notification-full-resource (STU 1.1, narrative dropped). */
function fullResource(): any {
  const b = idOnly();
  b.id = 'r4-notification-full-resource';
  b.entry[1].resource = structuredClone(ENCOUNTER);
  return b;
}

/** R5 topic-based form: SubscriptionStatus first, integer64 counters as JSON strings. */
function r5(): any {
  return {
    resourceType: 'Bundle',
    type: 'subscription-notification',
    entry: [
      {
        fullUrl: 'urn:uuid:1d2c3f4a-0000-4000-8000-000000000001',
        resource: {
          resourceType: 'SubscriptionStatus',
          status: 'active',
          type: 'event-notification',
          eventsSinceSubscriptionStart: '12',
          notificationEvent: [
            {
              eventNumber: '12',
              timestamp: '2024-03-01T10:00:00Z',
              focus: { reference: 'Observation/lab-1' },
              additionalContext: [{ reference: 'Patient/p1' }],
            },
          ],
          subscription: { reference: 'Subscription/labs' },
          topic: 'http://example.org/topics/lab-result',
        },
      },
      { fullUrl: 'https://ehr.example.org/fhir/Observation/lab-1', resource: { resourceType: 'Observation', id: 'lab-1', status: 'final', code: { text: 'ALT' } } },
    ],
  };
}

function ok(r: ParseResult): ParsedNotification {
  if (!r.ok) throw new Error(`expected ok, got ${JSON.stringify(r.issues)}`);
  return r.notification;
}
function issues(r: ParseResult): OperationOutcomeIssue[] {
  if (r.ok) throw new Error('expected issues, parse succeeded');
  return r.issues;
}
const at = (i: OperationOutcomeIssue): string | undefined => i.expression?.[0];

const describeSamples = haveSamples ? describe : describe.skip;

describeSamples('published Backport IG examples (Inferno fixtures)', () => {
  it('handshake: type handshake, status requested, no events, empty content', () => {
    const n = ok(parseNotification(sample('handshake_bundle_example.json')));
    expect(n).toMatchObject({
      subscription: 'https://fhirserver.org/fhir/Subscription/123',
      subscriptionId: '123',
      topic: 'http://fhirserver.org/topics/patient-admission',
      status: 'requested',
      type: 'handshake',
      eventsSinceSubscriptionStart: 0,
      events: [],
      content: 'empty',
      resources: [],
      references: [],
    });
  });

  it('heartbeat', () => {
    const n = ok(parseNotification(sample('heartbeat_bundle_example.json')));
    expect(n).toMatchObject({ type: 'heartbeat', status: 'active', eventsSinceSubscriptionStart: 2, events: [], content: 'empty' });
  });

  it('empty: an event without focus, no references', () => {
    const n = ok(parseNotification(sample('empty_notification_bundle_example.json')));
    expect(n.content).toBe('empty');
    expect(n.references).toEqual([]);
    expect(n.events).toEqual([{ eventNumber: 1, timestamp: '2020-05-29T11:44:13.1882432-05:00', focus: null, resource: null, additionalContext: [] }]);
  });

  it('the non-conformant empty example (no request/response on the status entry) still parses', () => {
    const n = ok(parseNotification(sample('empty_notification_bundle_non_conformant_example.json')));
    expect(n).toMatchObject({ subscription: 'https://fhirserver.org/fhir/Subscription/admission', subscriptionId: 'admission', content: 'empty' });
  });

  it('id-only: references the Encounter focus, event number 1', () => {
    const n = ok(parseNotification(sample('id_only_notification_bundle_example.json')));
    expect(n.content).toBe('id-only');
    expect(n.references).toEqual([ENCOUNTER_URL]);
    expect(n.resources).toEqual([]);
    expect(n.events[0]).toMatchObject({ eventNumber: 1, focus: ENCOUNTER_URL, resource: null });
  });

  it('full-resource: carries the Encounter, nothing left to read', () => {
    const n = ok(parseNotification(sample('full_resource_notification_bundle_example.json')));
    expect(n.content).toBe('full-resource');
    expect(n.resources.map((r) => `${r.resourceType}/${r.id}`)).toEqual(['Encounter/86009987-eabe-42bf-8c02-b112b18cb616']);
    expect(n.events[0].resource).toBe(n.resources[0]);
    expect(n.references).toEqual([]);
  });

  it('$status response: not a notification, but parseStatusBundle reads it as query-status', () => {
    const body = sample('subscription_status_example.json');
    expect(isNotificationBundle(body)).toBe(false);
    const [i] = issues(parseNotification(body));
    expect(i).toMatchObject({ severity: 'error', code: 'value', expression: ['Bundle.type'] });
    expect(i.diagnostics).toMatch(/searchset.*parseStatusBundle/);
    const n = ok(parseStatusBundle(body));
    expect(n).toMatchObject({ type: 'query-status', subscriptionId: '123', status: 'active', eventsSinceSubscriptionStart: 2, resources: [] });
    expect(n.events[0]).toMatchObject({ eventNumber: 2, focus: 'https://example.org/fhir/Encounter/86009987-eabe-42bf-8c02-b112b18cb616' });
    expect(ok(parseStatusBundle(body, '123')).subscription).toBe('https://example.org/fhir/Subscription/123');
  });

  it('isNotificationBundle: true for every notification example, false for Subscriptions', () => {
    for (const f of ['handshake', 'heartbeat', 'empty_notification', 'id_only_notification', 'full_resource_notification']) {
      expect(isNotificationBundle(sample(`${f}_bundle_example.json`))).toBe(true);
    }
    for (const f of ['subscription_resource_example.json', 'Subscription_empty.json', 'Subscription_id-only.json', 'Subscription_full-resource.json']) {
      expect(isNotificationBundle(sample(f))).toBe(false);
      expect(issues(parseNotification(sample(f)))[0]).toMatchObject({ code: 'invalid', expression: ['Bundle'] });
    }
  });
});

describe('parseNotification (inline examples)', () => {
  it('id-only', () => {
    const n = ok(parseNotification(idOnly()));
    expect(n).toMatchObject({ subscriptionId: '123', type: 'event-notification', eventsSinceSubscriptionStart: 1, content: 'id-only', references: [ENCOUNTER_URL] });
    expect(n.events[0].eventNumber).toBe(1);
    expect(isNotificationBundle(idOnly())).toBe(true);
  });

  it('full-resource', () => {
    const n = ok(parseNotification(fullResource()));
    expect(n.content).toBe('full-resource');
    expect(n.resources).toEqual([ENCOUNTER]);
    expect(n.events[0].resource).toEqual(ENCOUNTER);
    expect(n.references).toEqual([]);
  });

  it('R5 SubscriptionStatus: matches a relative focus to an absolute fullUrl by Type/id', () => {
    const n = ok(parseNotification(r5()));
    expect(n).toMatchObject({ subscription: 'Subscription/labs', subscriptionId: 'labs', status: 'active', eventsSinceSubscriptionStart: 12, content: 'full-resource', references: [] });
    expect(n.events[0]).toMatchObject({ eventNumber: 12, focus: 'Observation/lab-1', additionalContext: ['Patient/p1'] });
    expect(n.events[0].resource?.id).toBe('lab-1');
    expect(isNotificationBundle(r5())).toBe(true);
  });

  it('R5 with numeric counters and an R4B history Bundle', () => {
    const b = r5();
    b.type = 'history';
    b.entry[0].resource.eventsSinceSubscriptionStart = 3;
    b.entry[0].resource.notificationEvent[0].eventNumber = 3;
    b.entry.pop();
    const n = ok(parseNotification(b));
    expect(n).toMatchObject({ eventsSinceSubscriptionStart: 3, content: 'id-only', references: ['Observation/lab-1'] });
    expect(n.events[0].eventNumber).toBe(3);
  });

  it('accepts valueInteger / valueUnsignedInt counters', () => {
    const b = idOnly();
    b.entry[0].resource.parameter[4] = { name: 'events-since-subscription-start', valueInteger: 7 };
    b.entry[0].resource.parameter[5].part[0] = { name: 'event-number', valueUnsignedInt: 7 };
    const n = ok(parseNotification(b));
    expect([n.eventsSinceSubscriptionStart, n.events[0].eventNumber]).toEqual([7, 7]);
  });

  it('without focus, id-only references come from fullUrls, else request urls with an id; urn:uuid skipped', () => {
    const b = idOnly();
    b.entry[0].resource.parameter.pop();
    b.entry.push(
      { fullUrl: 'urn:uuid:0b5f3c1e-1111-4111-8111-111111111111', request: { method: 'PUT', url: 'Observation/o1' } },
      { fullUrl: 'urn:uuid:0b5f3c1e-2222-4222-8222-222222222222', request: { method: 'POST', url: 'Observation' } },
      { fullUrl: ENCOUNTER_URL },
    );
    const n = ok(parseNotification(b));
    expect(n.content).toBe('id-only');
    expect(n.references).toEqual([ENCOUNTER_URL, 'Observation/o1']);
  });

  it('references are de-duplicated and omit focuses already carried as resources', () => {
    const b = fullResource();
    const params = b.entry[0].resource.parameter;
    const ev = (num: string, ref: string) => ({ name: 'notification-event', part: [{ name: 'event-number', valueString: num }, { name: 'focus', valueReference: { reference: ref } }] });
    params.push(ev('2', 'Encounter/other'), ev('3', 'https://fhirserver.org/fhir/Encounter/other'), ev('4', 'Encounter/other'));
    const n = ok(parseNotification(b));
    expect(n.events.map((e) => e.eventNumber)).toEqual([1, 2, 3, 4]);
    expect(n.references).toEqual(['Encounter/other', 'https://fhirserver.org/fhir/Encounter/other']);
    expect(n.content).toBe('full-resource');
  });

  it('collects error parameters and additional-context', () => {
    const b = idOnly();
    const concept = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/http-status', code: '500' }] };
    b.entry[0].resource.parameter.push({ name: 'error', valueCodeableConcept: concept });
    b.entry[0].resource.parameter[5].part.push({ name: 'additional-context', valueReference: { reference: 'Patient/p1' } });
    const n = ok(parseNotification(b));
    expect(n.errors).toEqual([concept]);
    expect(n.events[0].additionalContext).toEqual(['Patient/p1']);
  });
});

describe('parseNotification issues', () => {
  const params = (b: any): any[] => b.entry[0].resource.parameter;

  it.each([null, 'x', [], 42, { resourceType: 'Parameters' }])('%p is not a Bundle', (body) => {
    expect(issues(parseNotification(body))).toEqual([expect.objectContaining({ severity: 'error', code: 'invalid', expression: ['Bundle'] })]);
    expect(isNotificationBundle(body)).toBe(false);
  });

  it('wrong Bundle.type', () => {
    const b = idOnly();
    b.type = 'transaction';
    expect(issues(parseNotification(b))).toEqual([expect.objectContaining({ code: 'value', expression: ['Bundle.type'] })]);
  });

  it('no entries', () => {
    expect(issues(parseNotification({ resourceType: 'Bundle', type: 'history', entry: [] }))[0]).toMatchObject({ code: 'required', expression: ['Bundle.entry'] });
  });

  it('first entry is not a status', () => {
    const b = fullResource();
    b.entry.reverse();
    expect(isNotificationBundle(b)).toBe(false);
    const [i] = issues(parseNotification(b));
    expect(i).toMatchObject({ code: 'structure', expression: ['Bundle.entry[0].resource.resourceType'] });
    expect(i.diagnostics).toMatch(/"Encounter"/);
    expect(issues(parseNotification({ resourceType: 'Bundle', type: 'history', entry: [null] }))[0]).toMatchObject({ code: 'required', expression: ['Bundle.entry[0].resource'] });
  });

  it('missing subscription reference', () => {
    const b = idOnly();
    params(b).shift();
    expect(issues(parseNotification(b))).toEqual([
      expect.objectContaining({ code: 'required', expression: ["Bundle.entry[0].resource.parameter.where(name='subscription')"] }),
    ]);
  });

  it('subscription without a literal reference, or of the wrong type', () => {
    const b = idOnly();
    params(b)[0].valueReference = { identifier: { value: '123' } };
    expect(issues(parseNotification(b))[0]).toMatchObject({ code: 'required', expression: ['Bundle.entry[0].resource.parameter[0].valueReference.reference'] });
    params(b)[0] = { name: 'subscription', valueString: 'Subscription/123' };
    const [i] = issues(parseNotification(b));
    expect(i).toMatchObject({ code: 'structure', expression: ['Bundle.entry[0].resource.parameter[0].valueString'] });
    expect(i.diagnostics).toMatch(/valueReference/);
  });

  it('unknown or missing type code', () => {
    const b = idOnly();
    params(b)[3].valueCode = 'event';
    const [i] = issues(parseNotification(b));
    expect(i).toMatchObject({ code: 'value', expression: ['Bundle.entry[0].resource.parameter[3].valueCode'] });
    expect(i.diagnostics).toMatch(/"event" is not one of handshake, heartbeat/);
    params(b).splice(3, 1);
    expect(issues(parseNotification(b))[0]).toMatchObject({ code: 'required', expression: ["Bundle.entry[0].resource.parameter.where(name='type')"] });
  });

  it.each(['1.5', 'abc', '-1', '', '99999999999999999999'])('events-since-subscription-start %p is not an integer', (v) => {
    const b = idOnly();
    params(b)[4].valueString = v;
    expect(issues(parseNotification(b))).toEqual([expect.objectContaining({ code: 'value', expression: ['Bundle.entry[0].resource.parameter[4].valueString'] })]);
  });

  it('event-number not an integer', () => {
    const b = idOnly();
    params(b)[5].part[0].valueString = 'one';
    const [i] = issues(parseNotification(b));
    expect(i).toMatchObject({ code: 'value', expression: ['Bundle.entry[0].resource.parameter[5].part[0].valueString'] });
    expect(i.diagnostics).toMatch(/event-number must be a non-negative integer.*"one"/);
  });

  it('duplicate single parameter, and every issue reported at once', () => {
    const b = idOnly();
    params(b).push({ name: 'type', valueCode: 'heartbeat' });
    params(b)[2].valueCode = 'paused';
    params(b)[5].part[2].valueReference = { display: 'an encounter' };
    expect(issues(parseNotification(b)).map(at)).toEqual([
      'Bundle.entry[0].resource.parameter[2].valueCode',
      'Bundle.entry[0].resource.parameter[5].part[2].valueReference.reference',
      'Bundle.entry[0].resource.parameter[6]',
    ]);
  });

  it('a payload entry with a non-resource', () => {
    const b = idOnly();
    b.entry[1].resource = { id: 'x' };
    expect(issues(parseNotification(b))).toEqual([expect.objectContaining({ code: 'structure', expression: ['Bundle.entry[1].resource'] })]);
  });

  it('R5 SubscriptionStatus: missing subscription, bad eventNumber', () => {
    const b = r5();
    delete b.entry[0].resource.subscription;
    b.entry[0].resource.notificationEvent[0].eventNumber = '12a';
    expect(issues(parseNotification(b)).map((i) => [i.code, at(i)])).toEqual([
      ['required', 'Bundle.entry[0].resource.subscription'],
      ['value', 'Bundle.entry[0].resource.notificationEvent[0].eventNumber'],
    ]);
  });
});

describe('parseStatusBundle', () => {
  const status = (id: string, extra: object = {}): any => ({
    resource: { resourceType: 'SubscriptionStatus', status: 'active', type: 'query-status', eventsSinceSubscriptionStart: '5', subscription: { reference: `Subscription/${id}` }, ...extra },
  });
  const searchset = (...entry: unknown[]) => ({ resourceType: 'Bundle', type: 'searchset', entry });

  it('reads the only status, skipping an OperationOutcome entry', () => {
    const n = ok(parseStatusBundle(searchset(status('a'), { resource: { resourceType: 'OperationOutcome', issue: [] }, search: { mode: 'outcome' } })));
    expect(n).toMatchObject({ subscriptionId: 'a', type: 'query-status', eventsSinceSubscriptionStart: 5, content: 'empty', references: [] });
  });

  it('several statuses need a selector', () => {
    const b = searchset(status('a'), status('b'));
    expect(issues(parseStatusBundle(b))[0]).toMatchObject({ code: 'structure', expression: ['Bundle.entry'] });
    expect(ok(parseStatusBundle(b, 'Subscription/b')).subscriptionId).toBe('b');
    expect(issues(parseStatusBundle(b, 'c'))[0]).toMatchObject({ code: 'required', expression: ['Bundle.entry'] });
  });

  it('no status at all, or a broken one', () => {
    expect(issues(parseStatusBundle(searchset()))[0]).toMatchObject({ code: 'required', expression: ['Bundle.entry'] });
    expect(issues(parseStatusBundle(searchset({ resource: { resourceType: 'Patient' } })))[0].diagnostics).toMatch(/no subscription status/);
    expect(issues(parseStatusBundle(searchset(status('a', { eventsSinceSubscriptionStart: 'x' }))))[0]).toMatchObject({
      code: 'value',
      expression: ['Bundle.entry[0].resource.eventsSinceSubscriptionStart'],
    });
  });
});

it('subscriptionIdOf', () => {
  expect(subscriptionIdOf('https://fhirserver.org/fhir/Subscription/123')).toBe('123');
  expect(subscriptionIdOf('Subscription/abc-1/_history/2')).toBe('abc-1');
  expect(subscriptionIdOf('Subscription/123/')).toBe('123');
  expect(subscriptionIdOf('urn:uuid:9e41ff6d-5be6-4e6a-8b85-abd4e7f58400')).toBeNull();
  expect(subscriptionIdOf('https://x/fhir/Encounter/1')).toBeNull();
});
