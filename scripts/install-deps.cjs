#!/usr/bin/env node
// Installs the npm packages from package-lock.json with `npm ci`, tolerating one
// kind of drift only: the registry serving more or fewer *other-platform optional*
// packages (e.g. @swc/core-darwin-arm64) than the lockfile lists. npm ci counts
// those as a package.json/lockfile mismatch although nothing for this machine is
// missing. Any other difference (a dependency added to package.json, a version
// changed, a package for this platform missing) still fails, as npm ci would.
//
// Used by .ci/run and scripts/demo.sh. The committed lockfile is left as it was.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const MISMATCH = 'can only install packages when your package.json and package-lock.json';

/** The C library of this process ('glibc', 'musl' or undefined off Linux). */
function currentLibc() {
  if (process.platform !== 'linux') return undefined;
  const header = process.report && process.report.getReport ? process.report.getReport().header : {};
  return header && header.glibcVersionRuntime ? 'glibc' : 'musl';
}

/** npm's os/cpu/libc lists: plain names allow, `!name` forbids (package.json docs). */
function listAllows(list, value) {
  if (!Array.isArray(list) || list.length === 0 || value === undefined) return true;
  const denied = list.filter((v) => v.startsWith('!')).map((v) => v.slice(1));
  const allowed = list.filter((v) => !v.startsWith('!'));
  if (denied.includes(value)) return false;
  return allowed.length === 0 || allowed.includes(value);
}

/** True when a lockfile entry is optional and cannot install on this platform. */
function isOtherPlatformOptional(entry, platform) {
  if (!entry || entry.optional !== true) return false;
  return !(
    listAllows(entry.os, platform.os) &&
    listAllows(entry.cpu, platform.cpu) &&
    listAllows(entry.libc, platform.libc)
  );
}

/**
 * Compares two lockfiles' `packages` maps. Returns the keys that differ only as
 * other-platform optional entries added or removed (`tolerated`) and every other
 * difference (`blocking`).
 */
function classifyDrift(before, after, platform) {
  const a = (before && before.packages) || {};
  const b = (after && after.packages) || {};
  const tolerated = [];
  const blocking = [];
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const inA = Object.prototype.hasOwnProperty.call(a, key);
    const inB = Object.prototype.hasOwnProperty.call(b, key);
    if (inA && inB) {
      if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) blocking.push(`changed: ${key || '(root)'}`);
      continue;
    }
    const entry = inA ? a[key] : b[key];
    const what = `${inA ? 'removed' : 'added'}: ${key}`;
    (isOtherPlatformOptional(entry, platform) ? tolerated : blocking).push(what);
  }
  return { tolerated, blocking };
}

function run(args, opts = {}) {
  const r = spawnSync('npm', args, { encoding: 'utf8', ...opts });
  return { status: r.status === null ? 1 : r.status, out: `${r.stdout || ''}${r.stderr || ''}` };
}

function main() {
  const root = process.cwd();
  const lockPath = path.join(root, 'package-lock.json');
  const log = (m) => process.stderr.write(`install: ${m}\n`);
  const ciArgs = ['ci', '--no-audit', '--no-fund'];

  const first = run(ciArgs);
  if (first.status === 0) {
    process.stdout.write(first.out);
    return 0;
  }
  if (!first.out.includes(MISMATCH)) {
    process.stderr.write(first.out);
    log('npm ci failed (not a lockfile mismatch; see above)');
    return 1;
  }
  const missing = first.out.split('\n').filter((l) => /^npm error (Missing|Invalid):/.test(l));
  log(`npm ci refused the lockfile (${missing.length} entries); checking whether only other-platform optional packages drifted`);

  const original = fs.readFileSync(lockPath, 'utf8');
  const refreshed = run(['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund']);
  const regenerated = fs.readFileSync(lockPath, 'utf8');
  try {
    if (refreshed.status !== 0) {
      process.stderr.write(refreshed.out);
      log('could not recompute the lockfile');
      return 1;
    }
    const platform = { os: process.platform, cpu: process.arch, libc: currentLibc() };
    const { tolerated, blocking } = classifyDrift(JSON.parse(original), JSON.parse(regenerated), platform);
    if (blocking.length > 0) {
      for (const line of missing.slice(0, 20)) process.stderr.write(`${line}\n`);
      for (const b of blocking.slice(0, 40)) log(`  ${b}`);
      log('ERROR: package-lock.json is out of sync with package.json; run `npm install` and commit the lockfile');
      return 1;
    }
    log(`tolerated drift of ${tolerated.length} other-platform optional packages:`);
    for (const t of tolerated) log(`  ${t}`);
    const second = run(ciArgs);
    process.stdout.write(second.out);
    if (second.status !== 0) log('npm ci failed with the recomputed lockfile');
    return second.status;
  } finally {
    // The install used the recomputed lockfile; the committed one stays as it is.
    fs.writeFileSync(lockPath, original);
  }
}

module.exports = { classifyDrift, isOtherPlatformOptional, listAllows };

if (require.main === module) process.exitCode = main();
