// Bounded write load for scripts/scaleout.sh: LOAD_WORKERS loops, each sending POST /v1/sites with a unique
// slug (the write's key) through the balancer, one request at a time with LOAD_PAUSE_MS between them, until
// SIGTERM (or LOAD_SECONDS). Every request becomes one line of LOAD_OUT (JSON):
//   {"key":"so-sigterm-2-17","status":201,"t0":..., "t1":..., "retryAfter":null,"error":null}
// t0/t1 are milliseconds since the epoch; status 0 means no HTTP answer (error says why). A write is
// acknowledged when its status is 201. The script checks nothing itself: scaleout.sh compares the lines with
// the rows in the database.
//
//   LOAD_URL      the balancer, e.g. http://127.0.0.1:18080
//   LOAD_TOKEN    an admin's access token
//   LOAD_PREFIX   the keys' prefix (lowercase letters, digits and hyphens), e.g. so-sigterm
//   LOAD_OUT      the output file
//   LOAD_WORKERS (4), LOAD_PAUSE_MS (10), LOAD_SECONDS (60), LOAD_TIMEOUT_MS (10000)
import http from "node:http";
import { writeFileSync } from "node:fs";

const url = new URL(process.env.LOAD_URL);
const token = process.env.LOAD_TOKEN;
const prefix = process.env.LOAD_PREFIX;
const out = process.env.LOAD_OUT;
const workers = Number(process.env.LOAD_WORKERS || 4);
const pauseMs = Number(process.env.LOAD_PAUSE_MS || 10);
const seconds = Number(process.env.LOAD_SECONDS || 60);
const timeoutMs = Number(process.env.LOAD_TIMEOUT_MS || 10000);
if (!url || !token || !prefix || !out) {
  console.error("load.mjs: LOAD_URL, LOAD_TOKEN, LOAD_PREFIX and LOAD_OUT are required");
  process.exit(2);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: workers });
const lines = [];
let stopping = false;
const stop = () => {
  stopping = true;
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
setTimeout(stop, seconds * 1000).unref();

function post(key) {
  const body = JSON.stringify({ slug: key, name: `Scaleout ${key}`, organisation: "Scaleout load", region: "Loopback" });
  return new Promise((resolve) => {
    const t0 = Date.now();
    const rec = { key, status: 0, t0, t1: 0, retryAfter: null, error: null };
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: "/v1/sites",
        method: "POST",
        agent,
        timeout: timeoutMs,
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
        },
      },
      (res) => {
        rec.status = res.statusCode;
        rec.retryAfter = res.headers["retry-after"] ?? null;
        res.resume();
        res.on("end", () => {
          rec.t1 = Date.now();
          resolve(rec);
        });
        res.on("error", (e) => {
          rec.error = String(e.code || e.message);
          rec.t1 = Date.now();
          resolve(rec);
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e) => {
      rec.status = 0;
      rec.error = String(e.code || e.message);
      rec.t1 = Date.now();
      resolve(rec);
    });
    req.end(body);
  });
}

async function worker(w) {
  for (let n = 0; !stopping; n++) {
    lines.push(await post(`${prefix}-${w}-${n}`));
    if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
  }
}

await Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
agent.destroy();
writeFileSync(out, lines.map((l) => JSON.stringify(l)).join("\n") + (lines.length ? "\n" : ""));
