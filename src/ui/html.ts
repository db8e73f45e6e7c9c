/**
 * HTML rendering for the workbench: a tagged template that escapes every
 * interpolated value (OWASP XSS Prevention, rule 1: HTML-encode untrusted data
 * in element content and quoted attributes), and the page shell.
 *
 * Pages carry no inline script or style: the Content-Security-Policy allows
 * only same-origin files (/ui/static/app.js, app.css).
 */

/** Already-safe markup: the result of `html` or `raw`. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESC[c]);
}

function render(v: unknown): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v));
}

/** html`<p>${text}</p>`: interpolations are escaped unless they are Html (or arrays of it). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}

/** Markup built by trusted code (never user or EHR data). */
export function raw(s: string): Html {
  return new Html(s);
}

export interface ShellOptions {
  readonly title: string;
  /** The signed-in user's display name and roles, for the header; null on the sign-in pages. */
  readonly user?: { name: string; roles: readonly string[] } | null;
  /** The session's CSRF token, read by app.js for state-changing requests. */
  readonly csrf?: string | null;
  /** Navigation entries shown to this user. */
  readonly nav?: readonly { href: string; label: string; current?: boolean }[];
}

/** The page shell: language, title, landmarks (header, nav, main) for assistive technology. */
export function page(o: ShellOptions, body: Html): string {
  const nav = o.nav?.length
    ? html`<nav aria-label="Main"><ul>${o.nav.map((n) => html`<li><a href="${n.href}"${n.current ? raw(' aria-current="page"') : ''}>${n.label}</a></li>`)}</ul></nav>`
    : '';
  const user = o.user
    ? html`<div class="user"><span>${o.user.name}</span> <span class="roles">(${o.user.roles.join(', ')})</span>
        <form method="post" action="/ui/logout" class="inline"><input type="hidden" name="_csrf" value="${o.csrf ?? ''}"><button type="submit">Sign out</button></form></div>`
    : '';
  return `<!doctype html>${html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · trialbridge</title>${o.csrf ? html`<meta name="csrf-token" content="${o.csrf}">` : ''}
<link rel="icon" href="/ui/static/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/ui/static/app.css"><script src="/ui/static/app.js" defer></script></head>
<body><header><a class="brand" href="/ui/">trialbridge</a>${nav}${user}</header>
<main id="main"><h1>${o.title}</h1>${body}</main></body></html>`.text}`;
}
