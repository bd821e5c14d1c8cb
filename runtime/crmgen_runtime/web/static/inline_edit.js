// Editing a list's cells in place (web/inline_edit.py marks the cells the user may change).
// A click on such a cell, or Enter (or F2) on it, puts an input in it; Enter or leaving the
// input saves through the record's JSON API (PATCH /api/<path>/<id> with the row's version),
// Escape puts the value back. A record changed meanwhile (409) and a value the field refuses
// (422) are said in the cell, never overwritten silently. Without this script the cells are
// plain text and the record's own page edits it.
"use strict";
(function () {
  var table = document.querySelector("table[data-inline-edit]");
  if (!table) {
    return;
  }
  var config = JSON.parse(table.getAttribute("data-inline-edit"));
  var meta = document.querySelector('meta[name="csrf-token"]');
  var token = meta ? meta.getAttribute("content") : "";
  var hint = document.querySelector(".inline-edit-hint");
  if (hint) {
    hint.hidden = false;
  }

  function msg(name) {
    return table.getAttribute("data-msg-" + name) || "";
  }

  function note(cell, text, problem) {
    var old = cell.querySelector(".cell-note");
    if (old) {
      old.remove();
    }
    if (!text) {
      return;
    }
    var span = document.createElement("span");
    span.className = "cell-note" + (problem ? " error" : "");
    span.setAttribute("role", problem ? "alert" : "status");
    span.textContent = text;
    cell.appendChild(span);
  }

  function shownText(field, value) {
    if (field.input === "select") {
      var found = field.choices.filter(function (c) { return c[0] === value; })[0];
      return found ? found[1] : value;
    }
    if (field.input === "checkbox") {
      return value === "on" ? msg("yes") : msg("no");
    }
    return value;
  }

  function makeInput(field, value, states) {
    var input;
    if (field.input === "select") {
      input = document.createElement("select");
      var empty = document.createElement("option");
      empty.value = "";
      empty.textContent = "—";
      input.appendChild(empty);
      field.choices.forEach(function (choice) {
        // under a workflow: only the record's state and the states it may move to
        if (states !== null && states.split(" ").indexOf(choice[0]) < 0) {
          return;
        }
        var option = document.createElement("option");
        option.value = choice[0];
        option.textContent = choice[1];
        input.appendChild(option);
      });
      input.value = value;
    } else if (field.input === "checkbox") {
      input = document.createElement("input");
      input.type = "checkbox";
      input.checked = value === "on";
    } else {
      input = document.createElement("input");
      input.type = field.input;
      input.value = value;
      if (field.step) {
        input.step = field.step;
      }
      if (field.max_length) {
        input.maxLength = field.max_length;
      }
    }
    input.className = "cell-input";
    return input;
  }

  function valueOf(field, input) {
    if (field.input === "checkbox") {
      return input.checked ? "on" : "";
    }
    return input.value;
  }

  function payloadValue(field, text) {
    if (field.input === "checkbox") {
      return text === "on";
    }
    if (text === "") {
      return null;
    }
    if (field.input === "number" && field.step === "1" && /^-?\d+$/.test(text)) {
      return parseInt(text, 10);
    }
    return text;
  }

  function label(cell) {
    var name = cell.getAttribute("data-label") || "";
    return msg("edit") + (name ? ": " + name : "");
  }

  function close(cell, text) {
    cell.classList.remove("editing");
    cell.textContent = text;
    cell.setAttribute("tabindex", "0");
  }

  function open(cell) {
    if (cell.classList.contains("editing")) {
      return;
    }
    var field = config.fields[cell.getAttribute("data-field")];
    var before = cell.getAttribute("data-value");
    var shown = cell.textContent;
    var input = makeInput(field, before, cell.getAttribute("data-states"));
    input.setAttribute("aria-label", label(cell));
    cell.classList.add("editing");
    cell.removeAttribute("tabindex");
    cell.textContent = "";
    cell.appendChild(input);
    input.focus();
    var done = false;

    function cancel() {
      done = true;
      close(cell, shown);
      cell.focus();
    }

    function save() {
      if (done) {
        return;
      }
      var value = valueOf(field, input);
      if (value === before) {
        cancel();
        return;
      }
      done = true;
      var row = cell.closest("tr");
      var body = {};
      body[cell.getAttribute("data-field")] = payloadValue(field, value);
      var version = parseInt(row.getAttribute("data-version"), 10);
      if (!isNaN(version)) {
        body.version = version;
      }
      input.disabled = true;
      fetch(config.api + row.getAttribute("data-id"), {
        method: "PATCH",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": token },
        body: JSON.stringify(body)
      })
        .then(function (response) {
          return response.json()
            .catch(function () { return {}; })
            .then(function (data) { return { status: response.status, ok: response.ok, data: data }; });
        })
        .catch(function () { return { status: 0, ok: false, data: {} }; })
        .then(function (result) {
          if (result.ok) {
            row.setAttribute("data-version", String(result.data.version));
            cell.setAttribute("data-value", value);
            close(cell, shownText(field, value));
            note(cell, msg("saved"), false);
            cell.focus();
            return;
          }
          var error = (result.data && result.data.error) || {};
          var name = cell.getAttribute("data-field");
          if (result.status === 422 || result.status === 400) {
            done = false; // the input stays, with the field's message, to be corrected
            input.disabled = false;
            input.setAttribute("aria-invalid", "true");
            note(cell, msg("failed") + " " + ((error.fields && error.fields[name]) || error.message || ""), true);
            input.focus();
            return;
          }
          close(cell, shown);
          var text;
          if (result.status === 409) {
            text = msg("stale");
          } else if (result.status === 403) {
            text = msg("forbidden");
          } else if (result.status === 404) {
            text = msg("not-found");
          } else {
            text = msg("failed") + " " + (error.message || String(result.status || ""));
          }
          note(cell, text, true);
          cell.classList.add("stale");
          cell.focus();
        });
    }

    input.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        event.preventDefault();
        cancel();
      } else if (event.key === "Enter") {
        event.preventDefault();
        save();
      }
    });
    input.addEventListener("blur", function () {
      window.setTimeout(save, 0);
    });
  }

  table.querySelectorAll("td.editable").forEach(function (cell) {
    cell.setAttribute("tabindex", "0");
    cell.setAttribute("title", label(cell));
  });
  table.addEventListener("click", function (event) {
    var cell = event.target.closest && event.target.closest("td.editable");
    if (cell && !event.target.closest(".cell-input")) {
      open(cell);
    }
  });
  table.addEventListener("keydown", function (event) {
    var cell = event.target.closest && event.target.closest("td.editable");
    if (cell && event.target === cell && (event.key === "Enter" || event.key === "F2")) {
      event.preventDefault();
      open(cell);
    }
  });
}());
