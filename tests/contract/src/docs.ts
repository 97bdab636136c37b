// Opens GET /docs in Debian's headless Chromium (driven by playwright-core, which never downloads a
// browser of its own) and checks that Redoc renders the operations of /openapi.json from this
// server alone: any request to another host fails the test (and is blocked, not sent).
//
//   CONTRACT_BASE_URL        e.g. http://127.0.0.1:8123 (a running `forumnet serve` with FORUMNET_DOCS_JS)
//   CONTRACT_CHROMIUM        default /usr/bin/chromium
//   CONTRACT_SCREENSHOT      default /tmp/forumnet-docs.png
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { chromium, type BrowserContext } from "playwright-core";

import { check, env, failOutside, finish, step } from "./check.js";

const BASE = env("CONTRACT_BASE_URL");
const EXECUTABLE = process.env["CONTRACT_CHROMIUM"] || "/usr/bin/chromium";
const SCREENSHOT = process.env["CONTRACT_SCREENSHOT"] || "/tmp/forumnet-docs.png";
const LOGIN_SUMMARY = "Log in with email and password"; // POST /v1/auth/login's summary in openapi.yaml
const MIN_OPERATIONS = 20;
const METHODS = new Set(["get", "put", "post", "delete", "options", "head", "patch", "trace"]);

const base = new URL(BASE);

/** Requests the page tried to send anywhere but this server. */
const elsewhere: string[] = [];
const pageErrors: string[] = [];
const consoleErrors: string[] = [];
let requests = 0;

function local(url: string): boolean {
  const u = new URL(url);
  if (u.protocol === "data:" || u.protocol === "blob:" || u.protocol === "about:") return true;
  return u.hostname === "127.0.0.1";
}

async function main(): Promise<void> {
  console.log(`# docs against ${BASE}/docs with ${EXECUTABLE}`);
  check(base.hostname === "127.0.0.1", `CONTRACT_BASE_URL must be on 127.0.0.1, not ${base.hostname}`);
  const profile = mkdtempSync(join(tmpdir(), "forumnet-contract-chromium-"));
  let context: BrowserContext | undefined;
  try {
    context = await step("Debian's Chromium starts headless with a fresh profile", () =>
      chromium.launchPersistentContext(profile, {
        executablePath: EXECUTABLE,
        headless: true,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
        ],
        viewport: { width: 1280, height: 900 },
        timeout: 30_000,
      }),
    );
    const ctx = context;

    // Every request from every page and worker passes here: local ones go on, others are recorded and
    // aborted, so the test both notices and prevents traffic off this machine.
    await ctx.route("**/*", async (route) => {
      const url = route.request().url();
      requests++;
      if (local(url)) {
        await route.continue();
      } else {
        elsewhere.push(`${route.request().method()} ${url}`);
        await route.abort("blockedbyclient");
      }
    });
    // A request the page's Content-Security-Policy blocks never reaches route(); it is still the page
    // asking for another host, so it fails the test too (and says why it was not sent).
    ctx.on("request", (request) => {
      if (!local(request.url()) && !elsewhere.includes(`${request.method()} ${request.url()}`)) {
        elsewhere.push(`${request.method()} ${request.url()}`);
      }
    });
    ctx.on("requestfailed", (request) => {
      const i = elsewhere.indexOf(`${request.method()} ${request.url()}`);
      const why = request.failure()?.errorText ?? "";
      if (i >= 0 && why !== "") elsewhere[i] += ` (not sent: ${why === "csp" ? "blocked by the page's CSP" : why})`;
    });

    const page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on("pageerror", (err) => pageErrors.push(err.message));
    page.on("console", (msg) => {
      // Chromium asks for /favicon.ico by itself; the API has none (404), which is not the page's doing.
      if (msg.type() === "error" && !msg.location().url.endsWith("/favicon.ico")) consoleErrors.push(msg.text());
    });

    const operationIds = await step("GET /openapi.json is the OpenAPI 3.1 document, readable by any origin", async () => {
      const r = await ctx.request.get(`${BASE}/openapi.json`);
      check(r.status() === 200, `status ${r.status()}`);
      check(/^application\/json\b/.test(r.headers()["content-type"] ?? ""), "content type");
      check(r.headers()["access-control-allow-origin"] === "*", "Access-Control-Allow-Origin: *");
      const doc = (await r.json()) as { openapi?: unknown; paths?: Record<string, Record<string, unknown>> };
      check(typeof doc.openapi === "string" && doc.openapi.startsWith("3.1."), `openapi ${String(doc.openapi)}`);
      check(doc.paths !== undefined && "/v1/auth/login" in doc.paths, "paths has /v1/auth/login");
      const ids: string[] = [];
      for (const item of Object.values(doc.paths)) {
        for (const [method, op] of Object.entries(item)) {
          if (!METHODS.has(method) || typeof op !== "object" || op === null) continue;
          const id = (op as { operationId?: unknown }).operationId;
          check(typeof id === "string", `an operation without operationId`);
          ids.push(id);
        }
      }
      check(ids.length > MIN_OPERATIONS, `only ${ids.length} operations`);
      return ids;
    });

    await step("GET /docs answers HTML with a Content-Security-Policy", async () => {
      const r = await page.goto(`${BASE}/docs`, { waitUntil: "load", timeout: 30_000 });
      check(r !== null && r.status() === 200, `status ${r?.status() ?? "none"}`);
      check(/^text\/html\b/.test((await r.allHeaders())["content-type"] ?? ""), "content type");
      check(((await r.allHeaders())["content-security-policy"] ?? "").includes("default-src 'none'"), "CSP");
    });

    await step(`Redoc renders every operation of the document (${operationIds.length})`, async () => {
      try {
        await page.locator("h2", { hasText: LOGIN_SUMMARY }).first().waitFor({ state: "visible", timeout: 30_000 });
        await page.waitForFunction(
          (n) => document.querySelectorAll('[data-section-id^="operation/"]').length >= n,
          operationIds.length,
          { timeout: 30_000 },
        );
      } catch (err) {
        await page.screenshot({ path: SCREENSHOT }).catch(() => undefined);
        throw err;
      }
      const rendered = new Set(
        await page
          .locator('[data-section-id^="operation/"]')
          .evaluateAll((els) => els.map((e) => e.getAttribute("data-section-id") ?? "")),
      );
      const missing = operationIds.filter((id) => !rendered.has(`operation/${id}`));
      check(missing.length === 0, `not rendered: ${missing.join(", ")}`);
      console.log(`# ${rendered.size} operation sections rendered`);
    });

    await step("the login operation shows its summary, method and path", async () => {
      const section = page.locator('[data-section-id="operation/login"]');
      await section.evaluate((el) => el.scrollIntoView({ block: "start" }));
      const text = await section.innerText();
      check(text.includes(LOGIN_SUMMARY), "summary");
      check(/post/i.test(text) && text.includes("/v1/auth/login"), "method and path");
      await page.screenshot({ path: SCREENSHOT.replace(/\.png$/, "-login.png") });
      await page.evaluate(() => window.scrollTo(0, 0));
    });

    await step(`screenshot saved to ${SCREENSHOT}`, async () => {
      await page.screenshot({ path: SCREENSHOT });
    });

    await step("no request left 127.0.0.1, and the page raised no error", async () => {
      check(requests > 0, "no request was seen at all");
      check(elsewhere.length === 0, `the page asked for other hosts:\n${elsewhere.join("\n")}`);
      check(pageErrors.length === 0, `page errors:\n${pageErrors.join("\n")}`);
      check(consoleErrors.length === 0, `console errors (CSP violations among them):\n${consoleErrors.join("\n")}`);
    });
    console.log(`# ${requests} requests, all to ${base.host}`);
  } finally {
    await context?.close().catch(() => undefined);
    rmSync(profile, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (err) {
  failOutside(err);
}
process.exitCode = finish("docs");
