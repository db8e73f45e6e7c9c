/**
 * GET /ui/subjects/:trial/:site/:subject/eligibility — the checklist: every
 * criterion of the protocol with its verdict, reason, evidence (links to the
 * value panel) and text; investigators answer judgement criteria here
 * (app.js posts to /api/subjects/:s/answers and shows the verdict the API returns).
 */
import type { Request, Response } from 'express';
import { AppError } from '../../errors';
import { assertCan, can } from '../../http/scope';
import { isComputable } from '../../protocol/trials';
import { latestAnswers, subjectView, valueIdsBySource } from '../../store/views';
import { html } from '../html';
import type { UiDeps } from '../deps';
import { badge, localTime, scopeOfReader, shell, subjectHref } from '../layout';

const VERDICT_LABEL: Record<string, string> = { met: 'met', 'not-met': 'not met', unknown: 'unknown' };
const ANSWERS: readonly [string, string][] = [['met', 'Met'], ['not-met', 'Not met'], ['not-applicable', 'Not applicable']];

export function eligibilityPage(deps: UiDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const p = req.principal!;
    const k = { trial: req.params.trial, site: req.params.site, subject: req.params.subject };
    assertCan(p, 'read', k.trial, k.site);
    const view = await subjectView(deps.db, scopeOfReader(p), k);
    const trial = deps.trials.get(k.trial);
    if (!view || !trial) throw new AppError('not-found', `no subject ${k.subject} in ${k.trial} at ${k.site}`);
    const tz = deps.timeZoneOf(k.site);
    const [answers, sources] = await Promise.all([latestAnswers(deps.db, k), valueIdsBySource(deps.db, k)]);
    const mayAnswer = can(p, 'answer', k.trial, k.site);
    const verdicts = new Map<string, { verdict: string; reason: string; evidence: string[] }>((view.report?.eligibility?.criteria ?? []).map((c: { id: string; verdict: string; reason: string; evidence: string[] }) => [c.id, c]));
    const section = (kind: 'inclusion' | 'exclusion', title: string) => {
      const cs = trial.eligibility.filter((c) => c.type === kind);
      return html`<section aria-labelledby="${kind}-h"><h2 id="${kind}-h">${title}</h2>${cs.map((c) => {
        const v = verdicts.get(c.id);
        const a = answers.get(c.id);
        const judgement = !isComputable(c.rule);
        const evidence = (v?.evidence ?? []).map((ref) => {
          const ids = sources.get(ref);
          return ids?.length
            ? html`<li><a href="${subjectHref(k, `?value=${ids[0]}`)}" data-value-id="${ids[0]}">${ref}</a></li>`
            : html`<li>${ref}</li>`;
        });
        const idp = `c-${c.id}`.replace(/[^A-Za-z0-9_-]/g, '-');
        const form = judgement && mayAnswer
          ? html`<form data-action="answer" data-criterion="${c.id}" class="answer-form"><fieldset><legend>Your answer to ${c.id}</legend>
            ${ANSWERS.map(([val, label]) => html`<div class="radio"><input type="radio" id="${idp}-${val}" name="answer" value="${val}" required${a?.answer === val ? html` checked` : ''}><label for="${idp}-${val}">${label}</label></div>`)}
            <label for="${idp}-note">Note</label><textarea id="${idp}-note" name="note" maxlength="2000" rows="2"></textarea>
            <button type="submit">Save answer to ${c.id}</button></fieldset><p class="form-msg" role="status"></p></form>`
          : '';
        return html`<article class="criterion card" data-testid="criterion-${c.id}" data-criterion="${c.id}" aria-labelledby="${idp}-h">
          <h3 id="${idp}-h">${c.id} <span class="muted">(${judgement ? 'clinician judgement' : 'computed'})</span></h3>
          <p class="criterion-text">${c.text}</p>
          <p>Verdict: <span data-testid="verdict" class="verdict">${badge(v?.verdict ?? 'unknown', VERDICT_LABEL[v?.verdict ?? 'unknown'])}</span></p>
          <p class="reason" data-testid="reason">${v?.reason ?? 'not evaluated yet'}</p>
          ${evidence.length ? html`<div><h4>Evidence</h4><ul>${evidence}</ul></div>` : ''}
          ${a ? html`<p class="answer" data-testid="answer">Answered <strong>${a.answer}</strong> by ${a.by}, ${localTime(a.at, tz)}${a.note ? html`: ${a.note}` : ''}</p>` : ''}
          ${form}</article>`;
      })}</section>`;
    };
    const overall = view.report?.eligibility?.overall;
    const body = html`<div id="eligibility" data-trial="${k.trial}" data-site="${k.site}" data-subject="${k.subject}">
      <p><a href="${subjectHref(k)}">Back to subject ${k.subject}</a></p>
      <p>Overall: <span data-testid="overall-verdict">${overall ? badge(overall) : html`<span class="muted">not evaluated</span>`}</span></p>
      ${section('inclusion', 'Inclusion criteria')}${section('exclusion', 'Exclusion criteria')}</div>`;
    res.type('html').send(shell(req, `Eligibility of ${k.subject}`, '/ui/subjects', body));
  };
}
