// The /api/v1/docs page: Swagger UI on our OpenAPI document, from our own static files
// (no inline script: the Content-Security-Policy allows scripts from our origin only).
window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
