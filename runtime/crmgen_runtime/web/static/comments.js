// The comment box: typing "@" and the start of a name offers the users who may read the
// record (GET <data-mentions>?q=...); choosing one writes "@their@email " into the text.
(function () {
  "use strict";
  var form = document.querySelector("form.comment-compose[data-mentions]");
  if (!form) return;
  var box = form.querySelector("textarea");
  var list = form.querySelector(".mention-choices");
  var url = form.getAttribute("data-mentions");
  var timer = null;
  var asked = "";

  function typed() {
    var before = box.value.slice(0, box.selectionStart);
    var found = /(^|\s)@([^\s@]*)$/.exec(before);
    return found ? found[2] : null;
  }

  function hide() {
    list.hidden = true;
    list.textContent = "";
  }

  function choose(email) {
    var caret = box.selectionStart;
    var before = box.value.slice(0, caret);
    var start = before.lastIndexOf("@");
    var text = "@" + email + " ";
    box.value = box.value.slice(0, start) + text + box.value.slice(caret);
    var at = start + text.length;
    box.setSelectionRange(at, at);
    hide();
    box.focus();
  }

  function show(items) {
    list.textContent = "";
    items.forEach(function (user, i) {
      var li = document.createElement("li");
      li.setAttribute("role", "option");
      li.setAttribute("tabindex", "-1");
      li.setAttribute("data-email", user.email);
      if (i === 0) li.setAttribute("aria-selected", "true");
      li.textContent = (user.name ? user.name + " · " : "") + user.email;
      li.addEventListener("mousedown", function (event) {
        event.preventDefault();
        choose(user.email);
      });
      list.appendChild(li);
    });
    list.hidden = items.length === 0;
  }

  function ask() {
    var prefix = typed();
    if (prefix === null) { hide(); return; }
    asked = prefix;
    fetch(url + "?q=" + encodeURIComponent(prefix), {
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    })
      .then(function (r) { return r.ok ? r.json() : { items: [] }; })
      .then(function (data) { if (asked === prefix) show(data.items || []); })
      .catch(hide);
  }

  box.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 150);
  });
  box.addEventListener("keydown", function (event) {
    if (list.hidden) return;
    var options = Array.prototype.slice.call(list.children);
    var at = options.findIndex(function (o) { return o.getAttribute("aria-selected") === "true"; });
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      var next = (at + (event.key === "ArrowDown" ? 1 : options.length - 1)) % options.length;
      options.forEach(function (o, i) { o.setAttribute("aria-selected", i === next ? "true" : "false"); });
    } else if (event.key === "Enter" || event.key === "Tab") {
      if (at >= 0) {
        event.preventDefault();
        choose(options[at].getAttribute("data-email"));
      }
    } else if (event.key === "Escape") {
      hide();
    }
  });
  box.addEventListener("blur", function () { setTimeout(hide, 150); });
})();
