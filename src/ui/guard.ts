/**
 * Who may see a workbench page. Every page needs a principal: a browser
 * session or a bearer user token (requireUser in src/http accepts both). A
 * browser without one is sent to the sign-in page with the address it asked
 * for (README "Sign-in"); scripts get the usual 401 OperationOutcome.
 *
 * Errors thrown by pages are rendered as HTML for browsers (a readable page
 * with the status), as OperationOutcome JSON otherwise.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ROLES, type Config } from '../config';
import { AppError } from '../errors';
import { requireUser } from '../http';
import { csrfTokenOf } from '../http/session';
import { html, page } from './html';
import { shellOptions } from './layout';

/** The session's CSRF token for the page (none for bearer principals, which are exempt). */
export function csrfOf(req: Request): string | null {
  return csrfTokenOf(req);
}

const wantsHtml = (req: Request): boolean => req.accepts(['html', 'json']) === 'html';

/** Sign-in address that comes back to `req`'s page (a same-origin path only, OWASP Unvalidated Redirects). */
export function loginHref(req: Request): string {
  return `/ui/login?return_to=${encodeURIComponent(req.originalUrl.startsWith('/ui/') ? req.originalUrl : '/ui/')}`;
}

/** requireUser, but a browser that is not signed in is redirected to /ui/login instead of getting a 401. */
export function uiAuth(config: Config): RequestHandler {
  const auth = requireUser(config.users, config.sites, ROLES, config);
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.principal) return next();
    auth(req, res, (err?: unknown) => {
      if (err instanceof AppError && err.code === 'unauthenticated' && !req.headers.authorization && req.method === 'GET' && wantsHtml(req)) {
        res.removeHeader('WWW-Authenticate');
        res.redirect(302, loginHref(req));
        return;
      }
      next(err);
    });
  };
}

/** Renders AppErrors of /ui pages as an HTML page for browsers; everything else goes on to the one error middleware. */
export function uiErrors(): (err: unknown, req: Request, res: Response, next: NextFunction) => void {
  return (err, req, res, next) => {
    if (!(err instanceof AppError) || !wantsHtml(req) || req.path.startsWith('/events')) return next(err);
    const title = err.status === 404 ? 'Not found' : err.status === 403 ? 'Not allowed' : err.status === 401 ? 'Sign-in required' : 'Request refused';
    const body = html`<p role="alert">${err.diagnostics ?? err.message}</p><p><a href="/ui/">Back to the overview</a></p>`;
    // The reader's own header and navigation, so an error page is a page of the workbench like any other.
    res.status(err.status).type('html').send(page(shellOptions(req, title), body));
  };
}
