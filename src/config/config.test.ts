import { ConfigError, loadConfig } from '.';

const HASH = 'a'.repeat(64);

describe('loadConfig', () => {
  test('defaults: embedded store when DATABASE_URL is unset', () => {
    const c = loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(c.databaseUrl).toBeNull();
    expect(c.port).toBe(8080);
    expect(c.sites).toEqual([]);
    expect(Object.isFrozen(c)).toBe(true);
  });

  test('names every bad variable at once', () => {
    let err: ConfigError | undefined;
    try {
      loadConfig({
        PORT: 'eighty',
        DATABASE_URL: 'mysql://x',
        TRIALBRIDGE_SITES: JSON.stringify([{ id: 'ok', tokenSha256: 'short' }, { id: 'b', tokenSha256: HASH, timeZone: 'Mars/Base' }]),
        TRIALBRIDGE_USERS: '{not json',
        LOG_LEVEL: 'loud',
      });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const joined = err!.problems.join('\n');
    for (const name of ['PORT', 'DATABASE_URL', 'REDIS_URL', 'TRIALBRIDGE_SITES[0].tokenSha256', 'TRIALBRIDGE_SITES[1].timeZone', 'TRIALBRIDGE_USERS', 'LOG_LEVEL']) {
      expect(joined).toContain(name);
    }
  });

  test('worker queues: all by default, a chosen subset, or a precise error', () => {
    expect(loadConfig({ REDIS_URL: 'redis://x:1' }).workerQueues).toEqual(['map', 'evaluate', 'sites', 'notify']);
    expect(loadConfig({ REDIS_URL: 'redis://x:1', TRIALBRIDGE_WORKER_QUEUES: 'sites,map' }).workerQueues).toEqual(['sites', 'map']);
    expect(loadConfig({ REDIS_URL: 'redis://x:1', TRIALBRIDGE_WORKER_QUEUES: 'evaluate' }).workerQueues).toEqual(['evaluate']);
    expect(() => loadConfig({ REDIS_URL: 'redis://x:1', TRIALBRIDGE_WORKER_QUEUES: 'map,eval' })).toThrow(/TRIALBRIDGE_WORKER_QUEUES/);
  });

  test('redis is not required for commands that do not use it', () => {
    expect(() => loadConfig({}, { redis: false })).not.toThrow();
  });

  test('duplicate site ids and unknown roles are refused', () => {
    expect(() =>
      loadConfig({
        REDIS_URL: 'redis://x:1',
        TRIALBRIDGE_SITES: JSON.stringify([{ id: 's', tokenSha256: HASH }, { id: 's', tokenSha256: HASH }]),
        TRIALBRIDGE_USERS: JSON.stringify([{ id: 'u', role: 'root', tokenSha256: HASH }]),
      }),
    ).toThrow(/duplicate site id[\s\S]*role: expected one of/);
  });
});

describe('door options', () => {
  const site = (extra: Record<string, unknown>) => JSON.stringify([{ id: 's1', tokenSha256: 'a'.repeat(64), timeZone: 'Asia/Shanghai', ...extra }]);
  test('localTimeWithoutOffset: reject by default, site-zone on request, anything else named', () => {
    expect(loadConfig({ REDIS_URL: 'redis://x:1', TRIALBRIDGE_SITES: site({}) }).sites[0].localTimeWithoutOffset).toBe('reject');
    expect(loadConfig({ REDIS_URL: 'redis://x:1', TRIALBRIDGE_SITES: site({ localTimeWithoutOffset: 'site-zone' }) }).sites[0].localTimeWithoutOffset).toBe('site-zone');
    expect(() => loadConfig({ REDIS_URL: 'redis://x:1', TRIALBRIDGE_SITES: site({ localTimeWithoutOffset: 'utc' }) })).toThrow(/TRIALBRIDGE_SITES\[0\]\.localTimeWithoutOffset: expected reject or site-zone/);
  });
  test('TRIALBRIDGE_PUBLIC_URL: trailing slashes dropped; not a URL named', () => {
    expect(loadConfig({ REDIS_URL: 'redis://x:1' }).publicUrl).toBeNull();
    expect(loadConfig({ REDIS_URL: 'redis://x:1', TRIALBRIDGE_PUBLIC_URL: 'https://tb.example/base/' }).publicUrl).toBe('https://tb.example/base');
    expect(() => loadConfig({ REDIS_URL: 'redis://x:1', TRIALBRIDGE_PUBLIC_URL: 'tb.example' })).toThrow(/TRIALBRIDGE_PUBLIC_URL/);
    expect(() => loadConfig({ REDIS_URL: 'redis://x:1', TRIALBRIDGE_PUBLIC_URL: 'https://tb.example/?x=1' })).toThrow(/TRIALBRIDGE_PUBLIC_URL/);
  });
});
