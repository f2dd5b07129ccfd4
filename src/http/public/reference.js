// The API reference at /docs: Swagger UI (served from the swagger-ui-dist package, never a CDN) over
// the service's own document. A file, not an inline script, so the page's CSP needs no 'unsafe-inline'.
window.SwaggerUIBundle({
  url: 'openapi.json',
  dom_id: '#reference',
  deepLinking: true,
  // Calls tried from the page carry the browser's session cookie (same origin) or a token entered under
  // "Authorize"; tokens stay in this page's memory.
  persistAuthorization: false,
  // No badge from the public online validator: the page talks to this service only.
  validatorUrl: null,
})
