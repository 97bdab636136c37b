// A real EventSource in Debian's headless Chromium (driven by playwright-core) opens the live stream with a
// ticket (GET /v1/me/notifications/stream?ticket=..., API.md section 10) and receives a notification caused by
// another member's API action: a convener invites the stream's member to a group (membership.invited). Then
// the stream is closed, the convener invites the member to two more groups, and a new EventSource (a new
// ticket, ?last_event_id= the last id it saw: what a page does after a drop, its ticket being spent) must
// replay exactly those two, oldest first, and nothing else.
//
//   CONTRACT_BASE_URL, CONTRACT_ADMIN_EMAIL, CONTRACT_ADMIN_PASSWORD   as for scenario.ts
//   CONTRACT_CHROMIUM                                                 default /usr/bin/chromium
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { chromium, type BrowserContext, type Page } from "playwright-core";

import { check, env, failOutside, finish, step } from "./check.js";

const BASE = env("CONTRACT_BASE_URL");
const EXECUTABLE = process.env["CONTRACT_CHROMIUM"] || "/usr/bin/chromium";
const RUN = randomBytes(4).toString("hex");

async function call(
  method: string,
  path: string,
  token: string | null,
  body?: unknown,
): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (token) headers["Authorization"] = `Bearer ${token}`;
  const r = await fetch(`${BASE}${path}`, { method, headers, body: body === undefined ? "" : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}

async function expect(status: number, r: Promise<{ status: number; json: any }>, what: string): Promise<any> {
  const got = await r;
  check(got.status === status, `${what}: expected ${status}, got ${got.status} ${JSON.stringify(got.json)}`);
  return got.json;
}

async function login(email: string, password: string): Promise<string> {
  return (await expect(200, call("POST", "/v1/auth/login", null, { email, password }), `login ${email}`))
    .access_token as string;
}

/** The admin makes a practitioner, who changes the one-time password; returns their id and a token. */
async function practitioner(admin: string, name: string, siteId: string): Promise<{ id: string; token: string }> {
  const email = `stream-${name}.${RUN}@contract.forumnet.test`;
  const made = await expect(
    201,
    call("POST", "/v1/members", admin, {
      email,
      display_name: name,
      role: "practitioner",
      home_site_id: siteId,
      discipline: "Social work",
    }),
    `create ${name}`,
  );
  const otp = made.one_time_password as string;
  const password = `contract ${randomBytes(12).toString("base64url")}`;
  await expect(
    200,
    call("PATCH", "/v1/me", await login(email, otp), { current_password: otp, new_password: password }),
    "password change",
  );
  return { id: made.member.id as string, token: await login(email, password) };
}

interface Received {
  id: string;
  data: string;
}

/** Opens an EventSource in the page with a fresh ticket (and ?last_event_id= when given); waits for onopen. */
async function openEventSource(page: Page, token: string, lastEventId?: string): Promise<string> {
  const ticket = (await expect(201, call("POST", "/v1/me/stream-tickets", token), "POST /v1/me/stream-tickets"))
    .ticket as string;
  const query = new URLSearchParams({ ticket, ...(lastEventId ? { last_event_id: lastEventId } : {}) });
  await page.evaluate((url) => {
    const w = window as any;
    w.received = [];
    w.opened = false;
    const es = new EventSource(url);
    w.es = es;
    es.onopen = () => (w.opened = true);
    es.addEventListener("membership.invited", (e: MessageEvent) =>
      w.received.push({ id: e.lastEventId, data: e.data }),
    );
  }, `${BASE}/v1/me/notifications/stream?${query}`);
  await page.waitForFunction(() => (window as any).opened === true, undefined, { timeout: 5_000 });
  return ticket;
}

async function receivedCount(page: Page, count: number, timeoutMs: number): Promise<Received[]> {
  await page.waitForFunction((n) => (window as any).received.length >= n, count, { timeout: timeoutMs });
  return (await page.evaluate(() => (window as any).received)) as Received[];
}

async function main(): Promise<void> {
  const { convener, member, groups } = await step(
    "the admin makes a site and two practitioners; one convenes three groups",
    async () => {
      const admin = await login(env("CONTRACT_ADMIN_EMAIL"), env("CONTRACT_ADMIN_PASSWORD"));
      const site = await expect(
        201,
        call("POST", "/v1/sites", admin, { slug: `stream-${RUN}`, name: `Stream ${RUN}`, organisation: "Contract" }),
        "create site",
      );
      const convener = await practitioner(admin, "Convener", site.id as string);
      const member = await practitioner(admin, "Member", site.id as string);
      const groups: string[] = [];
      for (const n of [1, 2, 3]) {
        const g = await expect(
          201,
          call("POST", "/v1/groups", convener.token, {
            name: `Stream ${RUN} group ${n}`,
            site_id: site.id,
            purpose: "Live stream contract check.",
            composition: "multi_disciplinary",
            focus: "locality",
            min_members: 4,
            max_members: 12,
          }),
          "create group",
        );
        groups.push(g.id as string);
      }
      return { convener, member, groups };
    },
  );
  const invite = (groupId: string | undefined) =>
    expect(
      201,
      call("POST", `/v1/groups/${groupId}/members`, convener.token, { member_id: member.id, role: "member" }),
      "invite",
    );

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

    const ticket = await step("an EventSource opens the member's stream with a ticket", () =>
      openEventSource(page, member.token),
    );

    const first = await step("the convener's invitation arrives on the EventSource within a second", async () => {
      await invite(groups[0]);
      const [got] = await receivedCount(page, 1, 1_000);
      check(got !== undefined && /^[0-9]+$/.test(got.id), `lastEventId ${got?.id}`);
      const n = JSON.parse(got.data);
      check(
        n.kind === "membership.invited" && n.subject.type === "group" && n.subject.id === groups[0],
        got.data,
      );
      await page.evaluate(() => (window as any).es.close());
      return got.id;
    });

    await step("the spent ticket is 401", async () => {
      const r = await fetch(`${BASE}/v1/me/notifications/stream?ticket=${encodeURIComponent(ticket)}`);
      check(r.status === 401, `status ${r.status}`);
      await r.body?.cancel();
    });

    await step("reopened with last_event_id, the stream replays exactly the two missed invitations", async () => {
      await invite(groups[1]);
      await invite(groups[2]);
      await openEventSource(page, member.token, first);
      await receivedCount(page, 2, 2_000);
      // Anything more would come with the replay: give it a moment to show up.
      await page.waitForTimeout(500);
      const got = (await page.evaluate(() => (window as any).received)) as Received[];
      check(got.length === 2, `${got.length} events replayed: ${JSON.stringify(got)}`);
      const subjects = got.map((e) => JSON.parse(e.data).subject.id as string);
      check(subjects[0] === groups[1] && subjects[1] === groups[2], `replayed ${JSON.stringify(subjects)}`);
      const ids = got.map((e) => BigInt(e.id));
      check(ids[0]! > BigInt(first) && ids[1]! > ids[0]!, `ids ${first} then ${got.map((e) => e.id).join(", ")}`);
      await page.evaluate(() => (window as any).es.close());
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
