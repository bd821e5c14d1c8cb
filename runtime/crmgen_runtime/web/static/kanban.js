// Kanban boards: drag a card to another column, or choose a column on the card and press Move,
// and the record's field changes through the JSON API (its validation, permissions and version
// check). A refused move puts the card back where it was and says why. The "No value" column
// (data-value="") takes cards only when the field may be empty: dropping there sends null.
// Without this script the card's form posts to /<path>/kanban/move and the page comes back.
"use strict";
(function () {
  var board = document.querySelector(".kanban");
  if (!board) {
    return;
  }
  var meta = document.querySelector('meta[name="csrf-token"]');
  var token = meta ? meta.getAttribute("content") : "";
  var alertBox = document.querySelector(".kanban-error");
  var statusBox = document.querySelector(".kanban-status");
  var field = board.getAttribute("data-field");
  var dragged = null;

  function say(problem, text) {
    alertBox.textContent = problem ? text : "";
    alertBox.hidden = !problem;
    statusBox.textContent = problem ? "" : text;
  }

  function columnOf(value) {
    return board.querySelector('.kanban-column[data-drop][data-value="' + CSS.escape(value) + '"]');
  }

  // The counts and sums as the server sees them now (they depend on rules the page cannot know).
  function refreshSummaries() {
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        if (!html) {
          return;
        }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        fresh.querySelectorAll(".kanban-column").forEach(function (column) {
          var value = column.getAttribute("data-value");
          var mine = board.querySelector('.kanban-column[data-value="' + CSS.escape(value) + '"] .kanban-summary');
          var theirs = column.querySelector(".kanban-summary");
          if (mine && theirs) {
            mine.replaceWith(document.importNode(theirs, true));
          }
        });
      })
      .catch(function () { /* the counts stay as they were; the move itself is saved */ });
  }

  function saved(card, record, value) {
    if (record && record.version !== undefined) {
      card.setAttribute("data-version", String(record.version));
      var version = card.querySelector('input[name="version"]');
      if (version) {
        version.value = String(record.version);
      }
    }
    var select = card.querySelector('select[name="value"]');
    if (select) {
      select.value = value;
    }
    say(false, board.getAttribute("data-msg-moved"));
    refreshSummaries();
  }

  function refused(card, from, before, status, error) {
    from.insertBefore(card, before && before.parentNode === from ? before : null);
    var select = card.querySelector('select[name="value"]');
    if (select) {
      select.value = from.closest(".kanban-column").getAttribute("data-value");
    }
    var text;
    if (status === 409 && error.code === "stale") {
      text = board.getAttribute("data-msg-stale");
    } else if (status === 403) {
      text = board.getAttribute("data-msg-forbidden");
    } else if (status === 404) {
      text = board.getAttribute("data-msg-not-found");
    } else {
      var detail = (error.fields && error.fields[field]) || error.message || String(status || "");
      text = board.getAttribute("data-msg-failed") + " " + detail;
    }
    say(true, text);
  }

  function move(card, column) {
    var from = card.parentNode;
    if (card.closest(".kanban-column") === column || card.classList.contains("saving")) {
      return;
    }
    var before = card.nextElementSibling;
    var value = column.getAttribute("data-value");
    var body = {};
    body[field] = value === "" ? null : value; // the "No value" column clears the field
    var version = parseInt(card.getAttribute("data-version"), 10);
    if (!isNaN(version)) {
      body.version = version;
    }
    column.querySelector(".kanban-cards").prepend(card);
    card.classList.add("saving");
    fetch(board.getAttribute("data-api") + card.getAttribute("data-id"), {
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
        card.classList.remove("saving");
        if (result.ok) {
          saved(card, result.data, value);
        } else {
          refused(card, from, before, result.status, (result.data && result.data.error) || {});
        }
      });
  }

  board.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".kanban-card[draggable=true]");
    if (!card) {
      return;
    }
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.getAttribute("data-id"));
  });
  board.addEventListener("dragend", function () {
    if (dragged) {
      dragged.classList.remove("dragging");
    }
    dragged = null;
    board.querySelectorAll(".drop-target").forEach(function (column) {
      column.classList.remove("drop-target");
    });
  });
  // Under a workflow a column names the values its cards may move to (data-moves).
  function mayDrop(card, column) {
    var moves = card.closest(".kanban-column").getAttribute("data-moves");
    var value = column.getAttribute("data-value");
    return moves === null || (value !== "" && moves.split(" ").indexOf(value) >= 0);
  }
  board.addEventListener("dragover", function (event) {
    var column = event.target.closest && event.target.closest(".kanban-column[data-drop]");
    if (!dragged || !column || !mayDrop(dragged, column)) {
      return;
    }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    column.classList.add("drop-target");
  });
  board.addEventListener("dragleave", function (event) {
    var column = event.target.closest && event.target.closest(".kanban-column");
    if (column && !column.contains(event.relatedTarget)) {
      column.classList.remove("drop-target");
    }
  });
  board.addEventListener("drop", function (event) {
    var column = event.target.closest && event.target.closest(".kanban-column[data-drop]");
    if (!dragged || !column || !mayDrop(dragged, column)) {
      return;
    }
    event.preventDefault();
    column.classList.remove("drop-target");
    move(dragged, column);
  });
  // The card's own form (keyboard, phone): the same move, without leaving the page.
  board.addEventListener("submit", function (event) {
    var form = event.target.closest && event.target.closest(".kanban-move");
    if (!form) {
      return;
    }
    var column = columnOf(form.querySelector('select[name="value"]').value);
    event.preventDefault();
    if (column) {
      move(form.closest(".kanban-card"), column);
    }
  });
}());
