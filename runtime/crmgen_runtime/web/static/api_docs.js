// The viewers of /docs and /redoc over the app's own OpenAPI document (crmgen_runtime.web.api_docs),
// in the app's theme: the one chosen in this browser (theme.js, <html data-theme>) or else the
// system's. The resolved theme is pinned on <html data-theme> for swagger_theme.css; ReDoc gets a
// theme made of the page's tokens (tokens.css) at init.
(function () {
  "use strict";
  var root = document.documentElement;

  function theme() {
    var chosen = root.getAttribute("data-theme");
    if (chosen === "light" || chosen === "dark") {
      return chosen;
    }
    var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
    return dark ? "dark" : "light";
  }

  function token(style, name) {
    return style.getPropertyValue(name).trim();
  }

  // ReDoc's theme option (colours, type, sidebar, right panel) from the page's tokens.
  function redocTheme(dark) {
    var style = window.getComputedStyle(root);
    var fg = token(style, "--fg");
    var muted = token(style, "--muted");
    var card = token(style, "--card");
    var surface = token(style, "--surface-2");
    var line = token(style, "--line");
    var accent = token(style, "--accent");
    var mono = token(style, "--font-mono");
    var sans = token(style, "--font-sans");
    return {
      colors: {
        primary: { main: accent, light: accent },
        success: { main: token(style, "--ok") },
        error: { main: token(style, "--danger") },
        text: { primary: fg, secondary: muted },
        border: { dark: line, light: card },
        gray: { 50: surface, 100: surface },
        // ReDoc prints white on the methods' colours: its own colours read in both themes
      },
      typography: {
        fontFamily: sans,
        headings: { fontFamily: sans, fontWeight: "600" },
        code: {
          fontFamily: mono,
          color: dark ? "#ffb4ab" : "#b3261e",
          backgroundColor: surface,
        },
        links: { color: accent },
      },
      schema: {
        nestedBackground: surface,
        typeNameColor: muted,
        linesColor: line,
        requireLabelColor: token(style, "--danger"),
      },
      sidebar: {
        backgroundColor: dark ? token(style, "--bg") : surface,
        textColor: fg,
        activeTextColor: accent,
        arrow: { color: muted },
      },
      // the right panel (request and response samples) is dark in both themes, as ReDoc's own
      rightPanel: dark ? { backgroundColor: "#0f1217", textColor: "#f3f5f8" } : {},
      codeBlock: dark ? { backgroundColor: "#0b0d11" } : {},
      fab: { backgroundColor: card, color: accent },
    };
  }

  var chosen = theme();
  root.setAttribute("data-theme", chosen); // this page only: nothing is stored

  var swagger = document.getElementById("swagger-ui");
  if (swagger && typeof window.SwaggerUIBundle === "function") {
    // swagger-ui.css carries dark rules under <html class="dark-mode"> (its optional topbar's
    // toggle sets it); swagger_theme.css brings them to the app's tokens and fixes the rest
    root.classList.toggle("dark-mode", chosen === "dark");
    // No validator badge: it would send the document to an outside service.
    window.SwaggerUIBundle({
      url: swagger.getAttribute("data-spec-url"),
      domNode: swagger,
      deepLinking: true,
      filter: true,
      validatorUrl: null,
      withCredentials: true,
      tryItOutEnabled: false,
      displayRequestDuration: true,
    });
  }

  var redoc = document.getElementById("redoc");
  if (redoc && window.Redoc && typeof window.Redoc.init === "function") {
    window.Redoc.init(
      redoc.getAttribute("data-spec-url"),
      { theme: redocTheme(chosen === "dark") },
      redoc
    );
  }
})();
