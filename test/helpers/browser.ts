/**
 * Real Chromium for the browser tests: Debian's /usr/bin/chromium driven by
 * playwright-core (no downloaded browser; `.ci/run` apt-installs it when it is
 * missing), one browser per test file, one context (cookie jar) per user.
 *
 * `screenshot(page, name)` writes test-artifacts/screenshots/<name>.png (kept
 * by CI as an artifact, gitignored); `checkA11y(page, name)` runs axe-core on
 * the page as it is and fails on serious or critical violations, listing each
 * rule, its help text and the offending elements so the failure reads on its own.
 */
import fs from 'node:fs';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.TRIALBRIDGE_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS_DIR = path.resolve(__dirname, '../../test-artifacts');
export const SCREENSHOTS_DIR = path.join(ARTIFACTS_DIR, 'screenshots');

/**
 * Flags for a quiet, reproducible headless run: no sandbox (CI runs as root in
 * a container, where Chromium's sandbox cannot start), no GPU, no QUIC, and
 * none of the background fetches (component updates, sync, field trials) a
 * fresh profile would otherwise make to Google.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
] as const;

export interface TestBrowser {
  readonly browser: Browser;
  /** A separate context with its own cookie jar: one signed-in user (several can share the browser). */
  newUser(): Promise<{ context: BrowserContext; page: Page }>;
  close(): Promise<void>;
}

/**
 * Launches headless Chromium. Playwright gives every launch a fresh temporary
 * user-data-dir and removes it on close, so no profile state leaks between files.
 */
export async function launchBrowser(): Promise<TestBrowser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install chromium fonts-liberation; .ci/run does it) or set TRIALBRIDGE_CHROMIUM`);
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS] });
  return {
    browser,
    async newUser() {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB', timezoneId: 'UTC' });
      return { context, page: await context.newPage() };
    },
    close: () => browser.close(),
  };
}

/** Full-page PNG at test-artifacts/screenshots/<name>.png; returns the path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOTS_DIR, { recursive: true });
  const file = path.join(SCREENSHOTS_DIR, `${name.replace(/[^A-Za-z0-9._-]+/g, '-')}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Violations that fail a test: axe's two highest impact levels. */
const FAILING = new Set(['serious', 'critical']);

/**
 * Runs axe-core (WCAG 2.x A/AA rules and best practices as axe ships them) on
 * the page and throws when any serious or critical violation is found.
 * Moderate and minor ones are returned for the caller to log.
 */
export async function checkA11y(page: Page, name: string, opts: { include?: string } = {}): Promise<{ minor: string[] }> {
  const builder = new AxeBuilder({ page });
  // A region only (e.g. an open dialog on a page already checked): axe takes seconds on a large grid.
  if (opts.include) builder.include(opts.include);
  const results = await builder.analyze();
  const describe = (v: (typeof results.violations)[number]) =>
    `  [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})\n` +
    v.nodes.slice(0, 5).map((n) => `      ${n.target.join(' ')}  ${n.failureSummary?.split('\n').slice(1).map((l) => l.trim()).join('; ') ?? ''}`).join('\n') +
    (v.nodes.length > 5 ? `\n      ... and ${v.nodes.length - 5} more` : '');
  const failing = results.violations.filter((v) => FAILING.has(v.impact ?? ''));
  if (failing.length) {
    throw new Error(`axe found ${failing.length} serious/critical accessibility violation(s) on ${name} (${page.url()}):\n${failing.map(describe).join('\n')}`);
  }
  return { minor: results.violations.map(describe) };
}

/** Screenshot and accessibility check of the page as it stands: every page the tests visit gets both. */
export async function inspect(page: Page, name: string, opts: { include?: string } = {}): Promise<void> {
  await screenshot(page, name);
  await checkA11y(page, name, opts);
}
