// Kanban boards: drag a card to another column, or open the card's menu (⋯) and choose a column,
// and the record's field changes through the JSON API (its validation, permissions and version
// check). A refused move puts the card back where it was and says why. The "No value" column
// (data-value="") takes cards only when the field may be empty: dropping there sends null.
// Without this script the menu's buttons post to /<path>/kanban/move and the page comes back.
// Columns collapse with their header's toggle, remembered per user in this browser (localStorage).
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
    rebuildMenu(card);
    say(false, board.getAttribute("data-msg-moved"));
    refreshSummaries();
  }

  function refused(card, from, before, status, error) {
    from.insertBefore(card, before && before.parentNode === from ? before : null);
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
  // The card's menu (keyboard, phone): the same move, without leaving the page.
  board.addEventListener("submit", function (event) {
    var form = event.target.closest && event.target.closest(".kanban-move");
    if (!form || !event.submitter) {
      return;
    }
    var column = columnOf(event.submitter.value);
    var card = form.closest(".kanban-card");
    event.preventDefault();
    closeMenu(form.closest(".kanban-menu"), false);
    if (column) {
      move(card, column);
      var button = card.querySelector(".kanban-menu-button");
      if (button) {
        button.focus();
      }
    }
  });

  // After a move the menu offers the new column's moves (data-moves, or every other column).
  function rebuildMenu(card) {
    var menu = card.querySelector(".kanban-menu");
    if (!menu) {
      return;
    }
    var here = card.closest(".kanban-column");
    var moves = here.getAttribute("data-moves");
    var form = menu.querySelector(".kanban-move");
    form.querySelectorAll("button").forEach(function (button) { button.remove(); });
    board.querySelectorAll(".kanban-column[data-drop]").forEach(function (column) {
      var value = column.getAttribute("data-value");
      if (column === here || (moves !== null && (value === "" || moves.split(" ").indexOf(value) < 0))) {
        return;
      }
      var button = document.createElement("button");
      button.type = "submit";
      button.name = "value";
      button.value = value;
      button.setAttribute("role", "menuitem");
      button.textContent = column.querySelector(".kanban-head h2").textContent.trim();
      form.appendChild(button);
    });
    menu.hidden = !form.querySelector("button");
  }

  function items(menu) {
    return Array.prototype.slice.call(menu.querySelectorAll('[role="menuitem"]'));
  }
  function closeMenu(menu, focusButton) {
    if (menu && menu.open) {
      menu.open = false;
      if (focusButton) {
        menu.querySelector("summary").focus();
      }
    }
  }
  // An open menu floats over the board (fixed, beside its button; above it when there is no
  // room below), so the board's own scrolling never clips it. Scrolling closes it.
  function place(menu) {
    var list = menu.querySelector(".kanban-move");
    var button = menu.querySelector("summary").getBoundingClientRect();
    list.classList.add("floating");
    var width = list.offsetWidth;
    var height = list.offsetHeight;
    var top = button.bottom + 4;
    if (top + height > window.innerHeight && button.top - height - 4 >= 0) {
      top = button.top - height - 4;
    }
    list.style.top = top + "px";
    list.style.left = Math.max(4, Math.min(button.right - width, window.innerWidth - width - 4)) + "px";
  }
  function closeAll() {
    board.querySelectorAll(".kanban-menu[open]").forEach(function (menu) {
      menu.open = false;
    });
  }
  board.addEventListener("scroll", closeAll);
  window.addEventListener("scroll", closeAll);
  window.addEventListener("resize", closeAll);
  board.querySelectorAll(".kanban-menu").forEach(function (menu) {
    var summary = menu.querySelector("summary");
    summary.setAttribute("aria-expanded", "false");
    menu.addEventListener("toggle", function () {
      summary.setAttribute("aria-expanded", menu.open ? "true" : "false");
      if (menu.open) {
        board.querySelectorAll(".kanban-menu[open]").forEach(function (other) {
          if (other !== menu) {
            other.open = false;
          }
        });
        place(menu);
        var first = items(menu)[0];
        if (first) {
          first.focus();
        }
      }
    });
  });
  // The menu's keys (WAI-ARIA menu button): arrows and Home/End move, Escape closes.
  board.addEventListener("keydown", function (event) {
    var menu = event.target.closest && event.target.closest(".kanban-menu[open]");
    if (!menu) {
      return;
    }
    var all = items(menu);
    var at = all.indexOf(event.target);
    var next = null;
    if (event.key === "Escape") {
      event.preventDefault();
      closeMenu(menu, true);
      return;
    } else if (event.key === "ArrowDown") {
      next = all[(at + 1) % all.length];
    } else if (event.key === "ArrowUp") {
      next = all[(at - 1 + all.length) % all.length];
    } else if (event.key === "Home") {
      next = all[0];
    } else if (event.key === "End") {
      next = all[all.length - 1];
    }
    if (next) {
      event.preventDefault();
      next.focus();
    }
  });
  document.addEventListener("click", function (event) {
    board.querySelectorAll(".kanban-menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) {
        menu.open = false;
      }
    });
  });

  // Collapsible columns: a collapsed column shows its name and count and still takes drops.
  var storeKey = "crmgen.kanban.collapsed:" + board.getAttribute("data-user") + ":" + window.location.pathname;
  function remembered() {
    try {
      var saved = JSON.parse(window.localStorage.getItem(storeKey) || "[]");
      return Array.isArray(saved) ? saved : [];
    } catch (error) {
      return [];
    }
  }
  function remember() {
    var collapsed = [];
    board.querySelectorAll(".kanban-column.collapsed").forEach(function (column) {
      collapsed.push(column.getAttribute("data-value"));
    });
    try {
      window.localStorage.setItem(storeKey, JSON.stringify(collapsed));
    } catch (error) { /* private mode: collapsing still works on this page */ }
  }
  function collapse(column, collapsed) {
    var toggle = column.querySelector(".kanban-toggle");
    var label = board.getAttribute(collapsed ? "data-msg-expand" : "data-msg-collapse");
    column.classList.toggle("collapsed", collapsed);
    toggle.setAttribute("aria-expanded", collapsed ? "false" : "true");
    toggle.setAttribute("aria-label", label);
    toggle.setAttribute("title", label);
  }
  var initially = remembered();
  board.querySelectorAll(".kanban-column").forEach(function (column) {
    var toggle = column.querySelector(".kanban-toggle");
    toggle.hidden = false;
    if (initially.indexOf(column.getAttribute("data-value")) >= 0) {
      collapse(column, true);
    }
    toggle.addEventListener("click", function () {
      collapse(column, !column.classList.contains("collapsed"));
      remember();
    });
  });
}());
