// A real EventSource in Debian's headless Chromium (driven by playwright-core) opens the live stream with a
// ticket (GET /v1/me/notifications/stream?ticket=..., API.md section 10) and receives a notification. The
// notification row is inserted through psql on the test database (the trigger of migration 011 wakes the
// stream as the API's own writes do), so this needs FORUMNET_TEST_DATABASE_URL; without it (a walk of a
// running server, CONTRACT_BASE_URL only) it is skipped.
//
//   CONTRACT_BASE_URL, CONTRACT_ADMIN_EMAIL, CONTRACT_ADMIN_PASSWORD   as for scenario.ts
//   FORUMNET_TEST_DATABASE_URL                                        the server's database (psql)
//   CONTRACT_CHROMIUM                                                 default /usr/bin/chromium
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { chromium, type BrowserContext } from "playwright-core";

import { check, env, failOutside, finish, step } from "./check.js";

const BASE = env("CONTRACT_BASE_URL");
const EXECUTABLE = process.env["CONTRACT_CHROMIUM"] || "/usr/bin/chromium";
const DATABASE = process.env["FORUMNET_TEST_DATABASE_URL"] ?? "";

async function post(path: string, token: string | null, body: unknown): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (token) headers["Authorization"] = `Bearer ${token}`;
  const r = await fetch(`${BASE}${path}`, { method: "POST", headers, body: body === undefined ? "" : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}

async function main(): Promise<void> {
  if (DATABASE === "") {
    console.log("ok 1 - EventSource stream # SKIP no FORUMNET_TEST_DATABASE_URL to insert a notification with");
    return;
  }
  const { token, memberId } = await step("the admin logs in", async () => {
    const r = await post("/v1/auth/login", null, {
      email: env("CONTRACT_ADMIN_EMAIL"),
      password: env("CONTRACT_ADMIN_PASSWORD"),
    });
    check(r.status === 200, `login answered ${r.status}`);
    return { token: r.json.access_token as string, memberId: r.json.member.id as string };
  });
  const ticket = await step("POST /v1/me/stream-tickets answers 201 {ticket, expires_in: 60}", async () => {
    const r = await post("/v1/me/stream-tickets", token, undefined);
    check(r.status === 201, `status ${r.status}`);
    check(typeof r.json.ticket === "string" && r.json.expires_in === 60, JSON.stringify(r.json));
    return r.json.ticket as string;
  });

  const profile = mkdtempSync(join(tmpdir(), "forumnet-contract-stream-"));
  let context: BrowserContext | undefined;
  try {
    context = await step("Debian's Chromium starts headless", () =>
      chromium.launchPersistentContext(profile, {
        executablePath: EXECUTABLE,
        headless: true,
        // The API's answers carry CSP default-src 'none'; the test page is one of them (same origin as the
        // stream, so no CORS is involved), and its script is the test's own.
        bypassCSP: true,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
        timeout: 30_000,
      }),
    );
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${BASE}/healthz`);

    await step("an EventSource opens the stream with the ticket", async () => {
      await page.evaluate((url) => {
        const w = window as any;
        w.received = [];
        w.opened = false;
        const es = new EventSource(url);
        w.es = es;
        es.onopen = () => (w.opened = true);
        es.addEventListener("event.published", (e: MessageEvent) => w.received.push({ id: e.lastEventId, data: e.data }));
      }, `${BASE}/v1/me/notifications/stream?ticket=${encodeURIComponent(ticket)}`);
      await page.waitForFunction(() => (window as any).opened === true, undefined, { timeout: 5_000 });
    });

    const title = `Contract stream ${Date.now()}`;
    const seq = execFileSync(
      "psql",
      [
        DATABASE,
        "-XAtq",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        `WITH n AS (INSERT INTO notifications (member_id, kind, subject_type, subject_id, title) VALUES ` +
          `('${memberId}', 'event.published', 'event', gen_random_uuid(), '${title}') RETURNING seq) SELECT seq FROM n`,
      ],
      { encoding: "utf8" },
    ).trim();

    await step("the EventSource receives the notification within a second, id its seq", async () => {
      await page.waitForFunction(() => (window as any).received.length > 0, undefined, { timeout: 1_000 });
      const got = (await page.evaluate(() => (window as any).received[0])) as { id: string; data: string };
      check(got.id === seq, `lastEventId ${got.id}, expected ${seq}`);
      const n = JSON.parse(got.data);
      check(n.title === title && n.kind === "event.published" && n.subject.type === "event", got.data);
      await page.evaluate(() => (window as any).es.close());
    });

    await step("the spent ticket is 401", async () => {
      const r = await fetch(`${BASE}/v1/me/notifications/stream?ticket=${encodeURIComponent(ticket)}`);
      check(r.status === 401, `status ${r.status}`);
      await r.body?.cancel();
    });
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
process.exitCode = finish("stream");
