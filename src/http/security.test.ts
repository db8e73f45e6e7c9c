import express from 'express';
import request from 'supertest';
import { loadConfig } from '../config';
import { contentSecurityPolicy, cookiesOf, crossOriginReason, safeEqual, securityHeaders } from './security';

const cfg = (env: Record<string, string> = {}) => loadConfig({ REDIS_URL: 'redis://x:1', ...env });

function app(env: Record<string, string> = {}) {
  const c = cfg(env);
  const a = express();
  a.use('/ui', securityHeaders(c));
  a.all('/ui/*', (req, res) => res.json({ cross: crossOriginReason(c, req), cookies: cookiesOf(req) }));
  return a;
}

describe('security headers', () => {
  test('https public URL: HSTS; pages no-store, static files cacheable', async () => {
    const a = app({ TRIALBRIDGE_PUBLIC_URL: 'https://tb.hospital.example' });
    const r = await request(a).get('/ui/x');
    expect(r.headers['strict-transport-security']).toBe('max-age=31536000');
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.headers['x-frame-options']).toBe('DENY');
    expect((await request(a).get('/ui/static/app.css')).headers['cache-control']).toBeUndefined();
  });

  test('the CSP lets forms go only to us (and the provider, for sign-out)', () => {
    expect(contentSecurityPolicy(cfg())).toContain("form-action 'self';");
    expect(contentSecurityPolicy(cfg())).toContain("script-src 'self'; style-src 'self'");
  });
});

describe('crossOriginReason', () => {
  const a = app({ TRIALBRIDGE_PUBLIC_URL: 'https://tb.hospital.example/prefix' });
  test.each([
    [{}, null],
    [{ origin: 'https://tb.hospital.example' }, null],
    [{ origin: 'https://tb.hospital.example', 'sec-fetch-site': 'same-origin' }, null],
    [{ origin: 'https://evil.example' }, 'the request comes from another origin'],
    [{ origin: 'null' }, 'the request comes from another origin'],
    [{ 'sec-fetch-site': 'cross-site' }, 'the browser marks the request cross-site'],
    [{ 'sec-fetch-site': 'same-site' }, 'the browser marks the request same-site'],
  ])('%j → %s', async (headers, reason) => {
    const r = await request(a).post('/ui/x').set(headers);
    expect(r.body.cross).toBe(reason);
  });

  test('without a public URL, our origin is the request host', async () => {
    const b = app();
    const r = await request(b).post('/ui/x').set('host', 'tb.local:8080').set('origin', 'http://tb.local:8080');
    expect(r.body.cross).toBeNull();
  });
});

test('cookiesOf reads pairs, the first of a name wins, undecodable values are kept', async () => {
  const r = await request(app()).get('/ui/x').set('cookie', 'a=1; b="q%20"; a=2; junk; c=%E0%A4%A; __proto__=x; constructor=y');
  expect(Object.entries(r.body.cookies)).toEqual([['a', '1'], ['b', 'q '], ['c', '%E0%A4%A'], ['__proto__', 'x'], ['constructor', 'y']]);
});

test('safeEqual', () => {
  expect(safeEqual('abc', 'abc')).toBe(true);
  expect(safeEqual('abc', 'abd')).toBe(false);
  expect(safeEqual('abc', 'abcd')).toBe(false);
});
