// The list page: a "select all" box for the bulk delete, and bulk actions ("Delete selected")
// shown only while a row is selected, with the count (the page works without it: then the
// actions are always there).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var all = document.querySelector("[data-select-all]");
  if (!all) {
    return;
  }
  var form = all.getAttribute("data-select-all");
  var boxes = document.querySelectorAll('input[type=checkbox][form="' + form + '"]');
  all.closest("label").hidden = false;
  var actions = document.querySelectorAll('#' + form + ' [data-bulk-action]');
  var count = document.querySelector('#' + form + ' [data-bulk-count]');
  function selected() {
    return Array.prototype.filter.call(boxes, function (b) { return b.checked; }).length;
  }
  function update() {
    var n = selected();
    actions.forEach(function (action) {
      action.hidden = n === 0;
    });
    if (count) {
      count.hidden = n === 0;
      count.textContent = n === 0 ? "" : count.getAttribute("data-bulk-count").replace("{n}", String(n));
    }
    all.checked = n > 0 && n === boxes.length;
    all.indeterminate = n > 0 && n < boxes.length;
  }
  all.addEventListener("change", function () {
    boxes.forEach(function (box) {
      box.checked = all.checked;
    });
    update();
  });
  boxes.forEach(function (box) {
    box.addEventListener("change", update);
  });
  window.addEventListener("pageshow", update); // boxes the browser restored on "back"
  update();
});
