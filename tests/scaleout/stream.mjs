// The live stream across instances, for scripts/scaleout.sh. Through the balancer it makes a site and two
// practitioners (a convener and a member, each changing their one-time password), then holds two streams of
// the member (GET /v1/me/notifications/stream with the bearer token): one on instance STREAM_DIRECT_URL
// (instance 1) directly, one through the balancer. After STREAM_HOLD_MS (longer than the heartbeat and the
// balancer's 30 s timeouts: the streams must survive the wait) the convener invites the member to a new
// group twice: once straight to STREAM_OTHER_URL (instance 2, so the stream on instance 1 gets the event
// through PostgreSQL's NOTIFY only) and once through the balancer. Each stream must receive each
// membership.invited within STREAM_MAX_DELAY_MS of the invitation's answer.
//
// Prints "ok ..."/"not ok ..." lines, one line per measured delay ("delay <stream> <action> <ms after the
// answer> <ms after the request was sent>") and one per stream ("heartbeats <stream> <n>"). Exit status 0 when nothing failed.
//
//   STREAM_LB_URL, STREAM_DIRECT_URL, STREAM_OTHER_URL   balancer, instance 1, instance 2
//   STREAM_ADMIN_EMAIL, STREAM_ADMIN_PASSWORD            an existing admin
//   STREAM_HOLD_MS (32000), STREAM_MAX_DELAY_MS (1000)
//   STREAM_READY_FILE                                    touched once both streams are open
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";

const env = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`stream.mjs: ${name} is required`);
    process.exit(2);
  }
  return v.replace(/\/$/, "");
};
const LB = env("STREAM_LB_URL");
const DIRECT = env("STREAM_DIRECT_URL");
const OTHER = env("STREAM_OTHER_URL");
const HOLD_MS = Number(process.env.STREAM_HOLD_MS || 32000);
const MAX_DELAY_MS = Number(process.env.STREAM_MAX_DELAY_MS || 1000);
const RUN = randomBytes(4).toString("hex");
let failures = 0;

const ok = (text) => console.log(`ok - ${text}`);
const notOk = (text) => {
  failures++;
  console.log(`not ok - ${text}`);
};

async function call(base, method, path, token, body, requestId) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (requestId) headers["X-Request-Id"] = requestId;
  const sent = performance.now();
  const init = { method, headers, body: body === undefined ? undefined : JSON.stringify(body) };
  const r = await fetch(`${base}${path}`, init);
  const text = await r.text();
  const json = text ? JSON.parse(text) : null;
  return { status: r.status, json, sent, at: performance.now() };
}
async function expect(status, promise, what) {
  const r = await promise;
  if (r.status !== status) throw new Error(`${what}: expected ${status}, got ${r.status} ${JSON.stringify(r.json)}`);
  return r;
}
async function login(email, password) {
  const r = await expect(200, call(LB, "POST", "/v1/auth/login", null, { email, password }), `login ${email}`);
  return r.json.access_token;
}

async function practitioner(admin, name, siteId) {
  const email = `so-stream-${name}-${RUN}@scaleout.forumnet.test`;
  const account = { email, display_name: name, role: "practitioner", home_site_id: siteId, discipline: "Other" };
  const made = await expect(201, call(LB, "POST", "/v1/members", admin, account), `create ${name}`);
  const first = await login(email, made.json.one_time_password);
  const password = `scaleout ${randomBytes(12).toString("base64url")}`;
  const change = { current_password: made.json.one_time_password, new_password: password };
  await expect(200, call(LB, "PATCH", "/v1/me", first, change), "password change");
  return { id: made.json.member.id, token: await login(email, password) };
}

/** Opens a stream and reads it in the background: events land in `events` with their arrival time. */
async function openStream(name, base, token) {
  const ac = new AbortController();
  const r = await fetch(`${base}/v1/me/notifications/stream`, {
    headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream" },
    signal: ac.signal,
  });
  if (r.status !== 200) throw new Error(`stream ${name}: status ${r.status}`);
  const s = { name, events: [], heartbeats: 0, ended: null, close: () => ac.abort() };
  const waiters = new Set();
  s.waitFor = (pred, ms) =>
    new Promise((resolve) => {
      const hit = s.events.find(pred);
      if (hit) return resolve(hit);
      const w = { pred, resolve };
      waiters.add(w);
      setTimeout(() => {
        waiters.delete(w);
        resolve(null);
      }, ms);
    });
  (async () => {
    const decoder = new TextDecoder();
    let buf = "";
    try {
      for await (const chunk of r.body) {
        buf += decoder.decode(chunk, { stream: true });
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          if (block.startsWith(": keepalive")) s.heartbeats++;
          const data = block.split("\n").find((l) => l.startsWith("data: "));
          if (!data) continue;
          const e = { at: performance.now(), ...JSON.parse(data.slice(6)) };
          s.events.push(e);
          for (const w of waiters) if (w.pred(e)) (waiters.delete(w), w.resolve(e));
        }
      }
      s.ended = "the server closed it";
    } catch (err) {
      s.ended = ac.signal.aborted ? null : String(err);
    }
  })();
  return s;
}

async function main() {
  const admin = await login(env("STREAM_ADMIN_EMAIL"), env("STREAM_ADMIN_PASSWORD"));
  const site = await expect(
    201,
    call(LB, "POST", "/v1/sites", admin, { slug: `so-stream-${RUN}`, name: `Stream ${RUN}`, organisation: "Scaleout" }),
    "create site",
  );
  const convener = await practitioner(admin, "convener", site.json.id);
  const member = await practitioner(admin, "member", site.json.id);
  const streams = [await openStream("instance-1", DIRECT, member.token), await openStream("haproxy", LB, member.token)];
  ok("two streams of the member open: on instance 1 directly and through the balancer");
  if (process.env.STREAM_READY_FILE) writeFileSync(process.env.STREAM_READY_FILE, "");
  const opened = performance.now();
  await new Promise((resolve) => setTimeout(resolve, HOLD_MS));
  const held = Math.round(performance.now() - opened);
  for (const s of streams) {
    if (s.ended) notOk(`stream ${s.name} ended during the ${held} ms wait: ${s.ended}`);
    else ok(`stream ${s.name} alive after ${held} ms (${s.heartbeats} heartbeats)`);
  }

  const actions = [
    ["instance-2", OTHER],
    ["haproxy", LB],
  ];
  for (const [actionName, base] of actions) {
    const group = await expect(
      201,
      call(base, "POST", "/v1/groups", convener.token, {
        name: `Stream ${RUN} ${actionName}`,
        site_id: site.json.id,
        purpose: "Scale-out stream check.",
        composition: "multi_disciplinary",
        focus: "locality",
        min_members: 4,
        max_members: 12,
      }),
      "create group",
    );
    const requestId = `so-stream-${RUN}-${actionName}`;
    const invited = await expect(
      201,
      call(base, "POST", `/v1/groups/${group.json.id}/members`, convener.token, { member_id: member.id, role: "member" },
        requestId),
      `invite via ${actionName}`,
    );
    console.log(`request ${actionName} ${requestId}`);
    for (const s of streams) {
      const pred = (e) => e.kind === "membership.invited" && e.subject?.id === group.json.id;
      const e = await s.waitFor(pred, MAX_DELAY_MS + 1000);
      if (!e) {
        notOk(`stream ${s.name}: no membership.invited ${MAX_DELAY_MS + 1000} ms after the invitation via ${actionName}`);
        continue;
      }
      const delay = Math.round(e.at - invited.at);
      console.log(`delay ${s.name} ${actionName} ${delay} ${Math.round(e.at - invited.sent)}`);
      const text = `stream ${s.name} got the invitation made via ${actionName} ${delay} ms after its answer`;
      if (delay <= MAX_DELAY_MS) ok(text);
      else notOk(`${text} (> ${MAX_DELAY_MS})`);
    }
  }
  for (const s of streams) {
    console.log(`heartbeats ${s.name} ${s.heartbeats}`);
    s.close();
  }
}

try {
  await main();
} catch (err) {
  notOk(`stopped: ${err instanceof Error ? err.message : String(err)}`);
}
process.exit(failures === 0 ? 0 : 1);
