/**
 * `GET /docs/json` — the OpenAPI 3.1 document; `GET /docs` — a self-contained page rendering it.
 * No auth: the document describes the API and holds no secrets. It is built on request (and
 * cached until more routes are defined), so routes registered after this one still appear.
 * The page loads nothing from elsewhere: many deployments run without internet access.
 */
import type { FastifyInstance } from 'fastify';
import { buildOpenApiDocument, type OpenApiDocument } from '../openapi.js';
import { definedRoutes } from '../route.js';

export function registerDocsRoutes(app: FastifyInstance): void {
  let cached: { routeCount: number; document: OpenApiDocument } | undefined;
  const document = (): OpenApiDocument => {
    const routes = definedRoutes(app);
    // The registry only grows, so its length tells whether the cache is stale.
    if (cached?.routeCount !== routes.length) cached = { routeCount: routes.length, document: buildOpenApiDocument(routes) };
    return cached.document;
  };

  app.get('/docs/json', async () => document());
  app.get('/docs', async (_request, reply) => reply.type('text/html; charset=utf-8').header('content-security-policy', DOCS_CSP).send(DOCS_PAGE));
}

/** The page's own inline script and style only. */
const DOCS_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'";

/**
 * A small reader for the document: operations grouped by tag, each with its parameters, request
 * body and responses as JSON Schema (component references are links). Text is inserted with
 * textContent only, never as HTML.
 */
const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Parley API reference</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; margin: 0; color: #1d232a; background: #fafbfc; }
  header { padding: 1rem 2rem; background: #1d232a; color: #fff; }
  header p { margin: .25rem 0 0; opacity: .8; }
  main { max-width: 72rem; margin: 0 auto; padding: 1rem 2rem 4rem; }
  h2 { margin-top: 2.5rem; border-bottom: 1px solid #d0d7de; }
  details { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; margin: .5rem 0; }
  summary { cursor: pointer; padding: .5rem .75rem; display: flex; gap: .75rem; align-items: baseline; }
  .method { font: bold 12px monospace; padding: .1rem .4rem; border-radius: 4px; color: #fff; min-width: 3.5rem; text-align: center; }
  .get { background: #1f6feb; } .post { background: #1a7f37; } .put { background: #9a6700; } .patch { background: #8250df; } .delete { background: #cf222e; }
  .path { font-family: monospace; font-weight: 600; }
  .body { padding: 0 1rem 1rem; }
  pre { background: #f6f8fa; padding: .75rem; overflow: auto; border-radius: 4px; font-size: 12.5px; }
  table { border-collapse: collapse; } td, th { text-align: left; padding: .2rem .6rem .2rem 0; vertical-align: top; }
  code { font-family: monospace; }
  #filter { width: 100%; padding: .5rem; font-size: 15px; margin: 1rem 0; box-sizing: border-box; }
</style>
</head>
<body>
<header><strong>Parley API</strong><p id="intro">Loading <code>/docs/json</code>…</p></header>
<main>
<input id="filter" type="search" placeholder="Filter operations (path, summary, operationId)">
<div id="ops"></div>
<h2 id="schemas">Schemas</h2>
<div id="components"></div>
</main>
<script>
(function () {
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) { e.append(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function schemaBlock(schema) { return el('pre', {}, [JSON.stringify(schema, null, 2)]); }
  function operation(path, method, op) {
    var body = el('div', { class: 'body' });
    if (op.description) body.append(el('p', {}, [op.description]));
    body.append(el('p', {}, [el('code', {}, ['operationId: ' + op.operationId])]));
    if (op.parameters && op.parameters.length) {
      var t = el('table', {}, [el('tr', {}, [el('th', {}, ['Parameter']), el('th', {}, ['In']), el('th', {}, ['Schema']), el('th', {}, ['Description'])])]);
      op.parameters.forEach(function (p) {
        t.append(el('tr', {}, [el('td', {}, [el('code', {}, [p.name + (p.required ? '' : '?')])]), el('td', {}, [p.in]), el('td', {}, [el('code', {}, [JSON.stringify(p.schema)])]), el('td', {}, [p.description || ''])]));
      });
      body.append(t);
    }
    if (op.requestBody) {
      Object.keys(op.requestBody.content).forEach(function (type) {
        body.append(el('h4', {}, ['Request body (' + type + ')']), schemaBlock(op.requestBody.content[type].schema));
      });
    }
    Object.keys(op.responses || {}).forEach(function (status) {
      var r = op.responses[status];
      body.append(el('h4', {}, ['Response ' + status + ': ' + (r.description || '')]));
      Object.keys(r.content || {}).forEach(function (type) { body.append(el('div', {}, [type]), schemaBlock(r.content[type].schema)); });
    });
    var d = el('details', { 'data-search': (method + ' ' + path + ' ' + op.summary + ' ' + op.operationId).toLowerCase() }, [
      el('summary', {}, [el('span', { class: 'method ' + method }, [method.toUpperCase()]), el('span', { class: 'path' }, [path]), el('span', {}, [op.summary || ''])]),
      body,
    ]);
    return d;
  }
  fetch(location.pathname.replace(/\\/?$/, '/json')).then(function (r) { return r.json(); }).then(function (doc) {
    document.getElementById('intro').textContent = doc.info.description + ' (OpenAPI ' + doc.openapi + ', version ' + doc.info.version + ')';
    var byTag = {};
    Object.keys(doc.paths).forEach(function (path) {
      Object.keys(doc.paths[path]).forEach(function (method) {
        var op = doc.paths[path][method];
        var tag = (op.tags && op.tags[0]) || 'Other';
        (byTag[tag] = byTag[tag] || []).push(operation(path, method, op));
      });
    });
    var ops = document.getElementById('ops');
    Object.keys(byTag).forEach(function (tag) {
      ops.append(el('h2', {}, [tag]));
      byTag[tag].forEach(function (d) { ops.append(d); });
    });
    var comps = document.getElementById('components');
    Object.keys(doc.components.schemas).sort().forEach(function (name) {
      comps.append(el('details', { id: 'schema-' + name, 'data-search': name.toLowerCase() }, [el('summary', {}, [el('span', { class: 'path' }, [name])]), el('div', { class: 'body' }, [schemaBlock(doc.components.schemas[name])])]));
    });
    document.getElementById('filter').addEventListener('input', function (e) {
      var q = e.target.value.toLowerCase();
      document.querySelectorAll('details[data-search]').forEach(function (d) { d.style.display = d.getAttribute('data-search').indexOf(q) >= 0 ? '' : 'none'; });
    });
  }).catch(function (err) {
    document.getElementById('intro').textContent = 'Could not load /docs/json: ' + err;
  });
})();
</script>
</body>
</html>
`;
