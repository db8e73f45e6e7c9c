/**
 * Connection details and isolation names for integration tests.
 *
 * REDIS_URL and DATABASE_URL come from the environment: `.ci/run` starts the
 * servers and exports them; otherwise the integration project's globalSetup
 * (test/helpers/global-setup.ts) starts throwaway servers and sets them.
 */
import { randomBytes } from 'node:crypto';

function required(name: 'REDIS_URL' | 'DATABASE_URL'): string {
  const value = process.env[name]?.trim();
  if (!value) {
    throw new Error(
      `${name} is not set. Integration tests need real Redis and PostgreSQL: run them through ` +
        '`npx jest --selectProjects integration` (its globalSetup starts both via scripts/services.sh), ' +
        'or start them yourself with `scripts/services.sh start DIR && source DIR/env`.',
    );
  }
  return value;
}

/** redis://127.0.0.1:PORT of the test Redis (appendonly, noeviction). */
export function testRedisUrl(): string {
  return required('REDIS_URL');
}

/** postgres://…/trialbridge of the test PostgreSQL. */
export function testDatabaseUrl(): string {
  return required('DATABASE_URL');
}

/** Letters, digits and `_` only, lower-cased, at most `max` characters. */
function slug(name: string, max: number): string {
  const s = name.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  return (s || 'test').slice(0, max);
}

function randomHex(): string {
  return randomBytes(4).toString('hex');
}

/**
 * A BullMQ key prefix unique to one test file (or test), e.g.
 * `tbtest-ingest_e2e-12345-9f3a1c2b`. Only [A-Za-z0-9_-], so it passes the
 * TRIALBRIDGE_QUEUE_PREFIX check and has no ':' or Cluster hash-tag braces.
 * Several runs (and parallel workers) can share one Redis without collisions.
 */
export function uniquePrefix(name: string): string {
  return `tbtest-${slug(name, 40)}-${process.pid}-${randomHex()}`;
}

/**
 * A fresh PostgreSQL schema name for one test file, e.g. `tbtest_store_12345_9f3a1c2b`:
 * lower case, starts with a letter, at most 63 bytes (PostgreSQL's identifier limit),
 * so it needs no quoting. The caller creates it (`create schema …`) and drops it
 * afterwards (`drop schema … cascade`).
 */
export function freshSchema(name: string): string {
  const tail = `_${process.pid}_${randomHex()}`;
  return `tbtest_${slug(name, 63 - 'tbtest_'.length - tail.length)}${tail}`;
}
