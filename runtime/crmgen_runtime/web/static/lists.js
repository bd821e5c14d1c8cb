// The list page: a "select all" box for the bulk delete (the page works without it).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var all = document.querySelector("[data-select-all]");
  if (!all) {
    return;
  }
  var form = all.getAttribute("data-select-all");
  var boxes = document.querySelectorAll('input[type=checkbox][form="' + form + '"]');
  all.closest("label").hidden = false;
  all.addEventListener("change", function () {
    boxes.forEach(function (box) {
      box.checked = all.checked;
    });
  });
  boxes.forEach(function (box) {
    box.addEventListener("change", function () {
      var checked = Array.prototype.filter.call(boxes, function (b) { return b.checked; });
      all.checked = checked.length === boxes.length;
      all.indeterminate = checked.length > 0 && checked.length < boxes.length;
    });
  });
});
