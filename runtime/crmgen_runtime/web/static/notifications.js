// The bell's count: the page brings it; then one light request a minute at most (only while
// the page is visible) keeps it current.
(function () {
  "use strict";
  var bell = document.querySelector("[data-bell]");
  if (!bell) return;
  var badge = bell.querySelector("[data-bell-count]");
  var label = bell.getAttribute("data-label") || "";

  function show(count) {
    badge.textContent = count > 99 ? "99+" : String(count);
    badge.hidden = count === 0;
    bell.setAttribute("aria-label", label + (count ? " (" + count + ")" : ""));
  }

  function refresh() {
    if (document.visibilityState !== "visible") return;
    fetch("/api/notifications/count", {
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data && typeof data.unread === "number") show(data.unread); })
      .catch(function () {});
  }

  setInterval(refresh, 60000);
})();
