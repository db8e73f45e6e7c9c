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
  /** The controlled lists, read once (also for the labels of reasons in histories). */
  async function loadReasons() {
    try {
      reasons = reasons || (await api('GET', '/api/review-reasons'));
    } catch (_) {
      /* the codes are shown instead of labels */
    }
    return reasons;
  }
  async function fillReasons(root) {
    const selects = $$('select[data-reasons]', root);
    if (!selects.length || !(await loadReasons())) return;
    for (const s of selects) {
      if (s.dataset.filled) continue;
      for (const r of reasons[s.dataset.reasons] || []) s.append(el('option', { value: r.code }, r.label));
      s.dataset.filled = '1';
    }
  }

  // ---------------------------------------------------------------- refresh without a full reload
  // Refreshes run one after another (a request made during one gets its own, later fetch, so it
  // never shows data older than the change that asked for it). An open value panel is kept as it
  // is (what the person typed, the confirmation) and only its data re-read; confirmation lines
  // (role=status with an id) and the focused control are carried over to the new content.
  let refreshChain = Promise.resolve();
  function refreshMain(opts) {
    refreshChain = refreshChain.then(() => refreshOnce(opts || {})).catch(() => {});
    return refreshChain;
  }

  async function refreshOnce(opts) {
    const res = await fetch(location.pathname + location.search, { credentials: 'same-origin', headers: { accept: 'text/html' } });
    if (res.redirected && /\/ui\/login/.test(res.url)) { location.assign(res.url); return; }
    if (!res.ok) return;
    const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
    const next = doc.getElementById('main');
    const main = document.getElementById('main');
    if (!next || !main) return;
    let added = 0;
    if (opts.flagsOnly) {
      added = mergeFlagRows(next);
    } else {
      const panel = $('#value-panel');
      const keep = panel && panel.open && panel.parentElement === main ? panel : null;
      if (keep) { const fresh = next.querySelector('#value-panel'); if (fresh) fresh.remove(); }
      const messages = $$('[role="status"][id]', main).filter((m) => m.textContent && !m.closest('#value-panel')).map((m) => [m.id, m.textContent, m.classList.contains('error')]);
      const focused = document.activeElement && main.contains(document.activeElement) && !(keep && keep.contains(document.activeElement)) ? focusKey(document.activeElement) : null;
      for (const c of Array.from(main.childNodes)) if (c !== keep) c.remove();
      const nodes = Array.from(next.childNodes).map((n) => document.importNode(n, true));
      for (const n of nodes) main.insertBefore(n, keep);
      for (const [id, text, isError] of messages) say(document.getElementById(id), text, isError);
      if (focused) { const f = main.querySelector(focused); if (f) f.focus(); }
      await fillReasons(main);
      if (keep) await loadPanel(keep.dataset.valueId);
    }
    if (opts.notice) showNotice(added);
  }

  /** A selector that finds "the same" control in the re-rendered page. */
  function focusKey(e) {
    if (e.id) return `#${CSS.escape(e.id)}`;
    if (e.dataset && e.dataset.testid) return `[data-testid="${CSS.escape(e.dataset.testid)}"]`;
    if (e.dataset && e.dataset.valueId) return `[data-value-id="${CSS.escape(e.dataset.valueId)}"]`;
    return null;
  }

  /** Flag inbox: new rows are inserted, resolved ones removed; open forms elsewhere stay as they are. */
  function mergeFlagRows(nextMain) {
    const body = $('#flag-rows');
    const nextBody = nextMain.querySelector('#flag-rows');
    if (!body || !nextBody) return 0;
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
    return want.filter((r) => !have.has(r.dataset.flagId)).length;
  }

  /** The live-update line under the heading: when the page last changed by itself, and what came in. */
  function showNotice(added) {
    const n = $('[data-testid="live-notice"]');
    if (!n) return;
    const what = added ? `: ${added} new flag${added === 1 ? '' : 's'} (highlighted)` : '';
    n.textContent = `Updated live at ${new Date().toLocaleTimeString()}${what}.`;
  }

  // ---------------------------------------------------------------- the value panel
  const subjectRoot = () => $('#subject');

  // Display rules shared with src/ui/format.ts (units as people write them, large counts in powers of ten).
  const SUP = { 0: '⁰', 1: '¹', 2: '²', 3: '³', 4: '⁴', 5: '⁵', 6: '⁶', 7: '⁷', 8: '⁸', 9: '⁹', '-': '⁻' };
  const sup = (s) => String(s).split('').map((c) => SUP[c] || c).join('');
  function unitText(u) {
    if (!u) return '';
    return String(u).replace(/10\*(-?\d+)/g, (_m, e) => `10${sup(e)}`).replace(/(^|[^A-Za-z])u(?=(mol|g|L|l|IU|\[IU\]|m)\b)/g, '$1µ')
      .replace(/\{([^}]*)\}/g, '$1').replace(/\[([^\]]*)\]/g, '$1');
  }
  function numberText(n) {
    if (typeof n !== 'number' || !isFinite(n) || Math.abs(n) < 1e6) return String(n);
    const e = Math.floor(Math.log10(Math.abs(n)));
    const m = Number((n / Math.pow(10, e)).toPrecision(4));
    return `${m === 1 ? '' : `${m} × `}10${sup(e)}`;
  }
  function show(v) {
    if (v === null || v === undefined || v === '') return '—';
    return typeof v === 'number' ? numberText(v) : typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
  const quantity = (v, u) => `${show(v)}${u ? ` ${unitText(u)}` : ''}`;
  const ACTIONS = { insert: 'created', update: 'updated', accept: 'accepted', correct: 'corrected', reject: 'rejected', entered: 'entered by hand', resolve: 'resolved', dismiss: 'dismissed' };
  const REASON_KIND = { correct: 'correct', entered: 'correct', resolve: 'correct', reject: 'reject', dismiss: 'dismiss' };
  /** "2026-12-02T00:29:12.706Z" or "...T08:29:12+08:00" → "2026-12-02 08:29:12 +08:00". */
  const stamp = (t) => (t ? String(t).replace('T', ' ').replace(/\.\d+/, '').replace(/([+-]\d\d:\d\d)$/, ' $1') : '');

  /** An audit value of a CRF value ({value, unit, status} or an entry by hand) in words. */
  function auditValue(v) {
    if (v === null || v === undefined) return '—';
    if (typeof v !== 'object') return String(v);
    if (v.convertedTo) return `${quantity(v.value, v.unit)}, stored as ${quantity(v.convertedTo.value, v.convertedTo.unit)}`;
    if ('value' in v) return `${quantity(v.value, v.unit)}${v.status ? ` (${String(v.status)})` : ''}`;
    return JSON.stringify(v);
  }

  /** The reason of an audit row: the controlled reason's label with its code, then the note (store/review.ts auditReason). */
  function reasonNodes(action, reason) {
    if (!reason) return [];
    const m = /^([a-z0-9-]+)(?::\s*([\s\S]*))?$/.exec(reason);
    const list = reasons && REASON_KIND[action] ? reasons[REASON_KIND[action]] || [] : [];
    const known = m && list.find((r) => r.code === m[1]);
    if (!known) return [reason];
    return [known.label, ' ', el('code', { class: 'muted' }, known.code), m[2] ? el('span', { class: 'note' }, `Note: ${m[2]}`) : null];
  }

  /** "85.5 umol/L → 5 mg/dL (÷ 17.1)": the conversion of the source value into the CRF unit. */
  function conversionText(c) {
    if (!c) return 'none (the source unit is the CRF unit)';
    const to = typeof c.value === 'number' ? Number(c.value.toPrecision(6)) : c.value;
    let factor = '';
    if (typeof c.value === 'number' && typeof c.originalValue === 'number' && c.value !== 0 && c.originalValue !== 0) {
      const f = c.value / c.originalValue;
      factor = f >= 1 ? ` (× ${Number(f.toPrecision(4))})` : ` (÷ ${Number((1 / f).toPrecision(4))})`;
    }
    return `${quantity(c.originalValue, c.from)} → ${quantity(to, c.to)}${factor}`;
  }

  function renderPanel(data) {
    const v = data.value || {};
    const pr = data.provenance || {};
    const src = pr.source || {};
    const rows = [
      ['Item', `${v.form || ''}.${v.item || ''}`],
      ['Value', quantity(v.value, v.unit)],
      ['Status', v.status],
      ['Effective (site time)', el('time', { datetime: v.effective }, stamp(v.localDateTime || v.localDate || v.effective))],
      ['Source resource', src.reference, 'wide'],
      ['Source version', src.version],
      ['Original value', quantity(pr.originalValue, pr.originalUnit)],
      ['Effective (as sent)', pr.effective ? el('time', {}, stamp(pr.effective)) : null],
      ['Rule', pr.ruleId],
      ['Code', pr.code],
      ['Conversion', conversionText(pr.conversion), 'wide'],
    ];
    const dl = el('dl', { class: 'panel-facts' }, rows.map(([k, val, cls]) => el('div', { class: cls }, el('dt', {}, k), el('dd', {}, val instanceof Node ? val : show(val)))));
    const history = (data.history || []).map((h) => el('tr', {},
      el('td', {}, el('time', { datetime: h.at }, stamp(h.at))), el('td', {}, el('time', {}, stamp(h.atLocal))),
      el('td', {}, `${h.actorName || h.actor || ''} (${h.actorRole === 'system' ? 'automatic' : h.actorRole || ''})`),
      el('td', {}, ACTIONS[h.action] || h.action || ''), el('td', {}, h.oldValue ? `${auditValue(h.oldValue)} → ${auditValue(h.newValue)}` : auditValue(h.newValue)),
      el('td', {}, reasonNodes(h.action, h.reason))));
    const table = el('table', { class: 'list' }, el('caption', {}, 'History'),
      el('thead', {}, el('tr', {}, ['When (UTC)', 'Site time', 'Who', 'Action', 'Old → new', 'Reason and note'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, history.length ? history : el('tr', {}, el('td', { colspan: 6 }, 'No history'))));
    $('#value-panel-body').replaceChildren(el('h3', {}, 'Provenance'), dl, table);
    const unit = $('#cor-unit');
    if (unit && !unit.value && v.unit) unit.value = v.unit;
  }

  /** Opens the panel on a value: a fresh start (forms and message cleared), then its data. */
  async function openPanel(id) {
    const panel = $('#value-panel');
    if (!panel) return;
    panel.dataset.valueId = String(id);
    say($('.panel-msg', panel), '');
    for (const f of $$('form[data-action]', panel)) f.reset();
    $('#value-panel-body').replaceChildren(el('p', {}, 'Loading…'));
    if (!panel.open) panel.showModal();
    await fillReasons(panel);
    await loadPanel(id);
  }

  /** (Re-)reads the panel's value; what the person typed and the message stay. */
  async function loadPanel(id) {
    if (!id) return;
    await loadReasons();
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
    const msg = form.closest('dialog') ? $('#panel-msg') : $('.form-msg', form.closest('td, article, div')) || $('.action-msg');
    const button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    try {
      if (action === 'accept' || action === 'correct' || action === 'reject') {
        const id = $('#value-panel').dataset.valueId;
        const body = action === 'accept' ? { note: f.note } : action === 'correct' ? { value: numberOrText(f.value || ''), unit: f.unit, reason: f.reason, note: f.note } : { reason: f.reason, note: f.note };
        await api('POST', `/api/crf-values/${encodeURIComponent(id)}/${action}`, body);
        for (const pf of $$('form[data-action]', $('#value-panel'))) pf.reset();
        say($('#panel-msg'), `${action === 'accept' ? 'Accepted' : action === 'correct' ? 'Corrected' : 'Rejected'}.`);
        // The grid behind the panel and the panel's own data are re-read; the panel and this message stay.
        await refreshMain({});
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
