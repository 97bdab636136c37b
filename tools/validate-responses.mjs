#!/usr/bin/env node
// Checks every HTTP exchange the end-to-end suite logged (tests/e2e/harness_http.c, HARNESS_EXCHANGE_LOG) against
// the OpenAPI document (openapi/openapi.json, bundled from openapi.yaml by scripts/lint_openapi.sh).
//
// For each exchange it finds the operation (method + path template; a literal segment beats a parameter,
// so /v1/events.ics is not read as /v1/events/{event_id}), the response object for the status (the exact
// code, else a range such as 4XX, else `default`), checks that the Content-Type is one the response
// documents (or that there is no body when it documents none), and validates a JSON body against the
// response's schema with Ajv (JSON Schema 2020-12, the dialect of OpenAPI 3.1; ajv-formats for uuid,
// date-time, email, ...). The schemas are compiled as they stand in the document, $refs and all: the
// whole document is registered with Ajv under one id, so `#/components/schemas/...` resolves there.
//
// Answers the document describes once, in info.description, rather than per operation, are accepted
// here, and counted separately in the report with examples:
//   - the router's own answers ("Unknown path: 404 problem. Known path, method not offered: 405 problem
//     with an Allow header"): a 404 on a path no template matches, or a 405 (or that 404) for a method
//     a documented path does not document, provided the body is application/problem+json, valid
//     against components/schemas/Problem, and, for a 404, is the router's "No such route." (a 404 from
//     a real handler on an undocumented path, e.g. "No such site." from /v1/sites/x/summary, is the
//     very drift this check exists for, so it fails);
//   - OPTIONS answered 204 on a documented path (CORS preflight: "Preflight answers are not listed per
//     path").
// Everything else not found in the document is a failure: an unknown route answered other than 404, an
// undocumented method answered other than 404/405, an undocumented status, any 500 (documented on
// every operation, but the document says a 500 is always a bug), a Content-Type the response does not document, a body that is
// not JSON where JSON is documented, or a body the schema rejects.
//
// Usage: node tools/validate-responses.mjs [--spec openapi/openapi.json] [--examples N] LOG.jsonl...
// Each LOG line: {"method","path","query","status","content_type","body"[,"body_encoding":"base64"]}.
// Exit status: 0 when every exchange conforms, 1 when any does not, 2 on a usage or input error.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const HERE = dirname(fileURLToPath(import.meta.url));
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const DOC_ID = 'https://forumnet.invalid/openapi.json';

function usage(msg) {
  if (msg) console.error(`validate-responses: ${msg}`);
  console.error('usage: node tools/validate-responses.mjs [--spec openapi/openapi.json] [--examples N] LOG.jsonl...');
  process.exit(2);
}

// ---- arguments ------------------------------------------------------------------------------------------
let specPath = resolve(HERE, '..', 'openapi', 'openapi.json');
let maxExamples = 3;
const logs = [];
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--spec') specPath = process.argv[++i] ?? usage('--spec needs a path');
  else if (a === '--examples') maxExamples = Number(process.argv[++i] ?? usage('--examples needs a number'));
  else if (a === '-h' || a === '--help') usage();
  else if (a.startsWith('--')) usage(`unknown option ${a}`);
  else logs.push(a);
}
if (logs.length === 0) usage('no exchange log given');

let doc;
try {
  doc = JSON.parse(readFileSync(specPath, 'utf8'));
} catch (e) {
  console.error(`validate-responses: cannot read ${specPath}: ${e.message}`);
  process.exit(2);
}

// ---- the document -----------------------------------------------------------------------------------------
// OpenAPI objects (responses, headers, ...) may be {$ref: "#/..."} to elsewhere in the document.
function deref(obj) {
  const seen = new Set();
  while (obj && typeof obj === 'object' && typeof obj.$ref === 'string') {
    if (!obj.$ref.startsWith('#/') || seen.has(obj.$ref)) throw new Error(`cannot resolve $ref ${obj.$ref}`);
    seen.add(obj.$ref);
    obj = pointer(obj.$ref);
  }
  return obj;
}
function pointer(ref) {
  let cur = doc;
  for (const raw of ref.slice(2).split('/')) {
    const part = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    cur = cur?.[part];
    if (cur === undefined) throw new Error(`$ref ${ref} points at nothing`);
  }
  return cur;
}
const escapePointer = (s) => s.replace(/~/g, '~0').replace(/\//g, '~1');

// One template per documented path: its segments, a matcher per segment, and how specific it is.
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const templates = Object.keys(doc.paths ?? {}).map((template) => {
  const segments = template.split('/').slice(1);
  const matchers = segments.map((seg) => {
    if (!seg.includes('{')) return { literal: seg, rank: 2 };
    const re = new RegExp('^' + seg.split(/(\{[^}]+\})/).map((p) => (p.startsWith('{') ? '[^/]+' : escapeRe(p))).join('') + '$');
    return { re, rank: /^\{[^}]+\}$/.test(seg) ? 0 : 1 };
  });
  const item = doc.paths[template];
  return { template, matchers, item, methods: METHODS.filter((m) => item[m]) };
});

// The most specific template matching a concrete path: compared segment by segment from the left, a
// literal segment beats a partly literal one ("{id}.ics"), which beats a bare parameter.
const routeCache = new Map();
function findTemplate(path) {
  if (routeCache.has(path)) return routeCache.get(path);
  const segments = path.split('/').slice(1);
  let best = null;
  for (const t of templates) {
    if (t.matchers.length !== segments.length) continue;
    let ok = true;
    for (let i = 0; ok && i < segments.length; i++) {
      const m = t.matchers[i];
      ok = m.literal !== undefined ? m.literal === segments[i] : m.re.test(segments[i]);
    }
    if (!ok) continue;
    if (!best) {
      best = t;
      continue;
    }
    for (let i = 0; i < segments.length; i++) {
      const d = t.matchers[i].rank - best.matchers[i].rank;
      if (d > 0) best = t;
      if (d !== 0) break;
    }
  }
  routeCache.set(path, best);
  return best;
}

// The response object for a status: exact code, then "4XX"-style range, then default.
function findResponse(operation, status) {
  const responses = operation.responses ?? {};
  const key = [String(status), `${String(status)[0]}XX`, `${String(status)[0]}xx`, 'default'].find((k) => k in responses);
  return key === undefined ? null : { key, response: deref(responses[key]) };
}

// "application/json; charset=utf-8" -> "application/json"
const mediaType = (ct) => (ct ?? '').split(';')[0].trim().toLowerCase();
const isJson = (mt) => mt === 'application/json' || /^[a-z0-9.+-]+\/[a-z0-9.+-]+\+json$/.test(mt);

// The documented media-type key that covers an actual one (exact, then type/*, then */*).
function findContent(content, actual) {
  const keys = Object.keys(content);
  const norm = new Map(keys.map((k) => [mediaType(k), k]));
  const [type] = actual.split('/');
  for (const want of [actual, `${type}/*`, '*/*']) if (norm.has(want)) return norm.get(want);
  return null;
}

// ---- Ajv --------------------------------------------------------------------------------------------------
// strict: an unknown keyword in a schema is an error (a typo would otherwise silently validate nothing),
// except the annotations the OpenAPI 3.1 dialect adds to JSON Schema.
const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictTuples: false, strictRequired: false });
addFormats(ajv);
for (const keyword of ['example', 'discriminator', 'xml', 'externalDocs']) ajv.addKeyword({ keyword });
// The whole document as one schema resource, so that every "#/components/schemas/..." $ref inside it
// resolves against it. Ajv compiles that root too: its OpenAPI fields (openapi, info, paths, ...) are
// declared as annotations, which Ajv accepts there and does not descend into; only the schemas the
// pointers below name are compiled as schemas.
for (const keyword of Object.keys(doc)) if (!ajv.getKeyword(keyword)) ajv.addKeyword({ keyword });
ajv.addSchema(doc, DOC_ID, undefined, false);

const validatorCache = new Map();
function validatorFor(ref) {
  let v = validatorCache.get(ref);
  if (!v) {
    v = ajv.compile({ $ref: `${DOC_ID}#${ref.split('/').map(encodeURIComponent).join('/')}` });
    validatorCache.set(ref, v);
  }
  return v;
}
// Compile every JSON response schema up front: a schema Ajv cannot compile (an unknown keyword, a
// dangling $ref) is a fault of the document, reported as such rather than as a crash mid-run.
const compileErrors = [];
for (const t of templates) {
  for (const m of t.methods) {
    for (const [key, raw] of Object.entries(t.item[m].responses ?? {})) {
      let content;
      try {
        content = deref(raw).content ?? {};
      } catch (e) {
        compileErrors.push(`${m.toUpperCase()} ${t.template} ${key}: ${e.message}`);
        continue;
      }
      for (const [ct, media] of Object.entries(content)) {
        if (!media.schema || !isJson(mediaType(ct))) continue;
        try {
          validatorFor(schemaPointer(`/paths/${escapePointer(t.template)}/${m}`, key, ct));
        } catch (e) {
          compileErrors.push(`${m.toUpperCase()} ${t.template} ${key} ${ct}: ${e.message}`);
        }
      }
    }
  }
}
if (compileErrors.length > 0) {
  console.error(`validate-responses: ${compileErrors.length} response schemas of ${specPath} do not compile:`);
  for (const e of compileErrors) console.error(`  ${e}`);
  process.exit(2);
}
let problemValidator = null;
if (doc.components?.schemas?.Problem) problemValidator = validatorFor('/components/schemas/Problem');

// The JSON pointer of a response's schema, following response $refs so that Ajv compiles each shared
// response schema once.
function schemaPointer(operationPointer, responseKey, contentKey) {
  let ptr = `${operationPointer}/responses/${escapePointer(responseKey)}`;
  let obj = pointer('#' + ptr);
  while (obj && typeof obj.$ref === 'string') {
    ptr = obj.$ref.slice(1);
    obj = pointer(obj.$ref);
  }
  return `${ptr}/content/${escapePointer(contentKey)}/schema`;
}

// ---- the exchanges ----------------------------------------------------------------------------------------
const failures = new Map(); // group key -> {count, examples: []}
const byDesign = new Map(); // description -> count
const exercised = new Set(); // "METHOD template" seen with a documented status
let total = 0;
let conforming = 0;

function fail(group, ex, why, errors) {
  let g = failures.get(group);
  if (!g) failures.set(group, (g = { count: 0, examples: [] }));
  g.count++;
  if (g.examples.length < maxExamples) g.examples.push({ ex, why, errors });
}
function accept(kind, ex) {
  let k = byDesign.get(kind);
  if (!k) byDesign.set(kind, (k = { count: 0, examples: new Set() }));
  k.count++;
  if (k.examples.size < 8) k.examples.add(`${ex.method} ${shape(ex.path)} -> ${ex.status}`);
  conforming++;
}

function bodyText(ex) {
  if (ex.body_encoding === 'base64') return null;
  return typeof ex.body === 'string' ? ex.body : '';
}

function parseJson(ex) {
  const text = bodyText(ex);
  if (text === null) return { error: 'the body is not UTF-8' };
  try {
    return { value: JSON.parse(text) };
  } catch (e) {
    return { error: `the body is not JSON (${e.message})` };
  }
}

// A problem+json answer that matches the Problem schema (for the answers described only in
// info.description); for a 404, also the router's own "No such route." rather than a handler's 404.
const ROUTER_404_DETAIL = 'No such route.';
function isRouterProblem(ex, status) {
  if (mediaType(ex.content_type) !== 'application/problem+json' || !problemValidator) return false;
  const parsed = parseJson(ex);
  if (parsed.error !== undefined || !problemValidator(parsed.value)) return false;
  return status !== 404 || parsed.value.detail === ROUTER_404_DETAIL;
}

// Groups failures on undocumented paths by shape: ids (UUIDs, numbers) become {id}.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const shape = (path) =>
  path
    .split('/')
    .map((seg) => (UUID.test(seg) || /^\d+$/.test(seg) ? '{id}' : seg))
    .join('/');

function check(ex) {
  total++;
  const method = String(ex.method).toLowerCase();
  const status = Number(ex.status);
  const path = String(ex.path);
  const t = findTemplate(path);

  if (!t) {
    if (status === 404 && isRouterProblem(ex, status))
      return accept('404 "No such route." on a path the document does not have', ex);
    return fail(`${ex.method} ${shape(path)} ${status} (no such path in the document)`, ex, 'undocumented route');
  }
  const operation = t.item[method];
  if (!operation) {
    if (method === 'options' && status === 204) return accept('OPTIONS 204 (CORS preflight) on a documented path', ex);
    if ((status === 405 || status === 404) && isRouterProblem(ex, status))
      return accept(`${status} problem for a method the path does not document`, ex);
    return fail(`${ex.method} ${t.template} ${status} (method not in the document)`, ex, 'undocumented method');
  }

  const group = `${ex.method} ${t.template} ${status}`;
  // Every operation documents 500 (InternalError), as the OWASP ruleset asks, but a 500 is always a bug.
  if (status === 500) return fail(`${group} (a 500 is always a bug)`, ex, 'internal server error');
  const found = findResponse(operation, status);
  if (!found) {
    const documented = Object.keys(operation.responses ?? {}).join(', ');
    return fail(`${group} (status not in the document)`, ex, `documented statuses: ${documented}`);
  }
  exercised.add(`${ex.method.toUpperCase()} ${t.template}`);
  const { key, response } = found;
  const content = response.content ?? {};
  const text = bodyText(ex);
  const hasBody = text === null || text.length > 0;
  const actual = mediaType(ex.content_type);

  if (Object.keys(content).length === 0) {
    if (hasBody) return fail(`${group} (body where the document has none)`, ex, `Content-Type ${ex.content_type ?? '(none)'}`);
    conforming++;
    return;
  }
  if (!actual) {
    if (!hasBody && (status === 204 || status === 304)) {
      conforming++;
      return;
    }
    return fail(`${group} (no Content-Type)`, ex, `documented: ${Object.keys(content).join(', ')}`);
  }
  const contentKey = findContent(content, actual);
  if (!contentKey) {
    const documented = Object.keys(content).join(', ');
    return fail(`${group} (Content-Type not documented)`, ex, `got ${ex.content_type}; documented: ${documented}`);
  }
  const media = content[contentKey];
  if (!isJson(actual) || !media.schema) {
    conforming++; // text/plain, text/html, text/calendar ...: the media type is the contract
    return;
  }
  const parsed = parseJson(ex);
  if (parsed.error) return fail(`${group} (not JSON)`, ex, parsed.error);
  const operationPointer = `/paths/${escapePointer(t.template)}/${method}`;
  const validate = validatorFor(schemaPointer(operationPointer, key, contentKey));
  if (!validate(parsed.value)) return fail(`${group} (schema)`, ex, 'the body does not match the schema', validate.errors);
  conforming++;
}

let lineErrors = 0;
for (const file of logs) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    console.error(`validate-responses: cannot read ${file}: ${e.message}`);
    process.exit(2);
  }
  let n = 0;
  for (const line of text.split('\n')) {
    n++;
    if (!line.trim()) continue;
    let ex;
    try {
      ex = JSON.parse(line);
    } catch (e) {
      if (++lineErrors <= 5) console.error(`validate-responses: ${file}:${n}: not JSON: ${e.message}`);
      continue;
    }
    check(ex);
  }
}

// ---- report -----------------------------------------------------------------------------------------------
const clip = (s, n) => (s.length > n ? `${s.slice(0, n)}... (${s.length} chars)` : s);
const failed = total - conforming;
if (failures.size > 0) {
  console.log(`\n${failed} of ${total} exchanges do not conform to ${specPath}, in ${failures.size} groups:\n`);
  for (const [group, g] of [...failures].sort((a, b) => a[0].localeCompare(b[0]))) {
    console.log(`FAIL ${group}: ${g.count} exchange${g.count === 1 ? '' : 's'}`);
    for (const { ex, why, errors } of g.examples) {
      const body = ex.body_encoding === 'base64' ? `(base64) ${ex.body}` : String(ex.body ?? '');
      const target = `${ex.path}${ex.query ? `?${ex.query}` : ''}`;
      console.log(`  - ${ex.method} ${target} -> ${ex.status} ${ex.content_type ?? '(no Content-Type)'}`);
      console.log(`    ${why}`);
      for (const e of (errors ?? []).slice(0, 6)) {
        const params = Object.keys(e.params ?? {}).length ? ` ${JSON.stringify(e.params)}` : '';
        console.log(`    ${e.instancePath || '(root)'} ${e.message}${params}  [${e.schemaPath}]`);
      }
      if ((errors ?? []).length > 6) console.log(`    ... ${errors.length - 6} more errors`);
      console.log(`    body: ${clip(body.replace(/\s*\n\s*/g, ' '), 400)}`);
    }
    console.log('');
  }
}
const documented = templates.flatMap((t) => t.methods.map((m) => `${m.toUpperCase()} ${t.template}`));
const unexercised = documented.filter((op) => !exercised.has(op));
if (byDesign.size > 0) {
  console.log('Accepted as described in info.description rather than by an operation:');
  for (const [kind, { count, examples }] of byDesign) {
    console.log(`  ${String(count).padStart(5)}  ${kind}, e.g.`);
    for (const e of examples) console.log(`           ${e}`);
  }
}
if (unexercised.length > 0) {
  console.log(
    `Documented operations no logged exchange reached with a documented status ` +
      `(${unexercised.length} of ${documented.length}; not a failure):`,
  );
  for (const op of unexercised) console.log(`  ${op}`);
}
if (lineErrors > 0) console.log(`${lineErrors} log lines were not JSON and were skipped`);
console.log(`validate-responses: ${total} exchanges, ${conforming} conform, ${failed} do not (${failures.size} groups)`);
process.exit(failed > 0 || lineErrors > 0 || total === 0 ? 1 : 0);
