/**
 * GET /ui/subjects/:trial/:site/:subject/eligibility — the checklist: a
 * summary (verdict counts, the judgement criteria still waiting for an
 * answer), then inclusion and exclusion criteria as one table each: the
 * criterion's text once, its verdict, why (in words, without internal code
 * systems), evidence (links to the value panel) and the answer. Investigators
 * answer judgement criteria in the row (app.js posts to
 * /api/subjects/:s/answers and shows the verdict the API returns).
 */
import type { Request, Response } from 'express';
import { AppError } from '../../errors';
import { assertCan, can } from '../../http/scope';
import { isComputable, type Criterion } from '../../protocol/trials';
import { latestAnswers, subjectView, valueIdsBySource, type AnswerView } from '../../store/views';
import { html, type Html } from '../html';
import type { UiDeps } from '../deps';
import { readableCriterionReason } from '../format';
import { badge, localTime, ref, scopeOfReader, shell, subjectHref } from '../layout';

const VERDICT_LABEL: Record<string, string> = { met: 'met', 'not-met': 'not met', unknown: 'unknown' };
const ANSWER_LABEL: Record<string, string> = { met: 'met', 'not-met': 'not met', 'not-applicable': 'not applicable' };
const ANSWERS: readonly [string, string][] = [['met', 'Met'], ['not-met', 'Not met'], ['not-applicable', 'Not applicable']];

interface Verdict { verdict: string; reason: string; evidence: string[] }

/** A criterion id as an element id ("c-I2a"). */
const anchor = (id: string): string => `c-${id}`.replace(/[^A-Za-z0-9_-]/g, '-');

/** A judgement criterion that nobody has decided yet: the investigator's to answer. */
const needsAnswer = (c: Criterion, v: Verdict | undefined, a: AnswerView | undefined): boolean => !isComputable(c.rule) && !a && (v?.verdict ?? 'unknown') === 'unknown';

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
    const verdicts = new Map<string, Verdict>((view.report?.eligibility?.criteria ?? []).map((c: Verdict & { id: string }) => [c.id, c]));

    const answerForm = (c: Criterion, a: AnswerView | undefined): Html => {
      const idp = anchor(c.id);
      return html`<form data-action="answer" data-criterion="${c.id}" class="answer-form"><fieldset><legend class="sr-only">Your answer to ${c.id}</legend>
        ${ANSWERS.map(([val, label]) => html`<span class="radio"><input type="radio" id="${idp}-${val}" name="answer" value="${val}" required${a?.answer === val ? html` checked` : ''}><label for="${idp}-${val}">${label}</label></span>`)}
        <span class="note-field"><label for="${idp}-note">Note</label><input id="${idp}-note" name="note" maxlength="2000"></span>
        <button type="submit">Save answer to ${c.id}</button></fieldset><p class="form-msg" id="${idp}-msg" role="status"></p></form>`;
    };

    const row = (c: Criterion): Html => {
      const v = verdicts.get(c.id);
      const a = answers.get(c.id);
      const judgement = !isComputable(c.rule);
      const idp = anchor(c.id);
      const why = readableCriterionReason(v?.reason);
      const evidence = (v?.evidence ?? []).map((r) => {
        const ids = sources.get(r);
        return ids?.length ? html`<li><a href="${subjectHref(k, `?value=${ids[0]}`)}" data-value-id="${ids[0]}">${ref(r)}</a></li>` : html`<li>${ref(r)}</li>`;
      });
      const open = needsAnswer(c, v, a);
      return html`<tr id="${idp}"${open ? html` class="needs-answer"` : ''} data-testid="criterion-${c.id}" data-criterion="${c.id}">
        <th scope="row"><span class="crit-id">${c.id}</span> <span class="crit-text">${c.text}</span>
          <span class="crit-type">${judgement ? 'clinician judgement' : 'computed from data'}</span></th>
        <td><span data-testid="verdict" class="verdict">${badge(v?.verdict ?? 'unknown', VERDICT_LABEL[v?.verdict ?? 'unknown'])}</span>${open ? html` <span class="badge badge-warning">needs an answer</span>` : ''}</td>
        <td class="why"><span class="reason" data-testid="reason">${why.text}</span>${why.cite ? html` <span class="muted cite">(${why.cite})</span>` : ''}
          ${evidence.length ? html`<ul class="evidence" aria-label="Evidence for ${c.id}">${evidence}</ul>` : ''}
          ${a ? html`<p class="answer" data-testid="answer">Answered <strong>${ANSWER_LABEL[a.answer] ?? a.answer}</strong> by ${a.by}, ${localTime(a.at, tz)}${a.note ? html`: ${a.note}` : ''}</p>` : ''}</td>
        ${mayAnswer ? html`<td>${judgement ? answerForm(c, a) : html`<span class="muted">decided by the data</span>`}</td>` : ''}</tr>`;
    };

    const section = (kind: 'inclusion' | 'exclusion', title: string, hint: string): Html => {
      const cs = trial.eligibility.filter((c) => c.type === kind);
      return html`<section aria-labelledby="${kind}-h"><h2 id="${kind}-h">${title}</h2><p class="muted">${hint}</p>
        <table class="list criteria" data-testid="${kind}-criteria"><thead><tr><th scope="col">Criterion</th><th scope="col">Verdict</th><th scope="col">Why</th>${mayAnswer ? html`<th scope="col">Your answer</th>` : ''}</tr></thead>
        <tbody>${cs.map(row)}</tbody></table></section>`;
    };

    const count = (kind: string, verdict: string) => trial.eligibility.filter((c) => c.type === kind && (verdicts.get(c.id)?.verdict ?? 'unknown') === verdict).length;
    const tally = (kind: string) => html`${count(kind, 'met')} met, ${count(kind, 'not-met')} not met, ${count(kind, 'unknown')} unknown`;
    const waiting = trial.eligibility.filter((c) => needsAnswer(c, verdicts.get(c.id), answers.get(c.id)));
    const overall = view.report?.eligibility?.overall;
    const body = html`<div id="eligibility" data-trial="${k.trial}" data-site="${k.site}" data-subject="${k.subject}">
      <p><a href="${subjectHref(k)}">Back to subject ${k.subject}</a></p>
      <dl class="facts summary" data-testid="eligibility-summary">
        <div><dt>Overall</dt><dd data-testid="overall-verdict">${overall ? badge(overall) : html`<span class="muted">not evaluated</span>`}</dd></div>
        <div><dt>Inclusion</dt><dd>${tally('inclusion')}</dd></div>
        <div><dt>Exclusion</dt><dd>${tally('exclusion')}</dd></div>
        <div><dt>Judgement criteria without an answer</dt><dd data-testid="needs-answer">${waiting.length
          ? html`${waiting.length}: ${waiting.map((c, i) => html`${i ? ', ' : ''}<a href="#${anchor(c.id)}">${c.id}</a>`)}`
          : 'none'}</dd></div>
      </dl>
      ${section('inclusion', 'Inclusion criteria', 'All must be met.')}${section('exclusion', 'Exclusion criteria', 'None may be met: a met exclusion criterion excludes the subject.')}</div>`;
    res.type('html').send(shell(req, `Eligibility of ${k.subject}`, '/ui/subjects', body));
  };
}
