// crmgen UI: the light/dark theme. Loaded without defer in <head>, so the theme chosen in this
// browser (localStorage) is on <html data-theme> before the first paint; no choice = the system's.
"use strict";
(function () {
  var KEY = "crmgen-theme";
  var root = document.documentElement;
  function stored() {
    try {
      var value = window.localStorage.getItem(KEY);
      return value === "light" || value === "dark" ? value : null;
    } catch (error) {
      return null; // storage blocked: follow the system
    }
  }
  function current() {
    var chosen = root.getAttribute("data-theme");
    if (chosen === "light" || chosen === "dark") {
      return chosen;
    }
    var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
    return dark ? "dark" : "light";
  }
  var saved = stored();
  if (saved) {
    root.setAttribute("data-theme", saved);
  }
  document.addEventListener("DOMContentLoaded", function () {
    var buttons = document.querySelectorAll("[data-theme-switch]");
    function show() {
      var dark = current() === "dark";
      for (var i = 0; i < buttons.length; i++) {
        buttons[i].setAttribute("aria-pressed", dark ? "true" : "false");
      }
    }
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].hidden = false; // without script the switch cannot work: it stays hidden
      buttons[i].addEventListener("click", function () {
        var next = current() === "dark" ? "light" : "dark";
        root.setAttribute("data-theme", next);
        try {
          window.localStorage.setItem(KEY, next);
        } catch (error) {
          // storage blocked: the choice lasts for this page only
        }
        show();
      });
    }
    show();
  });
})();
