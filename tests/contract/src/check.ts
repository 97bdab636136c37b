// Small helpers shared by scenario.ts and docs.ts: named steps that print TAP-like lines
// ("ok 3 - ..." / "not ok 3 - ...", counted by run.sh), and status checks on openapi-fetch results.

/** What every openapi-fetch call resolves to, seen from the caller's side. */
export interface CallResult<D> {
  data?: D;
  error?: unknown;
  response: Response;
}

export class CheckError extends Error {}
/** Thrown by step() after it has printed its "not ok" line. */
export class StepFailed extends Error {}

let passed = 0;
let failed = 0;

/** Runs one named step. A failed step ends the program (later steps depend on earlier ones). */
export async function step<T>(name: string, body: () => Promise<T>): Promise<T> {
  try {
    const value = await body();
    passed++;
    console.log(`ok ${passed + failed} - ${name}`);
    return value;
  } catch (err) {
    failed++;
    console.log(`not ok ${passed + failed} - ${name}`);
    // A failed check says what it found; anything else (a crash, a timeout) shows where it happened.
    const text = err instanceof CheckError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
    console.log(text.replace(/^/gm, "  # "));
    throw new StepFailed(`step failed: ${name}`);
  }
}

/** Records a failure that happened outside any step (a crash between steps). */
export function failOutside(err: unknown): void {
  if (err instanceof StepFailed) return;
  failed++;
  console.log(`not ok ${passed + failed} - stopped outside a step`);
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  console.log(text.replace(/^/gm, "  # "));
}

/** Prints this program's tally; call it last (also after a failure). */
export function finish(program: string): number {
  console.log(`# ${program}: ${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

export function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new CheckError(message);
}

function describe(r: CallResult<unknown>): string {
  const body = r.error !== undefined ? r.error : r.data;
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return `${r.response.status} ${r.response.headers.get("content-type") ?? "(no content type)"} ${text ?? ""}`;
}

function what(r: CallResult<unknown>): string {
  const url = new URL(r.response.url);
  return `${url.pathname}${url.search}`;
}

/** The answer must have this status and a JSON body; returns the body with its generated type. */
export function expectJson<D>(r: CallResult<D>, status: number, label?: string): D {
  const name = label ?? what(r);
  check(r.response.status === status, `${name}: expected ${status}, got ${describe(r)}`);
  const type = r.response.headers.get("content-type") ?? "";
  check(/^application\/json\b/.test(type), `${name}: expected application/json, got "${type}"`);
  check(r.data !== undefined, `${name}: ${status} without a body`);
  return r.data;
}

/** The answer must be 204 with no body. */
export function expectNoContent(r: CallResult<unknown>, label?: string): void {
  const name = label ?? what(r);
  check(r.response.status === 204, `${name}: expected 204, got ${describe(r)}`);
  check(r.data === undefined, `${name}: 204 with a body`);
}

/** The answer must be an application/problem+json error with this status. */
export function expectProblem(r: CallResult<unknown>, status: number, label?: string): void {
  const name = label ?? what(r);
  check(r.response.status === status, `${name}: expected ${status}, got ${describe(r)}`);
  const type = r.response.headers.get("content-type") ?? "";
  check(/^application\/problem\+json\b/.test(type), `${name}: expected application/problem+json, got "${type}"`);
}

/** A response header that must be present. */
export function header(r: CallResult<unknown>, name: string): string {
  const value = r.response.headers.get(name);
  check(value !== null && value !== "", `${what(r)}: no ${name} header`);
  return value;
}

export function env(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") throw new CheckError(`${name} is not set (tests/contract/run.sh sets it)`);
  return value;
}
