// The install step of .ci/run and scripts/demo.sh tolerates only other-platform
// optional packages drifting between the registry and package-lock.json.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { classifyDrift, isOtherPlatformOptional } = require('../../scripts/install-deps.cjs');

const linux = { os: 'linux', cpu: 'x64', libc: 'glibc' };
const darwinArm = { version: '1.0.0', optional: true, os: ['darwin'], cpu: ['arm64'] };
const linuxX64 = { version: '1.0.0', optional: true, os: ['linux'], cpu: ['x64'], libc: ['glibc'] };
const lock = (packages: Record<string, unknown>) => ({ lockfileVersion: 3, packages: { '': { name: 'x' }, ...packages } });

describe('classifyDrift', () => {
  test('added other-platform optional entries are tolerated', () => {
    const r = classifyDrift(lock({}), lock({ 'node_modules/a-darwin-arm64': darwinArm }), linux);
    expect(r).toEqual({ tolerated: ['added: node_modules/a-darwin-arm64'], blocking: [] });
  });
  test('removed other-platform optional entries are tolerated', () => {
    const r = classifyDrift(lock({ 'node_modules/a-darwin-arm64': darwinArm }), lock({}), linux);
    expect(r.blocking).toEqual([]);
    expect(r.tolerated).toHaveLength(1);
  });
  test('a missing package for this platform blocks', () => {
    const r = classifyDrift(lock({}), lock({ 'node_modules/a-linux-x64': linuxX64 }), linux);
    expect(r.blocking).toEqual(['added: node_modules/a-linux-x64']);
  });
  test('a musl-only package is other-platform on glibc', () => {
    expect(isOtherPlatformOptional({ ...linuxX64, libc: ['musl'] }, linux)).toBe(true);
  });
  test('negated lists follow npm: !win32 allows linux', () => {
    expect(isOtherPlatformOptional({ optional: true, os: ['!win32'] }, linux)).toBe(false);
    expect(isOtherPlatformOptional({ optional: true, os: ['!linux'] }, linux)).toBe(true);
  });
  test('a changed root (package.json dependency added) blocks', () => {
    const before = lock({});
    const after = { ...lock({ 'node_modules/is-number': { version: '7.0.0' } }), packages: { '': { name: 'x', dependencies: { 'is-number': '^7.0.0' } }, 'node_modules/is-number': { version: '7.0.0' } } };
    const r = classifyDrift(before, after, linux);
    expect(r.blocking).toEqual(['changed: (root)', 'added: node_modules/is-number']);
  });
  test('a non-optional package for another platform still blocks', () => {
    const r = classifyDrift(lock({}), lock({ 'node_modules/b': { version: '1.0.0', os: ['darwin'] } }), linux);
    expect(r.blocking).toHaveLength(1);
  });
});
