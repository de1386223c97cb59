/* volunteerd /console: small enhancements; every page works without this file.
 *  - the QR poster of a rotating code (#poster[data-refresh]) refetches itself every N seconds
 *    and swaps in the new QR code and 6-digit code (the token rotates on the server); without
 *    this file the page reloads itself (<noscript><meta http-equiv="refresh">);
 *  - "select all" for the pending approvals;
 *  - the poster's print button. */
(function () {
  'use strict';
  function poster() {
    var el = document.getElementById('poster');
    if (!el || !window.fetch) return;
    var secs = parseInt(el.getAttribute('data-refresh'), 10) || 30;
    setInterval(function () {
      fetch(location.href, {credentials: 'same-origin', cache: 'no-store'}).then(function (res) {
        if (!res.ok) throw new Error(res.status);
        return res.text();
      }).then(function (text) {
        var doc = new DOMParser().parseFromString(text, 'text/html');
        var fresh = doc.getElementById('poster');
        var cur = document.getElementById('poster');
        if (fresh && cur) cur.replaceWith(document.adoptNode(fresh));
      }).catch(function () { /* offline: keep the code shown; the next round tries again */ });
    }, secs * 1000);
  }
  function selectAll() {
    var all = document.getElementById('select-all');
    if (!all) return;
    all.closest('.field').hidden = false;
    all.addEventListener('change', function () {
      var boxes = document.querySelectorAll('input[name="id"]');
      for (var i = 0; i < boxes.length; i++) boxes[i].checked = all.checked;
    });
  }
  function printButton() {
    var b = document.getElementById('print');
    if (!b) return;
    b.hidden = false;
    b.addEventListener('click', function () { window.print(); });
  }
  document.addEventListener('DOMContentLoaded', function () { poster(); selectAll(); printButton(); });
})();
