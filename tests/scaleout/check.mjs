// Checks one fault's write load (tests/scaleout/load.mjs) against the database, for scripts/scaleout.sh.
//   node check.mjs FAULT LOAD_OUT ROWS FAULT_AT_MS
// ROWS: the slugs the database holds with the load's prefix, one per line (a slug twice = a duplicate).
// FAULT: sigterm | sigterm-nodrain | sigkill | promote. Rules, for every fault: no acknowledged (201) write missing from the
// database, none there twice, no 409 (a write that reached the database twice), no row for a key never sent.
// Non-2xx answers allowed:
//   sigterm  none (the instance drains; HAProxy retries only refused connections)
//   sigkill  502 (or no answer) for the requests in flight on the killed instance at FAULT_AT_MS: nobody can
//            answer those (their outcome is unknown to the client: such a write may or may not exist)
//   sigterm-nodrain  as sigkill: a server without a drain delay (FORUMNET_DRAIN_MS) closes its connections at
//            once, so an answer in flight can be lost
//   promote  503 with Retry-After (the promotion window)
// Prints one line of figures; exit status 1 when a rule is broken (each broken rule on its own line).
import { readFileSync } from "node:fs";

const [fault, loadOut, rowsFile, faultAtArg] = process.argv.slice(2);
const faultAt = Number(faultAtArg);
// FAULT_AT_MS is read just before the signal is sent (scaleout.sh runs `date`, then `kill`): on a busy machine
// the signal lands some milliseconds later, and a request sent in between was still in flight on the instance.
const SIGNAL_MARGIN_MS = 50;
// CHECK_FAULT_END_MS (sigkill): when the killed process was reaped. Until then its listen queue could still take a
// connection that the kernel then resets (seen: a request sent 53 ms after FAULT_AT on a loaded machine).
const faultEnd = Math.max(faultAt + SIGNAL_MARGIN_MS, Number(process.env.CHECK_FAULT_END_MS) || 0);
const reqs = readFileSync(loadOut, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
const rows = readFileSync(rowsFile, "utf8").split("\n").filter(Boolean);

const rowCount = new Map();
for (const r of rows) rowCount.set(r, (rowCount.get(r) || 0) + 1);
const sent = new Set(reqs.map((r) => r.key));

const broken = [];
let acked = 0, lost = 0, ambiguous = 0, allowed = 0;
const statusCount = new Map();
let first = null, last = null;
for (const r of reqs) {
  const label = r.status === 0 ? `no answer (${r.error})` : String(r.status);
  statusCount.set(label, (statusCount.get(label) || 0) + 1);
  const ok = r.status >= 200 && r.status < 300;
  if (r.status === 201) {
    acked++;
    if (!rowCount.has(r.key)) {
      lost++;
      broken.push(`LOST: ${r.key} was acknowledged (201) but is not in the database`);
    }
  } else if (rowCount.has(r.key)) {
    ambiguous++;
  }
  if (r.status === 409) broken.push(`DUPLICATE: ${r.key} answered 409: the write reached the database twice`);
  if (ok) continue;
  first = first === null ? r.t0 : Math.min(first, r.t0);
  last = last === null ? r.t1 : Math.max(last, r.t1);
  let fine = false;
  if (fault === "sigkill" || fault === "sigterm-nodrain") fine = (r.status === 502 || r.status === 0) && r.t0 <= faultEnd && r.t1 >= faultAt;
  else if (fault === "promote") fine = r.status === 503 && r.retryAfter !== null;
  if (fine) allowed++;
  else if (r.status !== 409)
    broken.push(`UNEXPECTED: ${r.key} answered ${label}${r.retryAfter === null ? "" : ` (Retry-After ${r.retryAfter})`} at +${r.t0 - faultAt} ms from the fault`);
}
let dup = 0;
for (const [key, n] of rowCount) {
  if (n > 1) {
    dup++;
    broken.push(`DUPLICATE: ${key} is in the database ${n} times`);
  }
  if (!sent.has(key)) broken.push(`FOREIGN: ${key} is in the database but was never sent`);
}
const statuses = [...statusCount].map(([s, n]) => `${n} x ${s}`).join(", ");
const window = first === null ? "none" : `${last - first} ms`;
console.log(
  `${fault}: ${reqs.length} writes (${statuses}); ${acked} acknowledged, ${lost} lost, ${dup} duplicated, ` +
    `${ambiguous} unacknowledged but present; ${allowed} allowed non-2xx; non-2xx window ${window}`,
);
for (const b of broken.slice(0, 20)) console.log(`  ${b}`);
if (broken.length > 20) console.log(`  ... and ${broken.length - 20} more`);
if (process.env.CHECK_WINDOW_FILE) {
  const { writeFileSync } = await import("node:fs");
  writeFileSync(process.env.CHECK_WINDOW_FILE, window);
}
process.exit(broken.length ? 1 : 0);
