// The whole product through a client generated from openapi/openapi.yaml (npm run generate ->
// src/api.d.ts). Every request and every answer goes through the generated types: if the document
// and this walk disagree on a path, a parameter, a body or a response shape, `tsc --noEmit` fails;
// if the server answers another status or content type than the walk expects, or values the walk
// checks differ, a step fails. (Validating every answer against the JSON Schemas is the e2e suite's
// job: tools/validate-responses.mjs.)
//
//   CONTRACT_BASE_URL        e.g. http://127.0.0.1:8123 (a running `forumnet serve`)
//   CONTRACT_ADMIN_EMAIL     an admin made with `forumnet admin create`
//   CONTRACT_ADMIN_PASSWORD
import { deepStrictEqual } from "node:assert/strict";
import { randomBytes } from "node:crypto";

import createClient, { type Client, type Middleware } from "openapi-fetch";

import type { components, paths } from "./api.js";
import {
  check,
  CheckError,
  env,
  expectJson,
  expectNoContent,
  expectProblem,
  failOutside,
  finish,
  header,
  step,
} from "./check.js";

type Schemas = components["schemas"];
type Api = Client<paths>;
type JsonBody<T extends { requestBody?: unknown }> =
  NonNullable<T["requestBody"]> extends { content: { "application/json": infer B } } ? B : never;
type EventCreate = JsonBody<paths["/v1/events"]["post"]>;

const BASE = env("CONTRACT_BASE_URL");
const RUN = randomBytes(4).toString("hex"); // keeps emails, slugs and external ids unique per run

let calls = 0;
/** Every answer carries X-Request-Id, whatever its status (README, "What every answer has in common"). */
const everyAnswer: Middleware = {
  onResponse({ request, response }) {
    calls++;
    if (!response.headers.get("x-request-id")) {
      throw new CheckError(`${request.method} ${new URL(request.url).pathname}: no X-Request-Id header`);
    }
    return undefined;
  },
};

function client(token?: string): Api {
  const api = createClient<paths>({
    baseUrl: BASE,
    headers: token === undefined ? {} : { Authorization: `Bearer ${token}` },
  });
  api.use(everyAnswer);
  return api;
}

/** RFC 3339 without fractions, `ms` from now. */
function at(ms: number): string {
  return new Date(Date.now() + ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}
const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;

function newPassword(): string {
  return `contract ${randomBytes(12).toString("base64url")}`;
}

interface Actor {
  member: Schemas["Member"];
  password: string;
  api: Api;
}

const anonymous = client();

async function login(email: string, password: string): Promise<Schemas["TokenPair"]> {
  const r = await anonymous.POST("/v1/auth/login", { body: { email, password } });
  const pair = expectJson(r, 200);
  check(pair.token_type === "Bearer", `token_type is ${pair.token_type}`);
  check(pair.access_token.split(".").length === 3, "access_token is not a JWT");
  check(pair.member.email === email.toLowerCase(), `logged in as ${pair.member.email}, not ${email}`);
  return pair;
}

/** An admin or manager makes an account; its owner logs in with the one-time password and sets their own. */
async function onboard(
  by: Api,
  role: Schemas["Role"],
  name: string,
  siteId: string,
  discipline: string,
): Promise<Actor> {
  const email = `${name.toLowerCase()}.${RUN}@contract.forumnet.test`;
  const created = await by.POST("/v1/members", {
    body: { email, display_name: name, role, home_site_id: siteId, discipline },
  });
  const { member, one_time_password } = expectJson(created, 201);
  // Without "send_invite" the answer carries the one-time password (optional in the schema since issue 16).
  if (one_time_password === undefined) throw new Error("POST /v1/members without send_invite returned no one_time_password");
  check(header(created, "location") === `/v1/members/${member.id}`, "Location is not the new member");
  check(member.role === role && member.home_site_id === siteId && member.status === "active", "member fields");

  const first = await login(email, one_time_password);
  const firstApi = client(first.access_token);
  const me = expectJson(await firstApi.GET("/v1/me"), 200);
  check(me.must_change_password, "a new account must change its password");

  const password = newPassword();
  const changed = await firstApi.PATCH("/v1/me", {
    body: { current_password: one_time_password, new_password: password },
  });
  check(!expectJson(changed, 200).must_change_password, "must_change_password still set after the change");

  // The one-time password is spent; the new one works.
  expectProblem(await anonymous.POST("/v1/auth/login", { body: { email, password: one_time_password } }), 401);
  const pair = await login(email, password);
  return { member: pair.member, password, api: client(pair.access_token) };
}

async function main(): Promise<void> {
  console.log(`# scenario against ${BASE} (run ${RUN})`);

  // --- operations ----------------------------------------------------------------------------------
  await step("GET /healthz and /readyz answer 200", async () => {
    check(expectJson(await anonymous.GET("/healthz"), 200).status === "ok", "healthz status");
    check(expectJson(await anonymous.GET("/readyz"), 200).status === "ready", "readyz status");
  });

  // --- admin sets up a site, a manager and four practitioners ------------------------------------------
  const admin = await step("admin logs in; refresh rotates and the spent token is refused", async () => {
    const pair = await login(env("CONTRACT_ADMIN_EMAIL"), env("CONTRACT_ADMIN_PASSWORD"));
    check(pair.member.role === "admin", `role is ${pair.member.role}`);
    const rotated = expectJson(
      await anonymous.POST("/v1/auth/refresh", { body: { refresh_token: pair.refresh_token } }),
      200,
    );
    check(rotated.refresh_token !== pair.refresh_token, "refresh did not rotate");
    expectProblem(await anonymous.POST("/v1/auth/refresh", { body: { refresh_token: pair.refresh_token } }), 401);
    // Reusing a spent token revokes the chain, so log in afresh for the rest of the walk.
    const again = await login(env("CONTRACT_ADMIN_EMAIL"), env("CONTRACT_ADMIN_PASSWORD"));
    return { pair: again, api: client(again.access_token) };
  });

  const site = await step("admin creates a site (201, Location, ETag); If-None-Match gives 304", async () => {
    const r = await admin.api.POST("/v1/sites", {
      body: {
        slug: `contract-${RUN}`,
        name: `Contract forum base ${RUN}`,
        organisation: "Contract City Council",
        region: "Testshire",
        timezone: "Europe/London",
      },
    });
    const created = expectJson(r, 201);
    check(header(r, "location") === `/v1/sites/${created.id}`, "Location");
    check(header(r, "etag") === `"${created.version}"`, "ETag is the version in quotes");
    check(created.archived_at === null && created.version === 1, "a new site");
    const again = await admin.api.GET("/v1/sites/{site_id}", {
      params: { path: { site_id: created.id }, header: { "If-None-Match": `"${created.version}"` } },
    });
    check(again.response.status === 304, `expected 304, got ${again.response.status}`);
    const listed = expectJson(await admin.api.GET("/v1/sites", { params: { query: { limit: 200 } } }), 200);
    check(
      listed.items.some((s) => s.id === created.id) || listed.next_cursor !== null,
      "the new site is not in the list",
    );
    return created;
  });

  const manager = await step("admin creates a manager, who sets a password; PUT managers lists them", async () => {
    const m = await onboard(admin.api, "manager", "Morgan", site.id, "Service management");
    expectNoContent(
      await admin.api.PUT("/v1/sites/{site_id}/managers/{member_id}", {
        params: { path: { site_id: site.id, member_id: m.member.id } },
      }),
    );
    const managers = expectJson(
      await admin.api.GET("/v1/sites/{site_id}/managers", { params: { path: { site_id: site.id } } }),
      200,
    );
    check(
      managers.items.length === 1 && managers.items[0]?.member_id === m.member.id,
      "the manager is not listed",
    );
    return m;
  });

  const names = ["Amara", "Bilal", "Chloe", "Dev"] as const;
  const disciplines = ["Social work", "Midwifery", "Family support", "Health visiting"] as const;
  const practitioners: Actor[] = [];
  for (let i = 0; i < names.length; i++) {
    const name = names[i] ?? "";
    practitioners.push(
      await step(`admin creates practitioner ${name}, who logs in with the one-time password and changes it`, () =>
        onboard(admin.api, "practitioner", name, site.id, disciplines[i] ?? "Other"),
      ),
    );
  }
  const [convener, ...colleagues] = practitioners;
  check(convener !== undefined && colleagues.length === 3, "four practitioners");

  await step("the manager finds the site's practitioners", async () => {
    const list = expectJson(
      await manager.api.GET("/v1/members", { params: { query: { site_id: site.id, role: "practitioner" } } }),
      200,
    );
    const ids = new Set(list.items.map((m) => m.id));
    check(
      practitioners.every((p) => ids.has(p.member.id)),
      "not every practitioner is listed",
    );
  });

  // --- a group forms and agrees terms ---------------------------------------------------------------
  const group = await step("a practitioner proposes a group and becomes its convener (forming)", async () => {
    const r = await convener.api.POST("/v1/groups", {
      body: {
        name: `Reflective practice ${RUN}`,
        site_id: site.id,
        purpose: "Talk through hard cases with colleagues from other disciplines.",
        composition: "multi_disciplinary",
        focus: "locality",
        min_members: 4,
        max_members: 12,
      },
    });
    const g = expectJson(r, 201);
    check(header(r, "location") === `/v1/groups/${g.id}`, "Location");
    check(g.status === "forming", `status ${g.status}`);
    check(g.member_count === 1 && g.terms_version === 0, `member_count ${g.member_count}, terms ${g.terms_version}`);
    check(g.my_membership?.role === "convener" && g.my_membership.state === "active", "the proposer convenes");
    return g;
  });
  const groupPath = { group_id: group.id };

  await step("the convener invites the three others, who each accept", async () => {
    for (const c of colleagues) {
      const invited = expectJson(
        await convener.api.POST("/v1/groups/{group_id}/members", {
          params: { path: groupPath },
          body: { member_id: c.member.id, role: "member" },
        }),
        201,
      );
      check(invited.state === "invited" && invited.member_id === c.member.id, `invitation state ${invited.state}`);
    }
    for (const c of colleagues) {
      const accepted = expectJson(
        await c.api.PATCH("/v1/groups/{group_id}/members/{member_id}", {
          params: { path: { ...groupPath, member_id: c.member.id } },
          body: { state: "active" },
        }),
        200,
      );
      check(accepted.state === "active" && accepted.joined_at !== null, `state ${accepted.state}`);
    }
    const members = expectJson(
      await convener.api.GET("/v1/groups/{group_id}/members", { params: { path: groupPath } }),
      200,
    );
    check(members.items.filter((m) => m.state === "active").length === 4, "four active members");
    const g = expectJson(await convener.api.GET("/v1/groups/{group_id}", { params: { path: groupPath } }), 200);
    check(g.status === "forming" && g.member_count === 4, `no terms yet: ${g.status}, ${g.member_count} members`);
  });

  const terms = await step("the convener publishes terms of reference (version 1)", async () => {
    const t = expectJson(
      await convener.api.POST("/v1/groups/{group_id}/terms", {
        params: { path: groupPath },
        body: { body: "What is said here stays here. We meet monthly.", review_on: "2027-06-01" },
      }),
      201,
    );
    check(t.version === 1 && t.accepted_count === 0, `version ${t.version}, accepted ${t.accepted_count}`);
    return t;
  });

  await step("every member accepts the terms; the group is active only after the last one", async () => {
    for (const [i, p] of practitioners.entries()) {
      const accepted = expectJson(
        await p.api.POST("/v1/groups/{group_id}/terms/{version}/acceptances", {
          params: { path: { ...groupPath, version: terms.version } },
        }),
        201,
      );
      check(accepted.accepted_count === i + 1, `accepted_count ${accepted.accepted_count} after ${i + 1}`);
      const g = expectJson(await p.api.GET("/v1/groups/{group_id}", { params: { path: groupPath } }), 200);
      const expected = i === practitioners.length - 1 ? "active" : "forming";
      check(g.status === expected, `after ${i + 1} acceptances the group is ${g.status}, not ${expected}`);
    }
    // Accepting again is not an error: 200, same terms.
    const again = expectJson(
      await convener.api.POST("/v1/groups/{group_id}/terms/{version}/acceptances", {
        params: { path: { ...groupPath, version: terms.version } },
        body: { accepted: true },
      }),
      200,
    );
    check(again.accepted_count === 4, `accepted_count ${again.accepted_count}`);
  });

  await step("the convener records yesterday's meeting and who came", async () => {
    const r = await convener.api.POST("/v1/groups/{group_id}/meetings", {
      params: { path: groupPath },
      body: {
        starts_at: at(-DAY),
        ends_at: at(-DAY + 1.5 * HOUR),
        location: "Room 2",
        online: false,
        agenda: "Cases and caseloads",
        themes: ["Caseload", "supervision", "caseload"],
      },
    });
    const meeting = expectJson(r, 201);
    deepStrictEqual(meeting.themes, ["caseload", "supervision"]);
    const etag = header(r, "etag");
    const recorded = expectJson(
      await convener.api.PUT("/v1/groups/{group_id}/meetings/{meeting_id}/attendance", {
        params: { path: { ...groupPath, meeting_id: meeting.id }, header: { "If-Match": etag } },
        body: {
          attendance: practitioners.map((p, i) => ({
            member_id: p.member.id,
            status: i === 3 ? ("apologies" as const) : ("present" as const),
          })),
        },
      }),
      200,
    );
    check(recorded.attendance.length === 4 && recorded.version === meeting.version + 1, "attendance recorded");
  });

  // --- the group talks between meetings ----------------------------------------------------------------
  await step("the group discusses between meetings: a thread, replies, unread counts, search, an edit", async () => {
    const [first, second] = colleagues;
    check(first !== undefined && second !== undefined, "two colleagues");
    const opened = await convener.api.POST("/v1/groups/{group_id}/threads", {
      params: { path: groupPath },
      body: { title: "Waiting lists over the summer", body: "How is everyone managing the waiting list?" },
    });
    const thread = expectJson(opened, 201);
    check(header(opened, "location") === `/v1/groups/${group.id}/threads/${thread.id}`, "thread Location");
    check(thread.post_count === 1 && thread.unread_count === 0, `post_count ${thread.post_count}`);
    const threadPath = { ...groupPath, thread_id: thread.id };
    const reply = expectJson(
      await first.api.POST("/v1/groups/{group_id}/threads/{thread_id}/posts", {
        params: { path: threadPath },
        body: { body: "We started a shared rota for duty cover." },
      }),
      201,
    );
    const seen = expectJson(
      await convener.api.GET("/v1/groups/{group_id}/threads/{thread_id}", { params: { path: threadPath } }),
      200,
    );
    check(seen.post_count === 2 && seen.unread_count === 1, `convener unread ${seen.unread_count}`);
    expectNoContent(
      await convener.api.PUT("/v1/groups/{group_id}/threads/{thread_id}/read", {
        params: { path: threadPath },
        body: { post_id: reply.id },
      }),
    );
    const list = expectJson(
      await second.api.GET("/v1/groups/{group_id}/threads", { params: { path: groupPath, query: { q: "rota" } } }),
      200,
    );
    check(list.items.length === 1 && list.items[0]?.unread_count === 2, "search finds the thread, unread 2");
    const postPath = { ...threadPath, post_id: reply.id };
    const got = await first.api.GET("/v1/groups/{group_id}/threads/{thread_id}/posts/{post_id}", {
      params: { path: postPath },
    });
    expectJson(got, 200);
    const edited = expectJson(
      await first.api.PATCH("/v1/groups/{group_id}/threads/{thread_id}/posts/{post_id}", {
        params: { path: postPath, header: { "If-Match": header(got, "etag") } },
        body: { body: "We started a shared rota for duty cover (edited)." },
      }),
      200,
    );
    check(edited.edited_at !== null && edited.version === 2, "edited");
    expectProblem(
      await second.api.PATCH("/v1/groups/{group_id}/threads/{thread_id}/posts/{post_id}", {
        params: { path: postPath },
        body: { body: "Not mine" },
      }),
      403,
    );
    expectProblem(
      await manager.api.GET("/v1/groups/{group_id}/threads", { params: { path: groupPath } }),
      404,
      "a manager of the site never reads the discussion",
    );
    const posts = expectJson(
      await second.api.GET("/v1/groups/{group_id}/threads/{thread_id}/posts", { params: { path: threadPath } }),
      200,
    );
    check(posts.items.length === 2 && posts.items[0]?.author.id === convener.member.id, "posts oldest first");
  });

  // --- a consultation runs to an outcome -------------------------------------------------------------
  const consultation = await step("the manager drafts a consultation of the site and opens it", async () => {
    const r = await manager.api.POST("/v1/consultations", {
      body: {
        title: "Waiting rooms",
        summary: "How do families experience our waiting rooms?",
        questions: [
          { id: "q1", text: "What works?" },
          { id: "q2", text: "What should change?" },
        ],
        target: { site_ids: [site.id], group_ids: [] },
        opens_at: at(-HOUR), // the planned opening; the summary counts consultations open during its window
        closes_at: at(30 * DAY),
      },
    });
    const draft = expectJson(r, 201);
    check(draft.status === "draft" && draft.owner_id === manager.member.id, `status ${draft.status}`);
    const opened = expectJson(
      await manager.api.PATCH("/v1/consultations/{consultation_id}", {
        params: { path: { consultation_id: draft.id }, header: { "If-Match": header(r, "etag") } },
        body: { status: "open" },
      }),
      200,
    );
    check(opened.status === "open", `status ${opened.status}`);
    // The site's practitioners see it now.
    const seen = expectJson(
      await convener.api.GET("/v1/consultations/{consultation_id}", { params: { path: { consultation_id: draft.id } } }),
      200,
    );
    check(seen.status === "open", "a member of the site sees the open consultation");
    return opened;
  });
  const responsePath = { consultation_id: consultation.id, group_id: group.id };

  await step("the convener drafts the group's response, then submits it with If-Match (428 without)", async () => {
    const first = await convener.api.PUT("/v1/consultations/{consultation_id}/responses/{group_id}", {
      params: { path: responsePath },
      body: { answers: [{ question_id: "q1", text: "Warm staff" }], status: "draft" },
    });
    const draft = expectJson(first, 201);
    check(draft.status === "draft" && draft.submitted_at === null, `status ${draft.status}`);
    const etag = header(first, "etag");
    check(etag === `"${draft.version}"`, `ETag ${etag}`);

    const answers: Schemas["Answers"] = [
      { question_id: "q1", text: "Warm staff" },
      { question_id: "q2", text: "Toys, and somewhere quiet to feed a baby" },
    ];
    expectProblem(
      await convener.api.PUT("/v1/consultations/{consultation_id}/responses/{group_id}", {
        params: { path: responsePath },
        body: { answers, status: "submitted" },
      }),
      428,
    );
    expectProblem(
      await convener.api.PUT("/v1/consultations/{consultation_id}/responses/{group_id}", {
        params: { path: responsePath, header: { "If-Match": `"${draft.version + 7}"` } },
        body: { answers, status: "submitted" },
      }),
      412,
    );
    const submitted = expectJson(
      await convener.api.PUT("/v1/consultations/{consultation_id}/responses/{group_id}", {
        params: { path: responsePath, header: { "If-Match": etag } },
        body: { answers, status: "submitted" },
      }),
      200,
    );
    check(submitted.status === "submitted" && submitted.submitted_at !== null, `status ${submitted.status}`);
    deepStrictEqual(submitted.answers, answers);
  });

  await step("the manager reads the submitted response, closes the consultation and publishes an outcome", async () => {
    const consultationPath = { consultation_id: consultation.id };
    const responses = expectJson(
      await manager.api.GET("/v1/consultations/{consultation_id}/responses", { params: { path: consultationPath } }),
      200,
    );
    check(responses.items.length === 1 && responses.items[0]?.group_id === group.id, "one submitted response");
    const withRate = expectJson(
      await manager.api.GET("/v1/consultations/{consultation_id}", { params: { path: consultationPath } }),
      200,
    );
    check(withRate.response_rate !== null, "the owner sees the response rate");
    deepStrictEqual(withRate.response_rate, { targeted: 1, submitted: 1, rate: 1 });

    const closed = expectJson(
      await manager.api.PATCH("/v1/consultations/{consultation_id}", {
        params: { path: consultationPath },
        body: { status: "closed" },
      }),
      200,
    );
    check(closed.status === "closed", `status ${closed.status}`);
    expectProblem(
      await convener.api.PUT("/v1/consultations/{consultation_id}/responses/{group_id}", {
        params: { path: responsePath, header: { "If-Match": `"${responses.items[0]?.version ?? 0}"` } },
        body: { answers: [], status: "draft" },
      }),
      409,
    );

    const outcome = expectJson(
      await manager.api.PUT("/v1/consultations/{consultation_id}/outcome", {
        params: { path: consultationPath },
        body: {
          summary: "You said the rooms need toys; we bought them.",
          actions: [
            { text: "Buy toys", status: "done" },
            { text: "A feeding corner", status: "planned" },
          ],
        },
      }),
      200,
    );
    check(outcome.status === "outcome_published", `status ${outcome.status}`);
    check(outcome.outcome !== null && outcome.outcome.actions.length === 2, "the outcome is on the consultation");
    const seen = expectJson(
      await convener.api.GET("/v1/consultations/{consultation_id}", { params: { path: consultationPath } }),
      200,
    );
    check(seen.outcome?.summary === outcome.outcome.summary, "members read the outcome");
  });

  // --- a partner posts an event, members register ----------------------------------------------------
  const partner = await step("admin registers a partner (client_secret shown once)", async () => {
    const r = await admin.api.POST("/v1/partners", { body: { name: `Contract Learning Trust ${RUN}` } });
    const p = expectJson(r, 201);
    check(p.client_id.startsWith("fnp_"), `client_id ${p.client_id}`);
    check(typeof p.client_secret === "string" && p.client_secret.length >= 16, "client_secret");
    check(p.trusted === false, "a new partner is not trusted");
    return { id: p.id, clientId: p.client_id, clientSecret: p.client_secret };
  });

  const partnerApi = await step("the partner gets a token with client credentials (form-encoded)", async () => {
    const r = await anonymous.POST("/v1/auth/token", {
      body: {
        grant_type: "client_credentials",
        client_id: partner.clientId,
        client_secret: partner.clientSecret,
        scope: "events:write",
      },
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    const token = expectJson(r, 200);
    check(token.token_type === "Bearer" && token.expires_in > 0, `token_type ${token.token_type}`);
    // A partner token is not a member token.
    expectProblem(await client(token.access_token).GET("/v1/me"), 401);
    return client(token.access_token);
  });

  const event = await step("the partner posts an event with an Idempotency-Key and retries it", async () => {
    const key = `contract-${RUN}-event-1`;
    const body: EventCreate = {
      kind: "seminar",
      title: "Relationships matter",
      description: "A day on relationship-based practice.",
      starts_at: at(20 * DAY),
      ends_at: at(20 * DAY + 6 * HOUR),
      location: "Glasgow",
      audience: { scope: "sites", site_ids: [site.id] },
      capacity: 2,
      external_id: `contract-${RUN}-seminar`,
    };
    const first = await partnerApi.POST("/v1/events", { params: { header: { "Idempotency-Key": key } }, body });
    const created = expectJson(first, 201);
    check(created.status === "pending", `status ${created.status}`);
    check(created.partner_id === partner.id, "the event belongs to the partner");
    const location = header(first, "location");
    check(location === `/v1/events/${created.id}`, `Location ${location}`);
    check(first.response.headers.get("idempotent-replayed") === null, "the first answer is not a replay");

    const retry = await partnerApi.POST("/v1/events", { params: { header: { "Idempotency-Key": key } }, body });
    const replayed = expectJson(retry, 201);
    check(header(retry, "idempotent-replayed") === "true", "Idempotent-Replayed: true");
    check(header(retry, "location") === location, "the replay has the same Location");
    deepStrictEqual(replayed, created);

    // Same key, different body: 422. New key, same external_id: 409.
    expectProblem(
      await partnerApi.POST("/v1/events", {
        params: { header: { "Idempotency-Key": key } },
        body: { ...body, title: "Something else" },
      }),
      422,
    );
    expectProblem(
      await partnerApi.POST("/v1/events", { params: { header: { "Idempotency-Key": `${key}-2` } }, body }),
      409,
    );
    return created;
  });
  const eventPath = { event_id: event.id };

  await step("the manager of the audience site publishes the event", async () => {
    const published = expectJson(
      await manager.api.PATCH("/v1/events/{event_id}", {
        params: { path: eventPath, header: { "If-Match": `"${event.version}"` } },
        body: { status: "published" },
      }),
      200,
    );
    check(published.status === "published", `status ${published.status}`);
  });

  await step("four practitioners register for two places: two going, two waitlisted", async () => {
    const answers: string[] = [];
    for (const p of practitioners) {
      const r = await p.api.PUT("/v1/events/{event_id}/registration", {
        params: { path: eventPath },
        body: { status: "going" },
      });
      const registration = expectJson(r, 201);
      check(registration.member_id === p.member.id, "the registration is the caller's");
      answers.push(registration.status);
    }
    deepStrictEqual(answers, ["going", "going", "waitlisted", "waitlisted"]);
    // The owner (the partner) reads counts, never names.
    const seen = expectJson(await partnerApi.GET("/v1/events/{event_id}", { params: { path: eventPath } }), 200);
    const counts = seen.registration_counts;
    check(counts !== null, "the owning partner reads registration_counts");
    check(counts.going === 2 && counts.waitlisted === 2, `counts ${JSON.stringify(counts)}`);
    expectProblem(
      await partnerApi.GET("/v1/events/{event_id}/registrations", { params: { path: eventPath } }),
      403,
    );
    const mine = expectJson(await convener.api.GET("/v1/events/{event_id}", { params: { path: eventPath } }), 200);
    check(mine.my_registration?.status === "going", "the member sees their own registration");
    check(mine.registration_counts === null, "a member who does not own the event reads no counts");
  });

  // --- the manager reads the summary ----------------------------------------------------------------
  await step("the manager reads the site's summary: types, counts and suppression agree", async () => {
    const r = await manager.api.GET("/v1/sites/{site_id}/summary", { params: { path: { site_id: site.id } } });
    const s = expectJson(r, 200);
    check(s.site_id === site.id && s.site_name === site.name, "site_id and site_name");
    check(!Number.isNaN(Date.parse(s.from)) && Date.parse(s.from) < Date.parse(s.to), "from is before to");
    deepStrictEqual(s.groups, { forming: 0, active: 1, dormant: 0, closed: 0 });
    check(s.practitioners === 4, `practitioners ${s.practitioners}`);
    check(s.practitioners_in_groups === 4, `practitioners_in_groups ${s.practitioners_in_groups}`);
    check(s.practitioner_share === 1, `practitioner_share ${s.practitioner_share}`);
    check(s.meetings_held === 1, `meetings_held ${s.meetings_held}`);
    check(s.mean_attendance_rate === 0.75, `mean_attendance_rate ${s.mean_attendance_rate}`);
    // One group asked and one submitted: a numerator below the threshold, so the rate and that count are
    // suppressed (API.md section 8).
    check(
      s.consultations.groups_targeted === 1 && s.consultations.groups_submitted === null,
      `consultations ${JSON.stringify(s.consultations)}`,
    );
    check(s.consultations.response_rate === null, `response_rate ${s.consultations.response_rate}`);
    check(
      s.suppressed.includes("consultations.groups_submitted") && s.suppressed.includes("consultations.response_rate"),
      `suppressed ${JSON.stringify(s.suppressed)}`,
    );
    // The window used: whole UTC days, at least 7, covering the one asked for.
    const used = { from: Date.parse(s.window.from), to: Date.parse(s.window.to) };
    check(
      used.from % 86400000 === 0 && used.to % 86400000 === 0 && used.to - used.from >= 7 * 86400000,
      `window ${JSON.stringify(s.window)}`,
    );
    check(used.from <= Date.parse(s.from) && used.to >= Date.parse(s.to), "the window used covers the one asked");
    check(s.consultations.open === 0, `open consultations ${s.consultations.open}`);
    // Network-wide events of other tests sharing the database count for every site.
    check(s.upcoming_events >= 1, `upcoming_events ${s.upcoming_events}`);
    check(Array.isArray(s.top_themes), "top_themes is a list");
    for (const t of s.top_themes) check(typeof t.theme === "string" && Number.isInteger(t.meetings), "a theme row");
    // A suppressed people count is null and named in `suppressed`, and only then.
    const people = ["active_members", "practitioners", "practitioners_in_groups", "event_registrations"] as const;
    for (const key of people) {
      const value = s[key];
      check(
        (value === null) === s.suppressed.includes(key),
        `${key} is ${String(value)} but suppressed is ${JSON.stringify(s.suppressed)}`,
      );
      check(value === null || (Number.isInteger(value) && value >= 3), `${key} ${String(value)} below the threshold`);
    }
    check(s.event_registrations === 4, `event_registrations ${s.event_registrations} (two going, two waitlisted)`);
    // Members never read summaries.
    expectProblem(
      await convener.api.GET("/v1/sites/{site_id}/summary", { params: { path: { site_id: site.id } } }),
      403,
    );
  });

  await step("admin logs out (204) and the refresh token stops working", async () => {
    expectNoContent(await anonymous.POST("/v1/auth/logout", { body: { refresh_token: admin.pair.refresh_token } }));
    expectProblem(
      await anonymous.POST("/v1/auth/refresh", { body: { refresh_token: admin.pair.refresh_token } }),
      401,
    );
  });

  console.log(`# ${calls} requests, each answered with X-Request-Id`);
}

try {
  await main();
} catch (err) {
  failOutside(err);
}
process.exitCode = finish("scenario");
