/* volunteerd /admin: draws the two charts with uPlot (embedded, served by volunteerd) from
 * the report's own tables, which stay on the page as the accessible, JavaScript-free form of
 * the same figures: table#units (one row per unit or team, data-hours) and table#trend (one
 * row per month, data-hours). */
(function () {
  'use strict';
  function rows(id) {
    var t = document.getElementById(id);
    if (!t) return null;
    var out = {labels: [], values: []};
    var trs = t.querySelectorAll('tbody tr[data-hours]');
    for (var i = 0; i < trs.length; i++) {
      out.labels.push(trs[i].getAttribute('data-label') || '');
      out.values.push(parseFloat(trs[i].getAttribute('data-hours')) || 0);
    }
    return out;
  }
  function bars(target, data, color) {
    var el = document.getElementById(target);
    if (!el || !data || !data.values.length || !window.uPlot) return;
    var xs = data.values.map(function (_, i) { return i; });
    var width = Math.max(280, el.clientWidth - 16);
    var opts = {
      width: width, height: 220, legend: {show: false}, cursor: {show: false},
      scales: {x: {time: false, range: [-0.5, xs.length - 0.5]}, y: {range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; }}},
      axes: [
        {values: function (u, vals) { return vals.map(function (v) { return Number.isInteger(v) && data.labels[v] !== undefined ? data.labels[v].slice(0, 8) : ''; }); }, incrs: [1], size: 40},
        {size: 50}
      ],
      series: [{}, {label: el.getAttribute('aria-label') || '', fill: color, stroke: color,
        paths: uPlot.paths.bars({size: [0.6, 60]}), points: {show: false}}]
    };
    el.textContent = '';
    new uPlot(opts, [xs, data.values], el);
  }
  document.addEventListener('DOMContentLoaded', function () {
    bars('chart-units', rows('units'), '#b71c1c');
    bars('chart-trend', rows('trend'), '#0b57d0');
  });
})();
