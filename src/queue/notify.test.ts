/** Grouping of the deliveries one poll takes: a burst of immediate emails to one recipient is one job (one message). */
import { EMAIL_GROUP_MAX, groupEmails } from './notify';

const d = (id: number, channel: string, target: string, mode = 'immediate') => ({ id, round: 0, channel, mode, target });

test('immediate emails to one recipient share a job led by the first; other channels and recipients keep their own', () => {
  const jobs = groupEmails([d(1, 'email', 'ivan'), d(2, 'webhook', 'main'), d(3, 'email', 'ivan'), d(4, 'email', 'bob'), d(5, 'fhir', 'site-a'), d(6, 'email', 'ivan')]);
  expect(jobs.map((j) => [j.lead.id, j.also])).toEqual([[1, [3, 6]], [2, []], [4, []], [5, []]]);
});

test('webhooks to one receiver are never merged (each carries its own signed delivery)', () => {
  expect(groupEmails([d(1, 'webhook', 'main'), d(2, 'webhook', 'main')]).map((j) => j.also)).toEqual([[], []]);
});

test(`at most ${EMAIL_GROUP_MAX} alerts per email; the rest start a new one`, () => {
  const jobs = groupEmails(Array.from({ length: EMAIL_GROUP_MAX + 3 }, (_, i) => d(i + 1, 'email', 'ivan')));
  expect(jobs.map((j) => 1 + j.also.length)).toEqual([EMAIL_GROUP_MAX, 3]);
  expect(jobs[1].lead.id).toBe(EMAIL_GROUP_MAX + 1);
});
