/** The failed-job alert: which failures are permanent, and reasons without data. */
import { isPermanentFailure, phiFreeReason } from './alert';

test.each([
  ['attempts left', { attemptsMade: 2, opts: { attempts: 6 } }, new Error('x'), false],
  ['last attempt used', { attemptsMade: 6, opts: { attempts: 6 } }, new Error('x'), true],
  ['moved to the failed set', { attemptsMade: 1, opts: { attempts: 6 }, finishedOn: 1 }, new Error('x'), true],
  ['unrecoverable', { attemptsMade: 1, opts: { attempts: 6 } }, Object.assign(new Error('x'), { name: 'UnrecoverableError' }), true],
  ['default single attempt', { attemptsMade: 1, opts: {} }, new Error('x'), true],
])('%s -> %s', (_name, job, err, expected) => {
  expect(isPermanentFailure(job as never, err)).toBe(expected);
});

test.each([
  ['ON CONFLICT DO UPDATE command cannot affect row a second time', 'ON CONFLICT DO UPDATE command cannot affect row a second time'],
  ['invalid input syntax for type timestamp: "2024-02-30T10:00:00Z"', 'invalid input syntax for type timestamp: "…"'],
  ['duplicate key value violates unique constraint "x"\nDETAIL: Key (subject)=(S-QX-0001) already exists.', 'duplicate key value violates unique constraint "…"'],
  ['Key (site, subject)=(a, S-1) exists; effective 2024-03-04T07:00:00+08:00', 'Key (…)=(…) exists; effective …'],
])('%j -> %j', (message, expected) => {
  expect(phiFreeReason(message)).toBe(expected);
});
