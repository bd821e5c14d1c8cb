// Swagger UI on /docs over the app's own OpenAPI document (crmgen_runtime.web.api_docs).
// No validator badge: it would send the document to an outside service.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  window.SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    domNode: root,
    deepLinking: true,
    filter: true,
    validatorUrl: null,
    withCredentials: true,
    tryItOutEnabled: false,
    displayRequestDuration: true,
  });
})();
