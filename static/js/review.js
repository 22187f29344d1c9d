// The review console's keyboard: 1-5 rate the highlighted criterion, arrows move between criteria, Y/N thumbs,
// A/B/T/X preferences, E edits the correction, Enter submits, U undoes the last answer, Esc leaves a text box.
// The form works without this file (a plain POST); with it, htmx swaps in the next item without a page load.
(function () {
  "use strict";
  var shownAt = Date.now();
  var focusIndex = 0;

  function root() { return document.getElementById("review-item"); }
  function form() { return document.getElementById("answer-form"); }
  function criteria() { var f = form(); return f ? Array.prototype.slice.call(f.querySelectorAll(".criterion")) : []; }

  function highlight(index) {
    var rows = criteria();
    if (!rows.length) { return; }
    focusIndex = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach(function (row, i) {
      row.classList.toggle("is-focused", i === focusIndex);
      row.setAttribute("aria-current", i === focusIndex ? "true" : "false");
    });
  }

  function firstUnrated() {
    var rows = criteria();
    for (var i = 0; i < rows.length; i++) {
      if (!rows[i].querySelector("input:checked")) { return i; }
    }
    return 0;
  }

  // htmx calls init on afterSwap and again on afterSettle: a reviewer who already typed ratings in between would see
  // the highlight jump back to the first criterion. Each swapped-in form is set up once.
  var initialized = null;

  function init() {
    var f = form();
    if (f && f === initialized) { return; }
    initialized = f;
    shownAt = Date.now();
    highlight(firstUnrated());
    var start = document.getElementById("start");
    if (start && !form()) { start.focus(); }
  }

  function check(selector) {
    var f = form();
    var input = f && f.querySelector(selector);
    if (input) { input.checked = true; input.dispatchEvent(new Event("change", { bubbles: true })); }
    return !!input;
  }

  function click(id) {
    var el = document.getElementById(id);
    if (el) { el.click(); }
    return !!el;
  }

  function isTextBox(el) {
    if (!el) { return false; }
    if (el.tagName === "TEXTAREA" || el.tagName === "SELECT") { return true; }
    return el.tagName === "INPUT" && ["radio", "checkbox", "hidden", "submit", "button"].indexOf(el.type) < 0;
  }

  function submit() {
    var f = form();
    if (!f) { return click("start"); }
    if (f.requestSubmit) { f.requestSubmit(); } else { f.submit(); }
    return true;
  }

  var PREFERENCES = { a: "a", b: "b", t: "tie", x: "both_bad" };

  document.addEventListener("keydown", function (event) {
    if (!root() || event.ctrlKey && event.key !== "Enter" || event.altKey || event.metaKey) { return; }
    var target = event.target;
    if (isTextBox(target)) {
      if (event.key === "Escape") { target.blur(); event.preventDefault(); }
      else if (event.key === "Enter" && (event.ctrlKey || target.tagName !== "TEXTAREA")) { event.preventDefault(); submit(); }
      return;
    }
    if (criteria().length && !form().querySelector(".is-focused")) { init(); }  // a freshly swapped-in item
    var key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    var handled = true;
    if (key >= "1" && key <= "5") {
      var rows = criteria();
      if (rows.length) {
        var input = rows[focusIndex].querySelector('input[value="' + key + '"]');
        if (input) { input.checked = true; }
        highlight(focusIndex + 1 < rows.length ? focusIndex + 1 : focusIndex);
      } else { handled = false; }
    } else if (key === "ArrowDown" || key === "ArrowRight") { highlight(focusIndex + 1); }
    else if (key === "ArrowUp" || key === "ArrowLeft") { highlight(focusIndex - 1); }
    else if (key === "y") { handled = check('input[name="thumb"][value="up"]'); }
    else if (key === "n") { handled = check('input[name="thumb"][value="down"]'); }
    else if (PREFERENCES[key]) { handled = check('input[name="preference"][value="' + PREFERENCES[key] + '"]'); }
    else if (key === "e") {
      var details = document.getElementById("correction");
      if (details) { details.open = true; var box = details.querySelector("input, textarea"); if (box) { box.focus(); } }
      else { handled = false; }
    }
    else if (key === "u") { handled = click("undo"); }
    else if (key === "Enter") { handled = submit(); }
    else { handled = false; }
    if (handled) { event.preventDefault(); }
  });

  // Seconds spent on the item go with the answer.
  document.addEventListener("submit", function (event) {
    if (event.target.id !== "answer-form") { return; }
    var seconds = event.target.querySelector('input[name="seconds"]');
    if (seconds) { seconds.value = ((Date.now() - shownAt) / 1000).toFixed(1); }
  }, true);

  // A rejected answer (400) comes back with the errors beside the fields; static/js/htmx-errors.js (every page)
  // swaps it in.
  document.addEventListener("htmx:afterSwap", init);
  document.addEventListener("htmx:afterSettle", init);
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
