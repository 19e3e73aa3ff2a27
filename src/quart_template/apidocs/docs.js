// Starts Swagger UI on /docs with the app's own OpenAPI document. A file rather than an inline
// script, so the page's Content-Security-Policy can be script-src 'self' and nothing more.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi"),
    domNode: root,
    deepLinking: true,
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null, // no badge fetched from the public validator
  });
})();
