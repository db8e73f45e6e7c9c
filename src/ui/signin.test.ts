import { FailureCounter, safeReturnTo } from './signin';

describe('safeReturnTo: same-origin paths under /ui only', () => {
  test.each([
    [undefined, '/ui/'],
    ['', '/ui/'],
    ['/ui/subjects?trial=T1', '/ui/subjects?trial=T1'],
    ['/ui', '/ui'],
    ['/ui/login?return_to=/ui/x', '/ui/'],
    ['/ui/auth/callback?code=x', '/ui/'],
    ['https://evil.example/ui/', null],
    ['//evil.example/ui/', null],
    ['/\\evil.example', null],
    ['/api/me', null],
    ['/uix', null],
    ['/ui/../api/me', null],
    ['/ui/\nx', null],
    [['/ui/a', '/ui/b'], null],
  ])('%j → %j', (given, expected) => {
    expect(safeReturnTo(given)).toBe(expected);
  });
});

test('FailureCounter blocks after max failures within the window, then forgets', () => {
  let now = 0;
  const c = new FailureCounter(3, 1000, () => now);
  for (let i = 0; i < 3; i++) {
    expect(c.blocked('ip')).toBe(false);
    c.fail('ip');
  }
  expect(c.blocked('ip')).toBe(true);
  expect(c.blocked('other')).toBe(false);
  now = 1001;
  expect(c.blocked('ip')).toBe(false);
  c.fail('ip');
  expect(c.blocked('ip')).toBe(false);
  c.clear('ip');
  expect(c.blocked('ip')).toBe(false);
});
