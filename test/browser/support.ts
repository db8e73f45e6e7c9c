/**
 * What the browser test files share: the stack with single sign-on against
 * the real test OpenID provider (a child process with its own login form),
 * a subject of NCT05985863 as a site EHR sends it, and the sign-in flows
 * a person goes through.
 */
import type { Page } from 'playwright-core';
import { freePort, startOidcProvider } from '../helpers/oidc';
import { SITE_TOKENS, startStack, type TestStack } from '../helpers/stack';

export const TRIAL = 'NCT05985863';

/** Provider accounts: login → display name and the trialbridge_roles claim (README "Sign-in"). */
export const PROVIDER_USERS = {
  dora: { name: 'Dora Data', roles: ['data-manager'] },
  ivan: { name: 'Ivan Investigator', roles: ['investigator'] },
  // A data manager and investigator of site-b only: site-a subjects are not theirs.
  bea: { name: 'Bea Site-B', roles: ['data-manager:*:site-b', 'investigator:*:site-b'] },
} as const;
export type ProviderLogin = keyof typeof PROVIDER_USERS;

export interface BrowserStack {
  readonly stack: TestStack;
  readonly url: string;
  readonly issuer: string;
  stop(): Promise<void>;
}

/** The provider, then the stack with TRIALBRIDGE_OIDC_* pointing at it. */
export async function startBrowserStack(name: string, extra: Record<string, string> = {}): Promise<BrowserStack> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const provider = await startOidcProvider({ users: PROVIDER_USERS, redirectUris: [`${url}/ui/auth/callback`] });
  let stack: TestStack;
  try {
    stack = await startStack(name, {
      PORT: String(port),
      TRIALBRIDGE_OIDC_ISSUER: provider.issuer,
      TRIALBRIDGE_OIDC_CLIENT_ID: provider.clientId,
      TRIALBRIDGE_OIDC_CLIENT_SECRET_FILE: provider.clientSecretFile,
      TRIALBRIDGE_OIDC_REDIRECT_URL: `${url}/ui/auth/callback`,
      ...extra,
    });
  } catch (e) {
    await provider.stop();
    throw e;
  }
  return {
    stack,
    url,
    issuer: provider.issuer,
    async stop() {
      await stack.stop();
      await provider.stop();
    },
  };
}

// ------------------------------------------------------------------ data ---

type Resource = { resourceType: string; id: string } & Record<string, unknown>;
const put = (resource: Resource) => ({ resource, request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` } });
const LAB = [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }];

function lab(key: string, id: string, loinc: string, value: number, unit: string, at: string): Resource {
  return {
    resourceType: 'Observation', id: `${key}-${id}`, status: 'final', category: LAB,
    code: { coding: [{ system: 'http://loinc.org', code: loinc }] }, subject: { reference: `Patient/${key}-pat` },
    effectiveDateTime: at, valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
  };
}

function infusion(key: string, week: number, at: string): Resource {
  return {
    resourceType: 'MedicationAdministration', id: `${key}-ma-w${week}`, status: 'completed',
    medicationCodeableConcept: { coding: [{ system: 'urn:trialbridge:study-drug', code: 'UC-MSC-BLINDED' }] },
    subject: { reference: `Patient/${key}-pat` }, effectiveDateTime: at,
    dosage: { route: { text: 'peripheral IV' }, dose: { value: 1.5e8, unit: '{cells}', system: 'http://unitsofmeasure.org', code: '{cells}' } },
  };
}

/**
 * One subject of NCT05985863 (site times +08:00): screening labs that meet the
 * APASL jaundice and coagulopathy criteria (TBIL 6.2 mg/dL, INR 1.8), Day 0 on
 * 2024-03-04 with infusions at weeks 0, 1, 2 and week-1 labs; `withReviewItem`
 * adds a platelet count in K/uL (Kelvin per microlitre to UCUM: not convertible),
 * which becomes a review item (README "Review items").
 */
export function subjectBundle(subject: string, opts: { withReviewItem?: boolean } = {}) {
  const key = subject.toLowerCase();
  const resources: Resource[] = [
    { resourceType: 'Patient', id: `${key}-pat`, identifier: [{ system: 'urn:oid:2.16.840.1.113883.2.4.6.3', value: `MRN-${subject}` }], gender: 'female', birthDate: '1969-04-12' },
    {
      resourceType: 'ResearchSubject', id: `${key}-rs`, status: 'on-study', identifier: [{ system: 'urn:trialbridge:subject', value: subject }],
      individual: { reference: `Patient/${key}-pat` }, period: { start: '2024-03-01' }, assignedArm: 'MSC',
      study: { identifier: { system: 'https://clinicaltrials.gov', value: TRIAL } },
    },
    lab(key, 'tbil-scr', '1975-2', 6.2, 'mg/dL', '2024-02-28T07:00:00+08:00'),
    lab(key, 'inr-scr', '6301-6', 1.8, '{INR}', '2024-02-28T07:00:00+08:00'),
    lab(key, 'crea-scr', '2160-0', 1.1, 'mg/dL', '2024-02-28T07:00:00+08:00'),
    lab(key, 'na-scr', '2951-2', 134, 'mmol/L', '2024-02-28T07:00:00+08:00'),
    lab(key, 'alb-scr', '1751-7', 3.1, 'g/dL', '2024-02-28T07:00:00+08:00'),
    infusion(key, 0, '2024-03-04T09:00:00+08:00'),
    lab(key, 'tbil-w1', '1975-2', 5.4, 'mg/dL', '2024-03-11T07:30:00+08:00'),
    lab(key, 'inr-w1', '6301-6', 1.6, '{INR}', '2024-03-11T07:30:00+08:00'),
    infusion(key, 1, '2024-03-11T09:00:00+08:00'),
    infusion(key, 2, '2024-03-18T09:00:00+08:00'),
  ];
  if (opts.withReviewItem) {
    resources.push({ ...lab(key, 'plt-kul', '26515-7', 88, 'K/uL', '2024-02-28T07:00:00+08:00'), valueQuantity: { value: 88, unit: 'K/uL', system: 'http://unitsofmeasure.org', code: 'K/uL' } });
  }
  return { resourceType: 'Bundle', type: 'batch', entry: resources.map(put) };
}

/** Sends a Bundle as site-a (or another site) and waits until it is mapped and evaluated. */
export async function load(stack: TestStack, bundle: unknown, site: keyof typeof SITE_TOKENS = 'site-a'): Promise<void> {
  const res = await stack.fhir('POST', '', bundle, SITE_TOKENS[site]);
  if (res.status !== 200) throw new Error(`Bundle answered ${res.status}: ${JSON.stringify(res.body).slice(0, 500)}`);
  await stack.evaluated();
}

// ----------------------------------------------------------------- flows ---

/** The subject page address (segments encoded as the pages link them). */
export const subjectPath = (subject: string, site = 'site-a', tail = '') => `/ui/subjects/${TRIAL}/${site}/${encodeURIComponent(subject)}${tail}`;

/**
 * The provider's own login form (oidc-provider devInteractions): any password,
 * the login is the account. A consent step, if the provider shows one, is confirmed.
 */
export async function providerLogin(page: Page, issuer: string, login: ProviderLogin): Promise<void> {
  await page.waitForURL((u) => u.href.startsWith(issuer), { timeout: 15_000 });
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill(`password-of-${login}`);
  await page.locator('button[type="submit"], input[type="submit"]').first().click();
  // devInteractions asks for consent on a first authorization; the workbench then takes over.
  const consent = page.locator('button[type="submit"]', { hasText: /continue|authorize|allow/i });
  const back = page.waitForURL((u) => !u.href.startsWith(issuer), { timeout: 15_000 });
  const asked = await Promise.race([back.then(() => false), consent.waitFor({ timeout: 15_000 }).then(() => true, () => false)]);
  if (asked) await consent.first().click();
  await page.waitForURL((u) => !u.href.startsWith(issuer), { timeout: 15_000 });
}

/** Sign-in through the provider from /ui/login; ends on the page `returnTo` asked for. */
export async function signInWithProvider(page: Page, bs: BrowserStack, login: ProviderLogin, returnTo = '/ui/'): Promise<void> {
  await page.goto(`${bs.url}${returnTo}`);
  await page.waitForURL(/\/ui\/login/);
  await page.getByRole('button', { name: /single sign-on/i }).or(page.getByRole('link', { name: /single sign-on/i })).first().click();
  await providerLogin(page, bs.issuer, login);
  await page.waitForURL((u) => u.pathname.startsWith('/ui/') && !u.pathname.startsWith('/ui/login') && !u.pathname.startsWith('/ui/auth'));
}

/** Sign-in with a user access token (TRIALBRIDGE_USERS) at /ui/login's token form. */
export async function signInWithToken(page: Page, url: string, token: string, returnTo = '/ui/'): Promise<void> {
  await page.goto(`${url}${returnTo}`);
  await page.waitForURL(/\/ui\/login/);
  await page.getByLabel(/access token/i).fill(token);
  await page.getByRole('button', { name: /access token/i }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/ui/login'));
}
