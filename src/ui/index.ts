/**
 * The review workbench served to browsers under /ui (design.md layout: ui/).
 * Pages are rendered on the server; actions go through the same /api endpoints
 * scripts use, so scope and audit are enforced in one place. Pages carry no
 * inline script or style (the Content-Security-Policy forbids them): the
 * behaviour is /ui/static/app.js, the look /ui/static/app.css.
 */
import path from 'node:path';
import express, { type Router } from 'express';
import type { UiDeps } from './deps';
import { ah } from '../http';
import { uiAuth, uiErrors } from './guard';
import { LiveHub } from './events';
import { overviewPage } from './pages/overview';
import { subjectsPage } from './pages/subjects';
import { subjectPage } from './pages/subject';
import { eligibilityPage } from './pages/eligibility';
import { reviewPage } from './pages/review';
import { flagsPage } from './pages/flags';
import { auditPage } from './pages/audit';
import { prescreenListPage, prescreenPage } from './pages/prescreen';
import { notificationsPage } from './pages/notifications';
import { exportsIndexPage, exportsPage } from './pages/exports';

export type { UiDeps } from './deps';

/** Where app.js and app.css live (served as files: tsx runs the sources, no build step). */
export const STATIC_DIR = path.join(__dirname, 'static');

/** The workbench's icon; every page links it (html.ts page), so browsers seldom ask for /favicon.ico. */
export const FAVICON_PATH = '/ui/static/favicon.svg';

/**
 * GET /favicon.ico for the app root (a browser asks there when a response has
 * no icon link, e.g. a JSON answer or a redirect): sends it to the icon.
 * Mounted by the app, since this router only sees /ui.
 */
export function faviconIco(_req: express.Request, res: express.Response): void {
  res.set('Cache-Control', 'public, max-age=86400').redirect(301, FAVICON_PATH);
}

export function uiRouter(deps: UiDeps): Router {
  const r = express.Router();
  // Static files need no sign-in: they hold no data.
  r.use('/static', express.static(STATIC_DIR, { index: false, fallthrough: false, maxAge: '1h' }));
  r.use(uiAuth(deps.config));
  r.use((_req, res, next) => {
    // Pages show PHI: never cached by the browser or a proxy (OWASP Session Management: sensitive data caching).
    res.set('Cache-Control', 'no-store');
    next();
  });
  const hub = new LiveHub(deps.db, deps.log);
  deps.onShutdown?.(() => hub.close());
  r.get('/events', ah((req, res) => hub.open(req, res)));
  r.get('/', ah(overviewPage(deps)));
  r.get('/subjects', ah(subjectsPage(deps)));
  r.get('/subjects/:trial/:site/:subject', ah(subjectPage(deps)));
  r.get('/subjects/:trial/:site/:subject/eligibility', ah(eligibilityPage(deps)));
  r.get('/subjects/:trial/:site/:subject/audit', ah(auditPage(deps)));
  r.get('/review', ah(reviewPage(deps)));
  r.get('/flags', ah(flagsPage(deps)));
  r.get('/prescreen', ah(prescreenListPage(deps)));
  r.get('/prescreen/:id', ah(prescreenPage(deps)));
  r.get('/notifications', ah(notificationsPage(deps)));
  r.get('/exports', ah(exportsIndexPage(deps)));
  r.get('/trials/:trial/exports', ah(exportsPage(deps)));
  r.use(uiErrors());
  return r;
}
