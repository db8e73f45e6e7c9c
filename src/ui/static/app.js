// trialbridge workbench behaviour. Served as a file (the Content-Security-Policy
// forbids inline script). Actions are fetch() calls to the same /api endpoints
// scripts use, with the session's CSRF token in X-CSRF-Token (OWASP CSRF
// Prevention: synchronizer token); afterwards the page's <main> is re-fetched and
// swapped. Data from the server is put into the page as text, never as markup.
'use strict';
(function () {
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || '';
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  /** Element with text children (strings become text nodes). */
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) e.setAttribute(k, String(v));
    for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }

  /** The catalogue code and text of an OperationOutcome answer. */
  function problemOf(body, status) {
    const issue = body && body.resourceType === 'OperationOutcome' && body.issue && body.issue[0];
    const code = issue && issue.details && issue.details.coding && issue.details.coding[0] && issue.details.coding[0].code;
    return { code: code || String(status), text: (issue && (issue.diagnostics || (issue.details && issue.details.text))) || `request failed (${status})` };
  }

  async function api(method, url, body) {
    const res = await fetch(url, {
      method,
      credentials: 'same-origin',
      headers: Object.assign({ accept: 'application/json' }, body === undefined ? {} : { 'content-type': 'application/json' }, method !== 'GET' ? { 'x-csrf-token': csrf() } : {}),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
    if (!res.ok) {
      const p = problemOf(data, res.status);
      const err = new Error(p.text);
      err.code = p.code;
      err.status = res.status;
      throw err;
    }
    return data;
  }

  function say(target, text, isError) {
    if (!target) return;
    target.textContent = text;
    target.classList.toggle('error', !!isError);
  }

  // ---------------------------------------------------------------- reasons (controlled lists)
  let reasons = null;
  async function fillReasons(root) {
    const selects = $$('select[data-reasons]', root);
    if (!selects.length) return;
    try {
      reasons = reasons || (await api('GET', '/api/review-reasons'));
    } catch (_) {
      return;
    }
    for (const s of selects) {
      if (s.dataset.filled) continue;
      for (const r of reasons[s.dataset.reasons] || []) s.append(el('option', { value: r.code }, r.label));
      s.dataset.filled = '1';
    }
  }

  // ---------------------------------------------------------------- refresh without a full reload
  let refreshing = null;
  async function refreshMain(opts) {
    if (refreshing) return refreshing;
    refreshing = (async () => {
      const res = await fetch(location.pathname + location.search, { credentials: 'same-origin', headers: { accept: 'text/html' } });
      if (res.redirected && /\/ui\/login/.test(res.url)) { location.assign(res.url); return; }
      if (!res.ok) return;
      const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
      const next = doc.getElementById('main');
      const main = document.getElementById('main');
      if (!next || !main) return;
      const panel = $('#value-panel');
      const openId = panel && panel.open ? panel.dataset.valueId : null;
      if (opts && opts.flagsOnly) mergeFlagRows(next); else main.replaceChildren(...Array.from(next.childNodes).map((n) => document.importNode(n, true)));
      await fillReasons(main);
      if (openId) openPanel(openId);
      if (opts && opts.notice) showNotice();
    })().finally(() => { refreshing = null; });
    return refreshing;
  }

  /** Flag inbox: new rows are inserted, resolved ones removed; open forms elsewhere stay as they are. */
  function mergeFlagRows(nextMain) {
    const body = $('#flag-rows');
    const nextBody = nextMain.querySelector('#flag-rows');
    if (!body || !nextBody) return;
    const have = new Map($$('tr[data-flag-id]', body).map((r) => [r.dataset.flagId, r]));
    const want = Array.from(nextBody.querySelectorAll('tr[data-flag-id]'));
    const wantIds = new Set(want.map((r) => r.dataset.flagId));
    for (const [id, row] of have) if (!wantIds.has(id)) row.remove();
    let prev = null;
    for (const r of want) {
      let row = have.get(r.dataset.flagId);
      if (!row) {
        row = document.importNode(r, true);
        row.classList.add('new');
        if (prev) prev.after(row); else body.prepend(row);
      }
      prev = row;
    }
    const empty = $('tr.empty', body);
    if (empty && want.length) empty.remove();
    const cap = $('table[data-testid="flag-inbox"] caption');
    const nextCap = nextMain.querySelector('table[data-testid="flag-inbox"] caption');
    if (cap && nextCap) cap.textContent = nextCap.textContent;
  }

  let noticeTimer = null;
  function showNotice() {
    const n = $('[data-testid="live-notice"]');
    if (!n) return;
    n.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    n.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { n.hidden = true; }, 8000);
  }

  // ---------------------------------------------------------------- the value panel
  const subjectRoot = () => $('#subject');

  function show(v) {
    if (v === null || v === undefined) return '—';
    return typeof v === 'object' ? JSON.stringify(v) : String(v);
  }

  function renderPanel(data) {
    const v = data.value || {};
    const pr = data.provenance || {};
    const src = pr.source || {};
    const rows = [
      ['Item', `${v.form || ''}.${v.item || ''}`],
      ['Value', `${show(v.value)}${v.unit ? ` ${v.unit}` : ''}`],
      ['Status', v.status],
      ['Effective (site time)', v.localDateTime || v.localDate || v.effective],
      ['Source resource', `${src.reference || ''}${src.version ? ` (version ${src.version})` : ''}`],
      ['Original value', `${show(pr.originalValue)}${pr.originalUnit ? ` ${pr.originalUnit}` : ''}`],
      ['Effective (as sent)', pr.effective],
      ['Rule', pr.ruleId],
      ['Code', pr.code],
      ['Conversion', pr.conversion ? show(pr.conversion) : 'none'],
    ];
    const dl = el('dl', { class: 'facts' }, rows.map(([k, val]) => el('div', {}, el('dt', {}, k), el('dd', {}, show(val)))));
    const history = (data.history || []).map((h) => el('tr', {},
      el('td', {}, h.at || ''), el('td', {}, h.atLocal || ''), el('td', {}, `${h.actorName || h.actor || ''} (${h.actorRole || ''})`),
      el('td', {}, h.action || ''), el('td', {}, `${show(h.oldValue)} → ${show(h.newValue)}`), el('td', {}, h.reason || '')));
    const table = el('table', { class: 'list' }, el('caption', {}, 'History'),
      el('thead', {}, el('tr', {}, ['When (UTC)', 'Site time', 'Who', 'Action', 'Old → new', 'Reason'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, history.length ? history : el('tr', {}, el('td', { colspan: 6 }, 'No history'))));
    const h3 = el('h3', {}, 'Provenance');
    $('#value-panel-body').replaceChildren(h3, dl, table);
    const unit = $('#cor-unit');
    if (unit && !unit.value && v.unit) unit.value = v.unit;
  }

  async function openPanel(id) {
    const panel = $('#value-panel');
    if (!panel) return;
    panel.dataset.valueId = String(id);
    say($('.panel-msg', panel), '');
    $('#value-panel-body').replaceChildren(el('p', {}, 'Loading…'));
    if (!panel.open) panel.showModal();
    try {
      renderPanel(await api('GET', `/api/crf-values/${encodeURIComponent(id)}`));
    } catch (e) {
      $('#value-panel-body').replaceChildren(el('p', { role: 'alert' }, e.message));
    }
  }

  const numberOrText = (s) => (/^-?\d+(\.\d+)?$/.test(s.trim()) ? Number(s) : s.trim());
  const formData = (form) => Object.fromEntries(Array.from(new FormData(form).entries()).map(([k, v]) => [k, String(v)]).filter(([, v]) => v !== ''));

  // ---------------------------------------------------------------- actions
  async function onSubmit(ev) {
    const form = ev.target;
    const action = form.dataset && form.dataset.action;
    if (!action) return;
    ev.preventDefault();
    const f = formData(form);
    const msg = $('.form-msg', form.closest('td, article, dialog, div')) || $('.panel-msg') || $('.action-msg');
    const button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    try {
      if (action === 'accept' || action === 'correct' || action === 'reject') {
        const id = $('#value-panel').dataset.valueId;
        const body = action === 'accept' ? { note: f.note } : action === 'correct' ? { value: numberOrText(f.value || ''), unit: f.unit, reason: f.reason, note: f.note } : { reason: f.reason, note: f.note };
        await api('POST', `/api/crf-values/${encodeURIComponent(id)}/${action}`, body);
        say($('.panel-msg'), `${action === 'accept' ? 'Accepted' : action === 'correct' ? 'Corrected' : 'Rejected'}.`);
        await refreshMain({});
        openPanel(id);
      } else if (action === 'answer') {
        const root = $('#eligibility');
        const res = await api('POST', `/api/subjects/${encodeURIComponent(root.dataset.subject)}/answers`, { trial: root.dataset.trial, site: root.dataset.site, criterion: form.dataset.criterion, answer: f.answer, note: f.note });
        const c = res && (res.criteria || []).find((x) => x.id === form.dataset.criterion);
        await refreshMain({});
        const msgAfter = $(`[data-criterion="${CSS.escape(form.dataset.criterion)}"] .form-msg`);
        say(msgAfter, c ? `Saved: the criterion is now ${c.verdict}.` : 'Saved.');
      } else if (action === 'resolve' || action === 'dismiss') {
        const [formName, item] = (f.item || '').split('.');
        const body = action === 'resolve' ? { form: formName, item, value: numberOrText(f.value || ''), unit: f.unit, reason: f.reason, note: f.note, effective: f.effective } : { reason: f.reason, note: f.note };
        await api('POST', `/api/review-items/${encodeURIComponent(form.dataset.itemId)}/${action}`, body);
        await refreshMain({});
      } else if (action === 'api') {
        // Generic JSON call: data-method + data-url; fields named in data-lists are sent as arrays,
        // every other non-empty field as text. data-done is the confirmation shown after the refresh.
        const lists = (form.dataset.lists || '').split(',').filter(Boolean);
        const fd = new FormData(form);
        const body = Object.assign({}, f);
        for (const name of lists) body[name] = fd.getAll(name).map(String).filter((v) => v !== '');
        await api(form.dataset.method || 'POST', form.dataset.url, body);
        await refreshMain({});
        say($('.action-msg'), form.dataset.done || 'Saved.');
      } else if (action === 'ack-flag' || action === 'resolve-flag') {
        await api('POST', `/api/flags/${encodeURIComponent(form.dataset.flagId)}/${action === 'ack-flag' ? 'acknowledge' : 'resolve'}`, action === 'ack-flag' ? {} : { note: f.note });
        await refreshMain({});
      }
    } catch (e) {
      say(msg, e.message, true);
    } finally {
      if (button && button.isConnected) button.disabled = false;
    }
  }

  async function onClick(ev) {
    const t = ev.target.closest('button, a');
    if (!t) return;
    if (t.matches('.cell-value')) {
      ev.preventDefault();
      openPanel(t.dataset.valueId);
      return;
    }
    const s = subjectRoot();
    if (!s || !t.dataset.action) return;
    const msg = $('.action-msg');
    const visit = t.dataset.visit;
    t.disabled = true;
    try {
      if (t.dataset.action === 'accept-visit') {
        await api('POST', `/api/subjects/${encodeURIComponent(s.dataset.subject)}/visits/${encodeURIComponent(visit)}/accept`, { trial: s.dataset.trial, site: s.dataset.site });
        await refreshMain({});
        say($('.action-msg'), `Visit ${visit} accepted.`);
      } else if (t.dataset.action === 'sign-visit') {
        await api('POST', `/api/subjects/${encodeURIComponent(s.dataset.subject)}/signatures`, { trial: s.dataset.trial, site: s.dataset.site, visit, meaning: 'reviewed and approved' });
        await refreshMain({});
        say($('.action-msg'), `Visit ${visit} signed.`);
      }
    } catch (e) {
      if (e.code === 'reauthentication-required') {
        // 21 CFR Part 11 §11.200(a)(1): re-enter credentials at the provider, come back, press Sign again.
        location.assign(`/ui/auth/reauth?return_to=${encodeURIComponent(location.pathname + location.search)}`);
        return;
      }
      say(msg, e.message, true);
    } finally {
      if (t.isConnected) t.disabled = false;
    }
  }

  // ---------------------------------------------------------------- live updates (Server-Sent Events)
  function live() {
    const root = $('[data-live]');
    if (!root || !window.EventSource) return;
    const es = new EventSource('/ui/events');
    let timer = null;
    const later = (opts) => { clearTimeout(timer); timer = setTimeout(() => refreshMain(Object.assign({ notice: true }, opts)), 300); };
    es.onmessage = (m) => {
      let e;
      try { e = JSON.parse(m.data); } catch (_) { return; }
      const r = $('[data-live]');
      if (!r) return;
      if (r.dataset.live === 'subject') {
        if (e.trial === r.dataset.trial && e.site === r.dataset.site && e.subject === r.dataset.subject) later({});
      } else if (r.dataset.live === 'flags' && e.type === 'flag') {
        const ok = (k) => !r.dataset[k] || r.dataset[k] === e[k];
        if (ok('trial') && ok('site') && ok('code')) later({ flagsOnly: true });
      }
    };
    es.addEventListener('session-ended', () => { es.close(); location.assign(`/ui/login?return_to=${encodeURIComponent(location.pathname + location.search)}`); });
    window.addEventListener('pagehide', () => es.close());
  }

  document.addEventListener('submit', onSubmit);
  document.addEventListener('click', onClick);
  document.addEventListener('DOMContentLoaded', () => {
    fillReasons(document);
    live();
    const v = new URLSearchParams(location.search).get('value');
    if (v && /^\d+$/.test(v)) openPanel(v);
  });
})();
