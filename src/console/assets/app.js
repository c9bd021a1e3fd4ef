// commentguard moderator console. Plain script, no dependencies, served from the binary.
//
// Safety rule: text from the service (comments, names, reasons, messages) only ever reaches
// the page through textContent / createTextNode, never as markup.
'use strict';

(() => {
  const KEY_STORE = 'commentguard.key';
  const $ = (id) => document.getElementById(id);
  const state = {
    key: sessionStorage.getItem(KEY_STORE) || '',
    role: null,
    view: 'queue',
    rows: [],          // {item, li}
    selected: -1,
    cursor: null,
    loading: false,
    job: null,         // retraining job being followed
    retentionDays: 14,
  };

  // ---- DOM helpers: every string child becomes a text node ----
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === 'class') node.className = value;
      else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    append(node, children);
    return node;
  }
  function append(node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      node.appendChild(typeof child === 'string' || typeof child === 'number'
        ? document.createTextNode(String(child)) : child);
    }
  }
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    append(node, children);
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function show(node, visible) { node.hidden = !visible; }

  function setState(node, kind, title, detail, retry) {
    clear(node);
    node.className = 'state' + (kind ? ' ' + kind : '');
    if (title) node.appendChild(el('strong', {}, title));
    if (detail) node.appendChild(el('span', {}, detail));
    if (retry) node.appendChild(el('div', {}, el('button', { type: 'button', onclick: retry }, 'Try again')));
    show(node, true);
  }

  let toastTimer = null;
  function toast(message, isError) {
    const node = $('toast');
    node.textContent = message;
    node.className = 'toast' + (isError ? ' error' : '');
    show(node, true);
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => show(node, false), isError ? 6000 : 2500);
  }

  // ---- API ----
  class ApiError extends Error {
    constructor(status, code, message) { super(message); this.status = status; this.code = code; }
  }
  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (state.key) headers.Authorization = 'Bearer ' + state.key;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'omit', cache: 'no-store',
      });
    } catch (e) {
      throw new ApiError(0, 'network', 'The service cannot be reached. Check your connection.');
    }
    let json = null;
    try { json = await response.json(); } catch (e) { json = null; }
    if (!response.ok) {
      const code = json && json.error ? json.error : 'http_' + response.status;
      const message = json && json.message ? json.message : 'The service answered ' + response.status + '.';
      if (response.status === 401 && state.role) signOut('Your key is no longer accepted; sign in again.');
      throw new ApiError(response.status, code, message);
    }
    return json;
  }

  // ---- formatting ----
  function ago(iso) {
    const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (seconds < 60) return 'just now';
    if (seconds < 3600) return Math.floor(seconds / 60) + ' min ago';
    if (seconds < 86400) return Math.floor(seconds / 3600) + ' h ago';
    return Math.floor(seconds / 86400) + ' d ago';
  }
  const pct = (x) => (typeof x === 'number' ? (x * 100).toFixed(1) + ' %' : '–');
  const VERDICT_NAMES = { hold: 'Held', spam: 'Spam', discard: 'Discarded', approve: 'Approved' };
  function hostOf(url) {
    try { return new URL(url).host; } catch (e) { return url; }
  }

  // ---- sign in ----
  async function boot() {
    try {
      const summary = await api('GET', '/v1/review/summary');
      enter(summary);
    } catch (e) {
      show($('boot'), false);
      if (e.status === 401 || e.status === 403) {
        showSignIn(e.status === 403
          ? 'This key cannot open the console: it needs a moderator or admin key.'
          : state.key ? 'That key is not accepted any more.' : '');
      } else {
        setState($('boot'), 'error', 'The console cannot start', e.message, () => location.reload());
      }
    }
  }

  function showSignIn(message) {
    state.role = null;
    for (const id of ['queue-view', 'model-view', 'tabs', 'signout', 'who', 'boot']) show($(id), false);
    show($('signin'), true);
    const error = $('signin-error');
    error.textContent = message || '';
    show(error, Boolean(message));
    $('key').focus();
  }

  async function signIn(event) {
    event.preventDefault();
    const key = $('key').value.trim();
    if (!key) return;
    const button = $('signin-button');
    button.disabled = true;
    button.textContent = 'Signing in…';
    state.key = key;
    try {
      const summary = await api('GET', '/v1/review/summary');
      sessionStorage.setItem(KEY_STORE, key);
      $('key').value = '';
      enter(summary);
    } catch (e) {
      state.key = '';
      sessionStorage.removeItem(KEY_STORE);
      const message = e.status === 401 ? 'That key is not valid (or was revoked).'
        : e.status === 403 ? 'This is a site key; the console needs a moderator or admin key.'
          : e.message;
      showSignIn(message);
    } finally {
      button.disabled = false;
      button.textContent = 'Sign in';
    }
  }

  function signOut(message) {
    state.key = '';
    sessionStorage.removeItem(KEY_STORE);
    clear($('queue'));
    state.rows = [];
    showSignIn(message);
  }

  function enter(summary) {
    state.role = summary.role;
    state.retentionDays = summary.retention_days;
    show($('signin'), false);
    show($('boot'), false);
    show($('tabs'), true);
    show($('signout'), Boolean(state.key));
    const who = $('who');
    who.textContent = state.key ? 'Signed in as ' + summary.role : 'Open local mode (no keys yet)';
    show(who, true);
    switchView(state.view, summary);
  }

  function switchView(view, summary) {
    state.view = view;
    for (const button of document.querySelectorAll('#tabs button')) {
      if (button.dataset.view === view) button.setAttribute('aria-current', 'page');
      else button.removeAttribute('aria-current');
    }
    show($('queue-view'), view === 'queue');
    show($('model-view'), view === 'model');
    if (view === 'queue') loadQueue(false);
    else loadModel(summary);
  }

  // ---- queue ----
  function queuePath() {
    const params = new URLSearchParams();
    const site = $('f-site').value;
    if (site) params.set('site', site);
    params.set('verdict', $('f-verdict').value);
    params.set('status', $('f-status').value);
    params.set('limit', '50');
    if (state.cursor) params.set('cursor', state.cursor);
    return '/v1/review/queue?' + params.toString();
  }

  async function loadQueue(more) {
    if (state.loading) return;
    state.loading = true;
    const list = $('queue');
    const status = $('queue-state');
    if (!more) {
      state.cursor = null;
      state.rows = [];
      state.selected = -1;
      clear(list);
      setState(status, 'loading', '', 'Loading the queue…');
    }
    $('more').disabled = true;
    try {
      const page = await api('GET', queuePath());
      fillSites(page.sites);
      for (const item of page.items) addRow(item);
      state.cursor = page.next_cursor || null;
      show($('more'), Boolean(state.cursor));
      if (state.rows.length === 0) {
        const filtered = $('f-site').value || $('f-verdict').value !== 'any';
        const waiting = $('f-status').value === 'pending';
        setState(status, 'empty',
          waiting ? 'Nothing is waiting for you' : 'No comments match',
          (filtered ? 'Nothing matches these filters. ' : '')
          + 'Held and spam comments appear here as they are scored and stay for '
          + fmtDays(state.retentionDays) + '.');
      } else {
        show(status, false);
        if (state.selected < 0) select(0, false);
      }
    } catch (e) {
      if (state.role) {
        if (more) toast('Could not load more: ' + e.message, true);
        else setState(status, 'error', 'The queue could not be loaded', e.message, () => loadQueue(false));
      }
    } finally {
      state.loading = false;
      $('more').disabled = false;
    }
  }

  function fmtDays(days) {
    if (days >= 1) return Math.round(days) + (Math.round(days) === 1 ? ' day' : ' days');
    return Math.max(1, Math.round(days * 86400)) + ' seconds';
  }

  function fillSites(sites) {
    const select = $('f-site');
    const current = select.value;
    const known = new Set(Array.from(select.options).map((o) => o.value));
    for (const site of sites || []) {
      if (!known.has(site)) select.appendChild(el('option', { value: site }, hostOf(site)));
    }
    select.value = current;
  }

  function addRow(item) {
    const index = state.rows.length;
    const verdict = item.verdict;
    const c = item.comment;
    const li = el('li', {
      class: 'row v-' + verdict, tabindex: '-1', 'data-verdict-id': item.verdict_id,
      onclick: () => select(index, false),
    });
    const row = { item, li, outcome: null, buttons: {} };
    const head = el('div', { class: 'row-head' },
      el('span', { class: 'badge ' + verdict }, VERDICT_NAMES[verdict] || verdict),
      el('span', { class: 'author' }, c.author || 'Anonymous'),
      c.author_email ? el('span', {}, c.author_email) : null,
      c.site ? el('span', {}, hostOf(c.site)) : null,
      el('span', { title: item.scored_at }, ago(item.scored_at)),
      el('span', { title: 'spam probability' }, 'p(spam) ' + pct(item.spam_probability)));
    li.appendChild(head);
    if (item.link_domains && item.link_domains.length) {
      li.appendChild(el('div', { class: 'domains', 'aria-label': 'Link domains' },
        item.link_domains.map((d) => el('span', { class: 'domain' }, d))));
    }
    const reasons = (item.reasons || []).filter((r) => r.id !== 'classifier' || item.reasons.length === 1);
    if (reasons.length) {
      li.appendChild(el('ul', { class: 'reasons' },
        reasons.slice(0, 5).map((r) => el('li', {}, el('code', {}, r.id), ' ', r.detail))));
    }
    li.appendChild(highlighted(c.content, item.tokens || []));
    li.appendChild(tokenChips(item.tokens || []));
    row.buttons.ham = el('button', { type: 'button', class: 'ham', 'aria-pressed': 'false',
      onclick: (e) => { e.stopPropagation(); label(index, 'ham'); } }, 'Not spam');
    row.buttons.spam = el('button', { type: 'button', class: 'spam', 'aria-pressed': 'false',
      onclick: (e) => { e.stopPropagation(); label(index, 'spam'); } }, 'Spam');
    row.outcome = el('span', { class: 'outcome', 'aria-live': 'polite' });
    li.appendChild(el('div', { class: 'actions' }, row.buttons.ham, row.buttons.spam, row.outcome));
    state.rows.push(row);
    $('queue').appendChild(li);
    if (item.label) showLabel(row, item.label);
  }

  // The comment as plain text with the words carrying its strongest tokens marked. Tokens
  // are readable: body words, phrases and link domains as they are; author features
  // (`author: …`) and shapes (`(2 links)`) are not words of the body and mark nothing.
  // Built from text nodes only.
  function highlighted(content, tokens) {
    const marks = { spam: { words: new Set() }, ham: { words: new Set() } };
    for (const t of tokens) {
      const value = t.token.toLowerCase();
      if (value.startsWith('(') || value.startsWith('author ') || value.startsWith('author:')) continue;
      const side = t.weight > 0 ? marks.spam : marks.ham;
      for (const w of value.split(' ')) { if (w) side.words.add(w); }
    }
    const hits = (side, lower, host) => side.words.has(lower) || side.words.has(host);
    const body = el('p', { class: 'body' });
    const pattern = /[\p{L}\p{N}][\p{L}\p{N}._'-]*/gu;
    let last = 0;
    for (const match of content.matchAll(pattern)) {
      const word = match[0].replace(/[._'-]+$/, '');
      const lower = word.toLowerCase();
      const host = lower.replace(/^www\./, '');
      const kind = hits(marks.spam, lower, host) ? 'tok-spam' : hits(marks.ham, lower, host) ? 'tok-ham' : null;
      if (!kind) continue;
      if (match.index > last) body.appendChild(document.createTextNode(content.slice(last, match.index)));
      body.appendChild(el('mark', { class: kind, title: kind === 'tok-spam' ? 'pushes to spam' : 'pushes to ham' }, word));
      last = match.index + word.length;
    }
    if (last < content.length) body.appendChild(document.createTextNode(content.slice(last)));
    return body;
  }

  function tokenChips(tokens) {
    const sorted = tokens.slice().sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight)).slice(0, 10);
    return el('div', { class: 'tokens', 'aria-label': 'Strongest tokens' },
      sorted.map((t) => el('span', { class: t.weight > 0 ? 'tok-spam' : 'tok-ham',
        title: 'weight ' + t.weight.toFixed(2) }, (t.weight > 0 ? '▲ ' : '▼ ') + t.token)));
  }

  function showLabel(row, value) {
    row.item.label = value;
    row.li.classList.add('labelled');
    row.li.classList.toggle('l-spam', value === 'spam');
    row.li.classList.toggle('l-ham', value === 'ham');
    row.buttons.spam.setAttribute('aria-pressed', String(value === 'spam'));
    row.buttons.ham.setAttribute('aria-pressed', String(value === 'ham'));
    row.outcome.textContent = value === 'spam' ? 'Marked spam ✓' : 'Marked not spam ✓';
  }

  async function label(index, value) {
    const row = state.rows[index];
    if (!row || row.busy) return;
    select(index, false);
    row.busy = true;
    row.buttons.ham.disabled = true;
    row.buttons.spam.disabled = true;
    row.outcome.textContent = 'Saving…';
    try {
      await api('POST', '/v1/feedback', {
        label: value, verdict_id: row.item.verdict_id, comment: row.item.comment,
      });
      showLabel(row, value);
      if (index === state.selected && index + 1 < state.rows.length) select(index + 1, true);
    } catch (e) {
      row.outcome.textContent = 'Not saved';
      toast('The correction was not saved: ' + e.message, true);
    } finally {
      row.busy = false;
      row.buttons.ham.disabled = false;
      row.buttons.spam.disabled = false;
    }
  }

  function select(index, scroll) {
    if (index < 0 || index >= state.rows.length) return;
    const previous = state.rows[state.selected];
    if (previous) previous.li.classList.remove('selected');
    state.selected = index;
    const row = state.rows[index];
    row.li.classList.add('selected');
    if (scroll) {
      row.li.focus({ preventScroll: true });
      row.li.scrollIntoView({ block: 'nearest' });
    }
  }

  function onKey(event) {
    if (state.view !== 'queue' || !state.role || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target && /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) return;
    switch (event.key) {
      case 'j': select(Math.min(state.selected + 1, state.rows.length - 1), true); break;
      case 'k': select(Math.max(state.selected - 1, 0), true); break;
      case 'a': if (state.selected >= 0) label(state.selected, 'ham'); break;
      case 's': if (state.selected >= 0) label(state.selected, 'spam'); break;
      default: return;
    }
    event.preventDefault();
  }

  // ---- model ----
  async function loadModel(summary) {
    const status = $('model-state');
    const box = $('model');
    clear(box);
    setState(status, 'loading', '', 'Loading the model…');
    try {
      const s = summary || await api('GET', '/v1/review/summary');
      let versions = null;
      if (s.role === 'admin') {
        try { versions = await api('GET', '/v1/admin/models'); } catch (e) { versions = e; }
      }
      show(status, false);
      renderModel(box, s, versions);
    } catch (e) {
      if (state.role) setState(status, 'error', 'The model could not be loaded', e.message, () => loadModel());
    }
  }

  function renderModel(box, s, versions) {
    box.appendChild(el('div', { class: 'card' },
      el('h2', {}, 'Active model'),
      el('div', { class: 'big', id: 'active-version' }, s.model_version),
      el('dl', { class: 'facts' },
        el('dt', {}, 'Registered'), el('dd', {}, s.created_at ? s.created_at.replace('T', ' ').replace(/\..*|Z$/, '') + ' UTC' : '–'),
        el('dt', {}, 'Source'), el('dd', {}, s.triggered_by || '–'),
        el('dt', {}, 'Trained on'), el('dd', {}, s.corpus_docs + ' corpus comments, ' + s.label_docs + ' labels'),
        s.forced ? [el('dt', {}, 'Gate'), el('dd', {}, el('span', { class: 'badge spam' }, 'forced past a failed gate'))] : null)));

    box.appendChild(el('div', { class: 'card' },
      el('h2', {}, 'Labels'),
      el('div', { class: 'big' }, String(s.labels_since_trained)),
      el('p', { class: 'muted' }, 'recorded since this model was trained (learned online; a retrain folds them in). '
        + s.labels_total + ' recorded in all.')));

    const figures = el('div', { class: 'card' }, el('h2', {}, 'Evaluation'));
    if (s.holdout) {
      const h = s.holdout;
      figures.appendChild(el('dl', { class: 'facts' },
        ['accuracy', 'precision', 'recall', 'f1', 'fpr', 'held'].map((k) => [
          el('dt', {}, k === 'fpr' ? 'false-positive rate' : k === 'f1' ? 'F1' : k),
          el('dd', {}, pct(h[k]))])));
      figures.appendChild(el('p', { class: 'muted' }, 'On the retraining holdout.'));
    } else {
      figures.appendChild(el('p', { class: 'muted' },
        'No holdout figures: this version was not trained here (shipped or configured). '
        + 'The README lists the shipped model\'s figures; a retrain measures one.'));
    }
    box.appendChild(figures);

    box.appendChild(el('div', { class: 'card wide' },
      el('h2', {}, 'Verdicts per day'),
      chart(s.verdicts_per_day || []),
      el('p', { class: 'muted' }, 'Counted by this process since it started (UTC days).')));

    if (s.role === 'admin') {
      const active = Array.isArray(versions) ? versions.find((v) => v.active) : null;
      if (active && active.sites && active.sites.length) box.appendChild(sitesCard(active.sites));
      box.appendChild(adminCard(versions));
    }
  }

  // Each site's own labels, which count for that site far more than for the others.
  function sitesCard(sites) {
    return el('div', { class: 'card wide', id: 'site-labels' },
      el('h2', {}, 'Labels per site'),
      el('dl', { class: 'facts' },
        sites.map((x) => [el('dt', {}, x.site), el('dd', {}, x.spam + ' spam, ' + x.ham + ' ham')])),
      el('p', { class: 'muted' }, 'Each site\'s own labels weigh 23 times more for that site than for the others.'));
  }

  function chart(days) {
    const kinds = ['approve', 'hold', 'spam', 'discard'];
    const total = (d) => kinds.reduce((n, k) => n + d[k], 0);
    const max = Math.max(0, ...days.map(total));
    if (!days.length || max === 0) {
      return el('div', { class: 'state empty' }, el('strong', {}, 'No verdicts yet'),
        el('span', {}, 'Bars appear as comments are scored.'));
    }
    const width = 360, height = 150, left = 28, bottom = 18, top = 8;
    const slot = (width - left) / days.length;
    const scale = (height - top - bottom) / max;
    const figure = svg('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img',
      'aria-label': 'Verdicts per day, last ' + days.length + ' days' });
    figure.appendChild(svg('title', {}, 'Verdicts per day'));
    for (const frac of [0, 0.5, 1]) {
      const y = height - bottom - frac * max * scale;
      figure.appendChild(svg('line', { class: 'grid', x1: left, x2: width, y1: y, y2: y }));
      figure.appendChild(svg('text', { class: 'axis', x: left - 4, y: y + 3, 'text-anchor': 'end' },
        String(Math.round(frac * max))));
    }
    days.forEach((d, i) => {
      let y = height - bottom;
      const x = left + i * slot + slot * 0.15;
      for (const k of kinds) {
        if (!d[k]) continue;
        const h = Math.max(1, d[k] * scale);
        y -= h;
        figure.appendChild(svg('rect', { class: k, x, y, width: slot * 0.7, height: h },
          svg('title', {}, `${d.date}: ${d[k]} ${k}`)));
      }
      if (days.length <= 16 || i % 2 === 0) {
        figure.appendChild(svg('text', { class: 'axis', x: x + slot * 0.35, y: height - 6, 'text-anchor': 'middle' },
          d.date.slice(8)));
      }
    });
    const legend = el('div', { class: 'legend' },
      kinds.map((k) => el('span', {}, el('span', { class: 'swatch ' + k }), VERDICT_NAMES[k])));
    return el('div', {}, figure, legend);
  }

  function adminCard(versions) {
    const card = el('div', { class: 'card wide' }, el('h2', {}, 'Retrain and roll back'));
    const jobBox = el('div', { class: 'job', 'aria-live': 'polite' });
    const button = el('button', { type: 'button', class: 'primary', id: 'retrain',
      onclick: () => startRetrain(button, jobBox) }, 'Retrain');
    card.appendChild(el('p', { class: 'muted' },
      'Trains a candidate on the corpus and every label, and promotes it only if it passes the '
      + 'evaluation gate on a holdout.'));
    card.appendChild(button);
    card.appendChild(jobBox);
    if (state.job) followJob(state.job, button, jobBox);
    card.appendChild(el('h3', {}, 'Versions'));
    if (versions instanceof Error) {
      card.appendChild(el('p', { class: 'error' }, 'Versions could not be listed: ' + versions.message));
    } else if (!versions || !versions.length) {
      card.appendChild(el('p', { class: 'muted' }, 'No versions registered yet.'));
    } else {
      const rows = versions.map((v) => el('tr', {},
        el('td', {}, v.version, v.active ? [' ', el('span', { class: 'badge ham' }, 'active')] : null),
        el('td', { class: 'wide-only' }, (v.created_at || '').slice(0, 16).replace('T', ' ')),
        el('td', { class: 'num' }, v.holdout ? pct(v.holdout.f1) : '–'),
        el('td', { class: 'num' }, v.holdout ? pct(v.holdout.fpr) : '–'),
        el('td', {}, v.active ? null : el('button', { type: 'button', class: 'quiet',
          onclick: () => activate(v.version) }, 'Activate'))));
      card.appendChild(el('div', { class: 'scroll' }, el('table', {},
        el('thead', {}, el('tr', {}, el('th', {}, 'Version'), el('th', { class: 'wide-only' }, 'Registered'),
          el('th', { class: 'num' }, 'F1'), el('th', { class: 'num' }, 'FPR'), el('th', {}, ''))),
        el('tbody', {}, rows))));
    }
    return card;
  }

  async function startRetrain(button, box) {
    button.disabled = true;
    try {
      const answer = await api('POST', '/v1/admin/retrain');
      state.job = answer.job_id;
      followJob(answer.job_id, button, box);
    } catch (e) {
      button.disabled = false;
      clear(box);
      box.appendChild(el('p', { class: 'error' }, e.code === 'retrain_in_progress'
        ? 'A retraining job is already running.' : 'Retraining did not start: ' + e.message));
    }
  }

  async function followJob(jobId, button, box) {
    button.disabled = true;
    for (;;) {
      let job;
      try {
        job = await api('GET', '/v1/admin/jobs/' + encodeURIComponent(jobId));
      } catch (e) {
        clear(box);
        box.appendChild(el('p', { class: 'error' }, 'Lost track of the job: ' + e.message));
        button.disabled = false;
        state.job = null;
        return;
      }
      if (!box.isConnected) return;
      clear(box);
      const progress = el('progress', { max: '1' });
      progress.value = job.progress || 0;
      box.appendChild(el('div', {}, el('strong', {}, job.state), ' · ', job.stage || ''));
      box.appendChild(progress);
      if (job.gate) box.appendChild(el('div', {}, 'Gate: ', job.gate));
      if (job.candidate && job.current) {
        box.appendChild(el('div', { class: 'muted' },
          `Candidate F1 ${pct(job.candidate.f1)}, FPR ${pct(job.candidate.fpr)} · current F1 ${pct(job.current.f1)}, FPR ${pct(job.current.fpr)}`));
      }
      if (job.error) box.appendChild(el('p', { class: 'error' }, job.error));
      if (job.state !== 'queued' && job.state !== 'running') {
        state.job = null;
        button.disabled = false;
        if (job.state === 'succeeded') {
          toast('Promoted ' + (job.model_version || 'a new version'));
          setTimeout(() => loadModel(), 1200);
        }
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  async function activate(version) {
    if (!window.confirm('Serve model ' + version + ' from now on?')) return;
    try {
      await api('POST', '/v1/admin/models/' + encodeURIComponent(version) + '/activate');
      toast('Now serving ' + version);
      loadModel();
    } catch (e) {
      toast('Could not activate ' + version + ': ' + e.message, true);
    }
  }

  // ---- wiring ----
  document.addEventListener('DOMContentLoaded', () => {
    $('signin-form').addEventListener('submit', signIn);
    $('signout').addEventListener('click', () => signOut(''));
    for (const button of document.querySelectorAll('#tabs button')) {
      button.addEventListener('click', () => switchView(button.dataset.view));
    }
    for (const id of ['f-site', 'f-verdict', 'f-status']) $(id).addEventListener('change', () => loadQueue(false));
    $('refresh').addEventListener('click', () => loadQueue(false));
    $('more').addEventListener('click', () => loadQueue(true));
    document.addEventListener('keydown', onKey);
    boot();
  });
})();
