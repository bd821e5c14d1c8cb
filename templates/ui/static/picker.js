// Searchable pickers: each <select data-picker="/api/<target>"> becomes a type-to-search box.
// The select stays in the form (hidden) and keeps the chosen id, so without this script the
// page still works with the plain select. Searching asks the JSON API with the session
// cookie (a GET: no CSRF header needed); a target without search fields is filtered here.
"use strict";
(function () {
  var DELAY = 200;
  var LIMIT = 20;

  function optionsOf(select) {
    var result = [];
    for (var i = 0; i < select.options.length; i++) {
      var option = select.options[i];
      if (option.value) {
        result.push({ id: option.value, label: option.text });
      }
    }
    return result;
  }

  function localMatches(select, text) {
    var words = text.toLowerCase().split(/\s+/).filter(Boolean);
    return optionsOf(select).filter(function (item) {
      var label = item.label.toLowerCase();
      return words.every(function (word) { return label.indexOf(word) >= 0; });
    }).slice(0, LIMIT);
  }

  function remoteMatches(select, text) {
    var url = select.getAttribute("data-picker") + "?limit=" + LIMIT +
      (text ? "&q=" + encodeURIComponent(text) : "");
    var display = select.getAttribute("data-display");
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (page) {
        return page.items.map(function (item) {
          var shown = item[display];
          return { id: String(item.id), label: shown ? String(shown) : "#" + item.id };
        });
      });
  }

  function enhance(select) {
    var listId = select.id + "_options";
    var box = document.createElement("div");
    box.className = "picker";
    var input = document.createElement("input");
    input.type = "text";
    input.id = select.id + "_search";
    input.className = "picker-input";
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", listId);
    input.setAttribute("autocomplete", "off");
    input.placeholder = select.getAttribute("data-placeholder") || "";
    ["aria-invalid", "aria-describedby"].forEach(function (name) {
      if (select.hasAttribute(name)) { input.setAttribute(name, select.getAttribute(name)); }
    });
    var list = document.createElement("ul");
    list.id = listId;
    list.className = "picker-list";
    list.setAttribute("role", "listbox");
    list.hidden = true;
    box.appendChild(input);
    box.appendChild(list);
    select.parentNode.insertBefore(box, select);
    select.classList.add("picker-native");
    select.tabIndex = -1;
    select.setAttribute("aria-hidden", "true");
    // The field's label now names the search box.
    var label = document.querySelector('label[for="' + select.id + '"]');
    if (label) { label.htmlFor = input.id; }

    var items = [];
    var active = -1;
    var timer = null;
    var asked = 0;
    var remote = select.getAttribute("data-search") === "1" &&
      select.getAttribute("data-complete") !== "1";

    function chosenLabel() {
      var option = select.options[select.selectedIndex];
      return option && option.value ? option.text : "";
    }
    input.value = chosenLabel();

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      var nodes = list.querySelectorAll("[role=option]");
      for (var i = 0; i < nodes.length; i++) {
        nodes[i].setAttribute("aria-selected", i === index ? "true" : "false");
      }
      active = index;
      if (index >= 0 && nodes[index]) {
        input.setAttribute("aria-activedescendant", nodes[index].id);
        nodes[index].scrollIntoView({ block: "nearest" });
      }
    }

    function show(found) {
      items = found;
      list.textContent = "";
      if (!found.length) {
        var empty = document.createElement("li");
        empty.className = "picker-empty";
        empty.textContent = select.getAttribute("data-empty") || "";
        list.appendChild(empty);
      }
      found.forEach(function (item, index) {
        var node = document.createElement("li");
        node.id = listId + "_" + index;
        node.setAttribute("role", "option");
        node.setAttribute("data-id", item.id);
        node.textContent = item.label;
        node.addEventListener("mousedown", function (event) {
          event.preventDefault(); // keep the focus in the box
          choose(item);
        });
        list.appendChild(node);
      });
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      highlight(found.length ? 0 : -1);
    }

    function choose(item) {
      var option = null;
      for (var i = 0; i < select.options.length; i++) {
        if (select.options[i].value === item.id) { option = select.options[i]; }
      }
      if (!option) {
        option = new Option(item.label, item.id);
        select.appendChild(option);
      }
      select.value = item.id;
      input.value = item.label;
      select.dispatchEvent(new Event("change", { bubbles: true }));
      close();
    }

    function search() {
      var text = input.value.trim();
      if (!remote) {
        show(localMatches(select, text));
        return;
      }
      var ticket = ++asked;
      remoteMatches(select, text).then(function (found) {
        if (ticket === asked) { show(found); }
      }, function () {
        if (ticket === asked) { show(localMatches(select, text)); }
      });
    }

    input.addEventListener("input", function () {
      if (!input.value.trim()) { select.value = ""; }
      clearTimeout(timer);
      timer = setTimeout(search, remote ? DELAY : 0);
    });
    input.addEventListener("focus", function () { if (!input.value) { search(); } });
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (list.hidden) { search(); return; }
        var step = event.key === "ArrowDown" ? 1 : -1;
        highlight(Math.max(0, Math.min(items.length - 1, active + step)));
      } else if (event.key === "Enter" && !list.hidden) {
        event.preventDefault(); // choosing, not submitting
        if (active >= 0 && items[active]) { choose(items[active]); }
      } else if (event.key === "Escape") {
        close();
        input.value = chosenLabel();
      }
    });
    input.addEventListener("blur", function () {
      close();
      input.value = chosenLabel(); // what is typed but not chosen is not the value
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var selects = document.querySelectorAll("select[data-picker]");
    for (var i = 0; i < selects.length; i++) { enhance(selects[i]); }
  });
})();
