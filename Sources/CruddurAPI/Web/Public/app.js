// Cruddur's page: the home feed and the post form, on the public JSON API.
// Plain JavaScript with no build step and no inline handlers; messages are only ever set as text, never parsed as HTML.
'use strict';

(() => {
  /** The longest message, in Unicode code points, as the server counts. */
  const MAX_CODE_POINTS = 280;
  const FEED_URL = '/api/activities/home';
  const POST_URL = '/api/activities';
  /** The field each 422 code belongs to, and what to tell the person. */
  const VALIDATION_MESSAGES = {
    message_blank: ['message', 'Write a message first.'],
    message_exceed_max_chars: ['message', `Messages can be at most ${MAX_CODE_POINTS} characters.`],
    user_handle_blank: ['user-handle', 'Enter your handle.'],
    user_handle_not_found: ['user-handle', 'No one on Cruddur has that handle.'],
    ttl_blank: ['ttl', 'Choose when the activity expires.'],
    idempotency_key_reused: ['message', 'This post was already sent with other content. Post it again.'],
  };
  const HANDLE_KEY = 'cruddur.handle';

  const byId = (id) => document.getElementById(id);
  const ui = {
    form: byId('post-form'),
    message: byId('message'),
    counter: byId('message-counter'),
    counterValue: byId('counter-value'),
    handle: byId('user-handle'),
    handleField: byId('handle-field'),
    ttl: byId('ttl'),
    tokenField: byId('token-field'),
    token: byId('token'),
    postButton: byId('post-button'),
    formError: byId('form-error'),
    formStatus: byId('form-status'),
    feed: byId('feed'),
    feedCount: byId('feed-count'),
    feedError: byId('feed-error'),
    feedEmpty: byId('feed-empty'),
    feedEnd: byId('feed-end'),
    loadMore: byId('load-more'),
    sentinel: byId('feed-sentinel'),
    template: byId('activity-template'),
  };

  const state = {
    /** uuid → { node, createdAt, expiresAt } for every activity on the page. */
    items: new Map(),
    /** The next page's URL from the last `Link: <…>; rel="next"`, or null at the end. */
    next: FEED_URL,
    loading: false,
    /** After a failed page load, wait for the button rather than retrying on every scroll. */
    failed: false,
    posting: false,
    /** The Idempotency-Key of a post whose answer never arrived, kept to retry that same post safely. */
    pending: null,
    /** The server wants Cognito tokens: it answered a post with 401. */
    signedInMode: false,
    /** Server time minus this browser's time, when they differ by more than a few seconds. */
    clockOffset: 0,
  };

  const now = () => Date.now() + state.clockOffset;

  /** Unicode code points, as Python's `len` and the server count (not UTF-16 units like `.length`). */
  const codePoints = (text) => [...text].length;

  /** ISO-8601 with any number of fraction digits → milliseconds since the epoch, or NaN. */
  function parseTime(text) {
    if (typeof text !== 'string') return NaN;
    const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(text);
    if (!match) return NaN;
    const fraction = match[2] ? match[2].slice(0, 4).padEnd(4, '0') : '.000';
    return Date.parse(match[1] + fraction + match[3]);
  }

  /** The `rel="next"` target of a `Link` header, resolved, and only when it stays on this origin. */
  function nextLink(header) {
    if (!header) return null;
    for (const part of header.split(',')) {
      const match = /^\s*<([^>]*)>(.*)$/.exec(part);
      if (!match) continue;
      const isNext = match[2].split(';').some((parameter) => {
        const [name, value = ''] = parameter.split('=');
        return name.trim().toLowerCase() === 'rel' &&
          value.trim().replace(/^"|"$/g, '').toLowerCase().split(/\s+/).includes('next');
      });
      if (!isNext) continue;
      try {
        const url = new URL(match[1], window.location.href);
        return url.origin === window.location.origin ? url.pathname + url.search : null;
      } catch {
        return null;
      }
    }
    return null;
  }

  /** Learns the server's clock from its `Date` header so expiry matches the server's idea of now. */
  function noteServerClock(response) {
    const serverTime = Date.parse(response.headers.get('Date') || '');
    if (Number.isNaN(serverTime)) return;
    const offset = serverTime - Date.now();
    state.clockOffset = Math.abs(offset) > 5000 ? offset : 0;
  }

  const plural = (count, one, many) => `${count} ${count === 1 ? one : many}`;

  /** "45s", "12m", "3h", "2d": how long ago something happened. */
  function ago(milliseconds) {
    const seconds = Math.floor(Math.max(0, milliseconds) / 1000);
    if (seconds < 10) return 'just now';
    if (seconds < 60) return `${seconds}s ago`;
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return `${minutes}m ago`;
    const hours = Math.floor(minutes / 60);
    if (hours < 24) return `${hours}h ago`;
    return `${Math.floor(hours / 24)}d ago`;
  }

  /** "6d 23h", "3h 12m", "12m 5s", "45s": how long until something happens. */
  function remaining(milliseconds) {
    const seconds = Math.max(0, Math.ceil(milliseconds / 1000));
    const days = Math.floor(seconds / 86400);
    const hours = Math.floor((seconds % 86400) / 3600);
    const minutes = Math.floor((seconds % 3600) / 60);
    if (days > 0) return `${days}d ${hours}h`;
    if (hours > 0) return `${hours}h ${minutes}m`;
    if (minutes > 0) return `${minutes}m ${seconds % 60}s`;
    return `${seconds}s`;
  }

  const count = (value) => (Number.isSafeInteger(value) && value >= 0 ? value : 0);

  /** Builds the list item of one activity; every piece of it is set as text. */
  function renderActivity(activity, createdAt, expiresAt) {
    const node = ui.template.content.firstElementChild.cloneNode(true);
    const part = (selector) => node.querySelector(selector);
    node.dataset.uuid = activity.uuid;
    node.dataset.created = activity.created_at;
    node.dataset.expires = activity.expires_at;
    part('.display-name').textContent = activity.display_name;
    part('.handle').textContent = `@${activity.handle}`;
    part('.message').textContent = activity.message;
    const posted = part('.posted');
    posted.dateTime = activity.created_at;
    posted.title = new Date(createdAt).toLocaleString();
    part('.replies').textContent = plural(count(activity.replies_count), 'reply', 'replies');
    part('.reposts').textContent = plural(count(activity.reposts_count), 'repost', 'reposts');
    part('.likes').textContent = plural(count(activity.likes_count), 'like', 'likes');
    part('.expires').title = `Expires ${new Date(expiresAt).toLocaleString()}`;
    const item = { node, createdAt, expiresAt, posted, expires: part('.expires') };
    refreshTimes(item, now());
    return item;
  }

  function refreshTimes(item, at) {
    const posted = ago(at - item.createdAt);
    if (item.posted.textContent !== posted) item.posted.textContent = posted;
    const left = item.expiresAt - at;
    const expires = `expires in ${remaining(left)}`;
    if (item.expires.textContent !== expires) item.expires.textContent = expires;
    item.expires.classList.toggle('soon', left < 3600 * 1000);
  }

  /** Adds an activity from the API at the top or the bottom; ignores malformed, duplicate and expired ones. */
  function addActivity(activity, where) {
    if (!activity || typeof activity !== 'object') return null;
    const texts = ['uuid', 'display_name', 'handle', 'message', 'created_at', 'expires_at'];
    if (!texts.every((key) => typeof activity[key] === 'string')) return null;
    if (state.items.has(activity.uuid)) return null;
    const createdAt = parseTime(activity.created_at);
    const expiresAt = parseTime(activity.expires_at);
    if (Number.isNaN(createdAt) || Number.isNaN(expiresAt) || expiresAt <= now()) return null;
    const item = renderActivity(activity, createdAt, expiresAt);
    state.items.set(activity.uuid, item);
    if (where === 'top') {
      ui.feed.prepend(item.node);
    } else {
      ui.feed.append(item.node);
    }
    return item;
  }

  /** Every second: drop what has expired, and keep the relative times current. */
  function tick() {
    const at = now();
    let removed = false;
    for (const [uuid, item] of state.items) {
      if (item.expiresAt <= at) {
        item.node.remove();
        state.items.delete(uuid);
        removed = true;
      } else {
        refreshTimes(item, at);
      }
    }
    if (removed) updateFeedFooter();
  }

  function updateFeedFooter() {
    const shown = state.items.size;
    const more = state.next !== null;
    ui.feedCount.textContent = more
      ? `${plural(shown, 'activity', 'activities')} shown, more below`
      : plural(shown, 'activity', 'activities');
    ui.loadMore.hidden = !more;
    // Busy rather than disabled: a disabled button would drop keyboard focus to the top of the page.
    ui.loadMore.setAttribute('aria-disabled', String(state.loading));
    ui.loadMore.textContent = state.loading ? 'Loading…' : state.failed ? 'Try again' : 'Load more';
    ui.feedEnd.hidden = more || shown === 0;
    ui.feedEmpty.hidden = more || shown > 0;
    ui.feed.setAttribute('aria-busy', String(state.loading));
  }

  /** A readable sentence for a failed response: the API's JSON `message` when it sent one. */
  async function describeFailure(response) {
    try {
      const body = await response.json();
      if (body && typeof body.message === 'string') return body.message;
    } catch {
      // Not JSON: fall through to the status line.
    }
    return `The server answered ${response.status} ${response.statusText}`.trim() + '.';
  }

  /** Fetches the next page of the feed, following the API's `Link rel="next"`. */
  async function loadMore() {
    if (state.loading || state.next === null) return;
    const hadFocus = document.activeElement === ui.loadMore;
    state.loading = true;
    updateFeedFooter();
    try {
      const response = await fetch(state.next, { headers: { Accept: 'application/json' }, cache: 'no-store' });
      if (!response.ok) throw new Error(await describeFailure(response));
      noteServerClock(response);
      const page = await response.json();
      if (!Array.isArray(page)) throw new Error('The server sent something that is not a feed.');
      for (const activity of page) addActivity(activity, 'bottom');
      state.next = nextLink(response.headers.get('Link'));
      state.failed = false;
      ui.feedError.hidden = true;
    } catch (error) {
      state.failed = true;
      ui.feedError.textContent = error instanceof TypeError
        ? 'Could not reach the server to load the feed. Check that it is running, then try again.'
        : `Could not load the feed: ${error.message}`;
      ui.feedError.hidden = false;
    } finally {
      state.loading = false;
      updateFeedFooter();
    }
    if (hadFocus && ui.loadMore.hidden) {
      ui.feedEnd.tabIndex = -1;
      ui.feedEnd.focus();
    }
    if (!state.failed && state.next !== null && sentinelInView()) loadMore();
  }

  function sentinelInView() {
    const box = ui.sentinel.getBoundingClientRect();
    return box.top < window.innerHeight + 200;
  }

  function updateCounter() {
    const used = codePoints(ui.message.value);
    ui.counterValue.textContent = String(used);
    ui.counter.classList.toggle('over', used > MAX_CODE_POINTS);
    ui.counter.title = used > MAX_CODE_POINTS ? `${used - MAX_CODE_POINTS} over the limit` : '';
  }

  const fieldErrors = ['message', 'user-handle', 'ttl', 'token'];

  function clearErrors() {
    for (const id of fieldErrors) {
      byId(`${id}-error`).hidden = true;
      byId(`${id}-error`).textContent = '';
      byId(id).removeAttribute('aria-invalid');
    }
    ui.formError.hidden = true;
    ui.formError.textContent = '';
  }

  function showFieldError(id, text) {
    const error = byId(`${id}-error`);
    error.textContent = error.textContent ? `${error.textContent} ${text}` : text;
    error.hidden = false;
    byId(id).setAttribute('aria-invalid', 'true');
  }

  function showFormError(text) {
    ui.formError.textContent = text;
    ui.formError.hidden = false;
  }

  /** Shows each 422 code next to its field and focuses the first field that needs fixing. */
  function showValidationErrors(codes) {
    const fields = [];
    for (const code of codes) {
      const known = VALIDATION_MESSAGES[code];
      if (known) {
        showFieldError(known[0], known[1]);
        fields.push(known[0]);
      } else {
        showFormError(`The server refused the post (${String(code)}).`);
      }
    }
    const first = ['message', 'user-handle', 'ttl'].find((id) => fields.includes(id));
    if (first) byId(first).focus();
  }

  /** A 401: the server wants a signed-in user; ask for (another) bearer token. The token names the author. */
  function askForToken(sentToken) {
    state.signedInMode = true;
    ui.tokenField.hidden = false;
    ui.handleField.hidden = true;
    showFieldError('token', sentToken
      ? 'The server did not accept this token (it may have expired). Paste a new one.'
      : 'Posting needs you to be signed in: paste your access token.');
    ui.token.focus();
  }

  async function submitPost(event) {
    event.preventDefault();
    if (state.posting) return;
    clearErrors();
    ui.formStatus.textContent = '';
    const token = ui.token.value.trim();
    if (token && !/^[\x21-\x7e]+$/.test(token)) {
      ui.tokenField.hidden = false;
      showFieldError('token', 'A token is one line of plain characters with no spaces.');
      ui.token.focus();
      return;
    }
    const fields = { message: ui.message.value, ttl: ui.ttl.value };
    if (!state.signedInMode) fields.user_handle = ui.handle.value.trim();
    const body = JSON.stringify(fields);
    // A retry of a post whose answer was lost reuses its key, so the server creates it at most once.
    const attempt = `${token}\n${body}`;
    if (!state.pending || state.pending.attempt !== attempt) state.pending = { attempt, key: newIdempotencyKey() };
    const headers = {
      'Content-Type': 'application/json',
      Accept: 'application/json',
      'Idempotency-Key': state.pending.key,
    };
    if (token) headers.Authorization = `Bearer ${token}`;

    state.posting = true;
    ui.postButton.setAttribute('aria-disabled', 'true');
    ui.formStatus.textContent = 'Posting…';
    try {
      const response = await fetch(POST_URL, { method: 'POST', headers, body, cache: 'no-store' });
      ui.formStatus.textContent = '';
      // A server error may have come after the post was stored: a retry keeps the key.
      if (response.status < 500) state.pending = null;
      if (response.ok) {
        noteServerClock(response);
        const created = await response.json();
        const item = addActivity({ replies_count: 0, reposts_count: 0, likes_count: 0, ...created }, 'top');
        if (item) item.node.classList.add('fresh');
        updateFeedFooter();
        if (!state.signedInMode) rememberHandle();
        ui.message.value = '';
        updateCounter();
        ui.formStatus.textContent = 'Posted.';
        ui.message.focus();
      } else if (response.status === 422) {
        const codes = await response.json().catch(() => null);
        if (Array.isArray(codes)) {
          showValidationErrors(codes);
        } else {
          showFormError('The server refused the post.');
        }
      } else if (response.status === 401) {
        askForToken(Boolean(token));
      } else {
        showFormError(await describeFailure(response));
      }
    } catch {
      ui.formStatus.textContent = '';
      showFormError('Could not reach the server. Check that it is running, then try again.');
    } finally {
      state.posting = false;
      ui.postButton.setAttribute('aria-disabled', 'false');
    }
  }

  /** 128 random bits as hex (crypto.randomUUID needs a secure context; this works on any origin). */
  function newIdempotencyKey() {
    const bytes = window.crypto.getRandomValues(new Uint8Array(16));
    return `web-${Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')}`;
  }

  function rememberHandle() {
    try {
      window.localStorage.setItem(HANDLE_KEY, ui.handle.value.trim());
    } catch {
      // Storage may be off; the handle is only a convenience.
    }
  }

  function restoreHandle() {
    try {
      const saved = window.localStorage.getItem(HANDLE_KEY);
      if (saved && !ui.handle.value) ui.handle.value = saved;
    } catch {
      // Storage may be off.
    }
  }

  function start() {
    restoreHandle();
    updateCounter();
    ui.message.addEventListener('input', updateCounter);
    ui.form.addEventListener('submit', submitPost);
    ui.message.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        ui.form.requestSubmit();
      }
    });
    ui.loadMore.addEventListener('click', () => {
      state.failed = false;
      loadMore();
    });
    if ('IntersectionObserver' in window) {
      new IntersectionObserver((entries) => {
        if (entries.some((entry) => entry.isIntersecting) && !state.failed) loadMore();
      }, { rootMargin: '200px' }).observe(ui.sentinel);
    }
    window.setInterval(tick, 1000);
    updateFeedFooter();
    loadMore();
  }

  start();
})();
