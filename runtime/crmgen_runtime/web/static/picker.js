// Searchable pickers: each <select data-picker="/api/<target>"> becomes a type-to-search box.
// The select stays in the form (hidden) and keeps the chosen ids, so without this script the
// page still works with the plain select. Searching asks the JSON API with the session
// cookie (a GET: no CSRF header needed); a target without search fields is filtered here.
// A <select multiple> (a list of references) shows its chosen records as chips with a remove
// button each; the search box adds records, Backspace in the empty box removes the last one.
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

  function optionOf(select, id) {
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value === id) { return select.options[i]; }
    }
    return null;
  }

  function localMatches(select, text) {
    var words = text.toLowerCase().split(/\s+/).filter(Boolean);
    return optionsOf(select).filter(function (item) {
      var label = item.label.toLowerCase();
      return words.every(function (word) { return label.indexOf(word) >= 0; });
    });
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
    var multiple = select.multiple;
    var listId = select.id + "_options";
    var box = document.createElement("div");
    box.className = multiple ? "picker picker-multi" : "picker";
    var chips = document.createElement("ul");
    chips.className = "picker-chips";
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
    if (multiple) { box.appendChild(chips); }
    box.appendChild(input);
    box.appendChild(list);
    select.parentNode.insertBefore(box, select);
    select.classList.add("picker-native");
    select.tabIndex = -1;
    select.setAttribute("aria-hidden", "true");
    // The field's label now names the search box; the plain select's hint no longer applies.
    var label = document.querySelector('label[for="' + select.id + '"]');
    if (label) { label.htmlFor = input.id; }
    var hint = document.getElementById(select.id + "_hint");
    if (hint) { hint.hidden = true; }

    var items = [];
    var active = -1;
    var timer = null;
    var asked = 0;
    var remote = select.getAttribute("data-search") === "1" &&
      select.getAttribute("data-complete") !== "1";

    function chosenLabel() {
      if (multiple) { return ""; } // the chips show what is chosen; the box is for searching
      var option = select.options[select.selectedIndex];
      return option && option.value ? option.text : "";
    }
    input.value = chosenLabel();

    function changed() {
      select.dispatchEvent(new Event("change", { bubbles: true }));
    }

    var lastRemove = null; // the last chip's remove button: Backspace in the empty box
    function unchoose(option) {
      option.selected = false;
      drawChips();
      changed();
      input.focus();
    }

    // One chip per chosen record: its name and a button that removes it.
    function drawChips() {
      chips.textContent = "";
      lastRemove = null;
      var chosen = Array.prototype.filter.call(select.options, function (option) {
        return option.selected && option.value;
      });
      chosen.forEach(function (option) {
        var chip = document.createElement("li");
        chip.className = "picker-chip";
        var name = document.createElement("span");
        name.textContent = option.text;
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "picker-remove";
        remove.textContent = "×";
        remove.setAttribute("aria-label",
          (select.getAttribute("data-remove") || "{item}").replace("{item}", option.text));
        remove.addEventListener("click", function () { unchoose(option); });
        remove.addEventListener("keydown", function (event) {
          if (event.key === "Backspace" || event.key === "Delete") {
            event.preventDefault();
            unchoose(option);
          }
        });
        chip.appendChild(name);
        chip.appendChild(remove);
        chips.appendChild(chip);
        lastRemove = remove;
      });
      chips.hidden = !chosen.length;
    }
    if (multiple) { drawChips(); }

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
      if (multiple) { // what is chosen already is not offered again
        found = found.filter(function (item) {
          var option = optionOf(select, item.id);
          return !(option && option.selected);
        });
      }
      items = found.slice(0, LIMIT);
      list.textContent = "";
      if (!items.length) {
        var empty = document.createElement("li");
        empty.className = "picker-empty";
        empty.textContent = select.getAttribute("data-empty") || "";
        list.appendChild(empty);
      }
      items.forEach(function (item, index) {
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
      highlight(items.length ? 0 : -1);
    }

    function choose(item) {
      var option = optionOf(select, item.id);
      if (!option) {
        option = new Option(item.label, item.id);
        select.appendChild(option);
      }
      if (multiple) {
        select.appendChild(option); // last in the select: the chips keep the order of choosing
        option.selected = true;
        drawChips();
      } else {
        select.value = item.id;
      }
      input.value = multiple ? "" : item.label;
      changed();
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
      if (!multiple && !input.value.trim()) { select.value = ""; }
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
      } else if (event.key === "Backspace" && !input.value && lastRemove) {
        event.preventDefault(); // the empty box: remove the last chosen record
        lastRemove.click();
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
