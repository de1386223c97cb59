/* volunteerd pages: the offline queue.  The pages work without this file; with it, a
 * check-in or check-out form marked data-queue is sent with fetch, and when the network is
 * down the exact request (URL and form body, with its one-time token) is kept in
 * localStorage and sent again when the connection returns.  The token is the request's
 * Idempotency-Key on the server, so a replay, a double tap or a request that did arrive
 * before the connection dropped is recorded once.  client_at (the time of the tap) travels
 * in the body; the server keeps it when it lies between the page's issue and the arrival,
 * and re-checks every rule at that time. */
(function () {
  'use strict';
  var KEY = 'vd-queue';

  function load() {
    try { return JSON.parse(localStorage.getItem(KEY) || '[]'); } catch (e) { return []; }
  }
  function save(q) {
    try { localStorage.setItem(KEY, JSON.stringify(q)); } catch (e) { /* private mode */ }
  }
  function status(kind) {
    var el = document.getElementById('queue-status');
    if (!el) return;
    el.textContent = el.getAttribute('data-' + kind) || '';
    el.hidden = false;
  }
  function swap(html, url) {
    var doc = new DOMParser().parseFromString(html, 'text/html');
    document.title = doc.title;
    document.body.replaceWith(document.adoptNode(doc.body));
    if (url) history.replaceState(null, '', url);
    bind();
  }
  function send(item) {
    return fetch(item.url, {
      method: 'POST', body: item.body, credentials: 'same-origin',
      headers: {'Content-Type': 'application/x-www-form-urlencoded'}
    }).then(function (res) {
      return res.text().then(function (text) { return {res: res, text: text}; });
    });
  }
  var flushing = false;
  function flush() {
    var q = load();
    if (flushing || !q.length || navigator.onLine === false) return;
    flushing = true;
    var item = q[0];
    send(item).then(function (out) {
      save(load().filter(function (x) { return x.id !== item.id; }));
      flushing = false;
      swap(out.text, out.res.url);
      status('sent');
      flush();
    }, function () { flushing = false; });
  }
  // A second tap while the first is on its way (a slow network) may send the form again
  // (chromium did, for one double click in about nine): a password change's second request
  // then met the new password and was refused.  Within 10 s a form is sent once; after that
  // a retry goes through.  (A queued form has its own guard: its buttons are disabled.)
  function once(ev, form) {
    if (form.getAttribute('data-sent')) { ev.preventDefault(); return; }
    form.setAttribute('data-sent', '1');
    setTimeout(function () { form.removeAttribute('data-sent'); }, 10000);
  }
  function onSubmit(ev) {
    var form = ev.target;
    if (!form.hasAttribute('data-queue') || !window.fetch || !window.URLSearchParams) {
      once(ev, form);
      return;
    }
    ev.preventDefault();
    var data = new FormData(form);
    if (ev.submitter && ev.submitter.name) data.append(ev.submitter.name, ev.submitter.value);
    data.set('client_at', new Date().toISOString());
    var item = {id: data.get('_t') || String(Date.now()),
                url: new URL(form.getAttribute('action') || '', location.href).href,
                body: new URLSearchParams(data).toString()};
    var buttons = form.querySelectorAll('button');
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;
    var queueIt = function () {
      var q = load().filter(function (x) { return x.id !== item.id; });
      q.push(item);
      save(q);
      status('queued');
    };
    if (navigator.onLine === false) { queueIt(); return; }
    send(item).then(function (out) { swap(out.text, out.res.url); }, queueIt);
  }
  function bind() {
    document.removeEventListener('submit', onSubmit);
    document.addEventListener('submit', onSubmit);
    if (load().length) status('queued');
  }
  window.addEventListener('online', flush);
  setInterval(flush, 5000);
  document.addEventListener('DOMContentLoaded', function () { bind(); flush(); });
})();
