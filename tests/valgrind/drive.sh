#!/usr/bin/env bash
# Drives a running forumnet through its main routes (tests/valgrind/run.sh uses it; it works against any server
# with the demo network). One "round" is a full story: logins (right, wrong, unknown), refresh rotation and reuse,
# logout, sites and managers, members, /v1/me (update, password change, export, erasure), a forum group with a
# join request, terms, meetings and attendance, a consultation from draft to outcome with a group's response, a
# partner with its client-credentials token, an event with idempotent replays, registrations and the calendar feed,
# summaries (JSON and CSV), the audit log, and the error paths (404, 405, 412, 413, 415, 400, 401, 409, 422, 428).
# Rounds repeat until the time is up; every answer's status is counted.
#
#   drive.sh BASE_URL SECONDS ADMIN_EMAIL ADMIN_PASSWORD [MAX_ROUNDS]
#
# Prints "status NNN: COUNT" lines and "rounds: N" at the end. Exit status 0 when every request got an HTTP
# answer with the status the story expects, 1 otherwise (the unexpected ones are listed).
set -uo pipefail

API=$1
SECONDS_TO_RUN=$2
ADMIN_EMAIL=$3
ADMIN_PASSWORD=$4
MAX_ROUNDS=${5:-1000}
J='Content-Type: application/json'
TMP=$(mktemp -d /tmp/forumnet-drive.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
declare -A COUNTS=()
UNEXPECTED=()
BODY=$TMP/body
HDRS=$TMP/headers

# req EXPECTED METHOD PATH TOKEN [BODY|-] [CURL ARGS...]: one exchange; the body is left in $BODY, the headers in
# $HDRS. EXPECTED is a status or a list such as "200|201"; "-" accepts anything that is an HTTP answer.
req() {
  local expected=$1 method=$2 path=$3 token=$4 body=${5:--}
  shift 5 2>/dev/null || shift $#
  local args=(-s -o "$BODY" -D "$HDRS" -w '%{http_code}' -X "$method" --max-time 60)
  [[ -n "$token" ]] && args+=(-H "Authorization: Bearer $token")
  [[ "$body" != - ]] && args+=(-H "$J" --data-binary "$body")
  local code
  code=$(curl "${args[@]}" "$@" "$API$path") || code=000
  COUNTS[$code]=$((${COUNTS[$code]:-0} + 1))
  if [[ "$expected" != - && "|$expected|" != *"|$code|"* ]] || [[ $code == 000 ]]; then
    UNEXPECTED+=("$method $path: expected $expected, got $code $(head -c 200 "$BODY" 2>/dev/null)")
  fi
}
j() { jq -r "$1" <"$BODY" 2>/dev/null; }
etag() { awk 'tolower($1) == "etag:" { sub(/\r$/, "", $2); print $2 }' "$HDRS"; }
login() { # login EMAIL PASSWORD -> sets TOKEN REFRESH
  req 200 POST /v1/auth/login '' "{\"email\":\"$1\",\"password\":\"$2\"}"
  TOKEN=$(j .access_token)
  REFRESH=$(j .refresh_token)
}
new_member() { # new_member TOKEN ROLE SITE -> sets M_ID M_PW M_EMAIL
  M_EMAIL="drive.$2.$RANDOM$RANDOM.$R@drive.forumnet.test"
  req 201 POST /v1/members "$1" \
    "{\"email\":\"$M_EMAIL\",\"display_name\":\"Drive $2 $R\",\"role\":\"$2\"${3:+,\"home_site_id\":\"$3\"}}"
  M_ID=$(j .member.id)
  M_PW=$(j .one_time_password)
}
own_password() { # own_password EMAIL ONE_TIME_PASSWORD NEW_PASSWORD -> sets TOKEN REFRESH (the new password's)
  login "$1" "$2"
  req 403 GET /v1/sites "$TOKEN" # a one-time password opens only GET|PATCH /v1/me
  req 200 PATCH /v1/me "$TOKEN" "{\"current_password\":\"$2\",\"new_password\":\"$3\"}"
  req 401 GET /v1/me "$TOKEN" # the change ended the token it was made with
  login "$1" "$3"
}

round() {
  R=$1
  local tag=r$R$RANDOM
  # --- operations and plain errors ---
  req 200 GET /healthz ''
  req 200 GET /readyz ''
  req 200 GET /metrics ''
  req 200 GET /openapi.json ''
  req - GET /docs ''
  req 404 GET /v1/no-such-thing ''
  req 405 DELETE /healthz ''
  req 401 GET /v1/me ''
  req 401 GET /v1/me 'not.a.token'
  req 401 GET /v1/me 'eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4In0.'

  # --- auth ---
  login "$ADMIN_EMAIL" "$ADMIN_PASSWORD"
  local at=$TOKEN rt=$REFRESH
  req 401 POST /v1/auth/login '' "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"wrong password $R\"}"
  req 401 POST /v1/auth/login '' "{\"email\":\"nobody.$tag@drive.forumnet.test\",\"password\":\"whatever it is\"}"
  req 200 POST /v1/auth/refresh '' "{\"refresh_token\":\"$rt\"}"
  local rt2
  rt2=$(j .refresh_token)
  req 401 POST /v1/auth/refresh '' "{\"refresh_token\":\"$rt\"}" # reuse: the chain is revoked
  req 204 POST /v1/auth/logout '' "{\"refresh_token\":\"$rt2\"}"
  req 200 GET /v1/me "$at"

  # --- request-level errors ---
  req 415 POST /v1/sites "$at" - -H 'Content-Type: text/plain' --data-binary 'slug=x'
  req 400 POST /v1/sites "$at" '{"slug": "x",'
  req 400 POST /v1/sites "$at" '{"slug":"a-b","slug":"c-d","name":"n","organisation":"o"}'
  req 400 POST /v1/sites "$at" '{"slug":"bad slug!","name":"","unknown":1}'
  head -c 1100000 /dev/zero | tr '\0' 'a' >"$TMP/big"
  req 413 POST /v1/sites "$at" - -H "$J" --data-binary "@$TMP/big"
  req 400 GET '/v1/sites?limit=0' "$at"
  req 400 GET '/v1/sites?cursor=garbage' "$at"

  # --- sites and managers ---
  req 201 POST /v1/sites "$at" "{\"slug\":\"drive-$tag\",\"name\":\"Drive $tag\",\"organisation\":\"Drive Trust\",\"region\":\"North\"}"
  local site
  site=$(j .id)
  req 304 GET "/v1/sites/$site" "$at" - -H 'If-None-Match: "1"'
  req 200 PATCH "/v1/sites/$site" "$at" '{"region":"West"}' -H 'If-Match: "1"'
  req 412 PATCH "/v1/sites/$site" "$at" '{"region":"East"}' -H 'If-Match: "1"'
  req 409 POST /v1/sites "$at" "{\"slug\":\"drive-$tag\",\"name\":\"Again\",\"organisation\":\"Drive Trust\"}"
  req 200 GET '/v1/sites?limit=2' "$at"
  local cursor
  cursor=$(j .next_cursor)
  [[ -n "$cursor" && "$cursor" != null ]] && req 200 GET "/v1/sites?limit=2&cursor=$cursor" "$at"

  # --- members ---
  new_member "$at" manager ''
  local mgr_id=$M_ID mgr_email=$M_EMAIL mgr_pw=$M_PW
  req 204 PUT "/v1/sites/$site/managers/$mgr_id" "$at"
  req 200 GET "/v1/sites/$site/managers" "$at"
  new_member "$at" practitioner "$site"
  local p1_id=$M_ID p1_email=$M_EMAIL p1_pw=$M_PW
  new_member "$at" practitioner "$site"
  local p2_id=$M_ID p2_email=$M_EMAIL p2_pw=$M_PW
  req 409 POST /v1/members "$at" "{\"email\":\"$p1_email\",\"display_name\":\"Duplicate member\",\"role\":\"practitioner\",\"home_site_id\":\"$site\"}"
  req 200 GET "/v1/members?site_id=$site&role=practitioner&q=drive" "$at"
  req 200 GET "/v1/members/$p1_id" "$at"
  req 200 PATCH "/v1/members/$p2_id" "$at" '{"discipline":"Family support"}'
  own_password "$mgr_email" "$mgr_pw" "drive manager passphrase $R"
  local mt=$TOKEN
  own_password "$p1_email" "$p1_pw" "drive convener passphrase $R"
  local pt=$TOKEN
  own_password "$p2_email" "$p2_pw" "a new long passphrase $R"
  local pt2=$TOKEN
  req 200 PATCH /v1/me "$pt" "{\"display_name\":\"Drive convener $R\"}"
  req 200 GET /v1/me/export "$pt"
  req 403 GET /v1/members "$pt"

  # --- a forum group ---
  req 201 POST /v1/groups "$pt" "{\"name\":\"Drive group $tag\",\"site_id\":\"$site\",\"focus\":\"specialism\",\"min_members\":2}"
  local group
  group=$(j .id)
  req 200 GET "/v1/groups?site_id=$site&status=forming" "$pt"
  req 200 GET '/v1/groups?mine=true' "$pt"
  req 201 POST "/v1/groups/$group/members" "$pt2" '{}'
  req 200 PATCH "/v1/groups/$group/members/$p2_id" "$pt" '{"state":"active"}'
  req 200 GET "/v1/groups/$group/members" "$pt"
  req 200 GET "/v1/groups/$group/members/$p2_id" "$pt2"
  req 201 POST "/v1/groups/$group/terms" "$pt" '{"body":"What is said here stays here.","review_on":"2099-06-01"}'
  req '200|201' POST "/v1/groups/$group/terms/1/acceptances" "$pt" '{}'
  req '200|201' POST "/v1/groups/$group/terms/1/acceptances" "$pt2" '{}'
  req 200 GET "/v1/groups/$group/terms" "$pt"
  req 200 GET "/v1/groups/$group" "$pt"
  req 201 POST "/v1/groups/$group/meetings" "$pt" \
    '{"starts_at":"2026-01-10T10:00:00Z","ends_at":"2026-01-10T11:30:00Z","location":"Room 2","agenda":"Cases","themes":["caseload","supervision"]}'
  local meeting
  meeting=$(j .id)
  req 200 PUT "/v1/groups/$group/meetings/$meeting/attendance" "$pt" \
    "{\"attendance\":[{\"member_id\":\"$p1_id\",\"status\":\"present\"},{\"member_id\":\"$p2_id\",\"status\":\"absent\"}]}"
  local etag
  etag=$(etag)
  req 200 PATCH "/v1/groups/$group/meetings/$meeting" "$pt" '{"notes":"Only members read this."}' -H "If-Match: $etag"
  req 412 PATCH "/v1/groups/$group/meetings/$meeting" "$pt" '{"notes":"Stale."}' -H "If-Match: $etag"
  req 200 GET "/v1/groups/$group/meetings" "$pt2"
  req 200 GET "/v1/groups/$group/meetings/$meeting" "$pt2"
  req 403 GET "/v1/groups/$group/meetings/$meeting" "$mt"

  # --- a consultation ---
  req 201 POST /v1/consultations "$mt" "{\"title\":\"Drive consultation $tag\",\"summary\":\"Waiting rooms\",
    \"questions\":[{\"id\":\"q1\",\"text\":\"What works?\"},{\"id\":\"q2\",\"text\":\"What should change?\"}],
    \"target\":{\"site_ids\":[\"$site\"],\"group_ids\":[]},
    \"opens_at\":\"2020-01-01T09:00:00Z\",\"closes_at\":\"2099-01-31T17:00:00Z\"}"
  local consultation
  consultation=$(j .id)
  req 200 PATCH "/v1/consultations/$consultation" "$mt" '{"status":"open"}'
  req 201 PUT "/v1/consultations/$consultation/responses/$group" "$pt" \
    '{"answers":[{"question_id":"q1","text":"Warm staff"}],"status":"draft"}'
  req 428 PUT "/v1/consultations/$consultation/responses/$group" "$pt" '{"answers":[],"status":"draft"}'
  req 200 PUT "/v1/consultations/$consultation/responses/$group" "$pt" \
    '{"answers":[{"question_id":"q1","text":"Warm staff"},{"question_id":"q2","text":"Toys"}],"status":"submitted"}' \
    -H 'If-Match: "1"'
  req 200 GET "/v1/consultations/$consultation/responses" "$mt"
  req 200 GET "/v1/consultations/$consultation" "$pt2"
  req 200 GET '/v1/consultations?limit=5' "$mt"
  req 200 PATCH "/v1/consultations/$consultation" "$mt" '{"status":"closed"}'
  req 409 PATCH "/v1/consultations/$consultation" "$mt" '{"status":"open"}'
  req 200 PUT "/v1/consultations/$consultation/outcome" "$mt" \
    '{"summary":"You said toys; we bought them.","actions":[{"text":"Buy toys","status":"done"}]}'

  # --- a partner and its events ---
  req 201 POST /v1/partners "$at" "{\"name\":\"Drive partner $tag\"}"
  local partner client_id client_secret
  partner=$(j .id)
  client_id=$(j .client_id)
  client_secret=$(j .client_secret)
  req 200 POST /v1/auth/token '' - \
    --data "grant_type=client_credentials&client_id=$client_id&client_secret=$client_secret&scope=events:write"
  local ptok
  ptok=$(j .access_token)
  req 401 POST /v1/auth/token '' "{\"grant_type\":\"client_credentials\",\"client_id\":\"$client_id\",\"client_secret\":\"wrong\"}"
  local event_body="{\"kind\":\"seminar\",\"title\":\"Drive seminar $tag\",\"starts_at\":\"2099-02-10T10:00:00Z\",
    \"ends_at\":\"2099-02-10T16:00:00Z\",\"location\":\"Glasgow\",\"audience\":{\"scope\":\"network\"},
    \"capacity\":1,\"external_id\":\"drive-$tag\"}"
  req 201 POST /v1/events "$ptok" "$event_body" -H "Idempotency-Key: key-$tag"
  local event
  event=$(j .id)
  req 201 POST /v1/events "$ptok" "$event_body" -H "Idempotency-Key: key-$tag"
  req 422 POST /v1/events "$ptok" "${event_body/Glasgow/Leeds}" -H "Idempotency-Key: key-$tag"
  req 409 POST /v1/events "$ptok" "$event_body" -H "Idempotency-Key: other-$tag"
  req 200 PATCH "/v1/events/$event" "$ptok" '{"location":"Glasgow, Room 4","capacity":2}' -H 'If-Match: "1"'
  req 200 PATCH "/v1/events/$event" "$at" '{"status":"published"}'
  req 201 PUT "/v1/events/$event/registration" "$pt" '{"status":"going"}'
  req 201 PUT "/v1/events/$event/registration" "$pt2" '{"status":"going"}'
  req 201 PUT "/v1/events/$event/registration" "$mt" '{"status":"going"}' # waitlisted
  req 200 PUT "/v1/events/$event/registration" "$pt" '{"status":"declined"}' # the waitlisted one moves up
  req 200 GET "/v1/events/$event/registrations" "$at"
  req 403 GET "/v1/events/$event/registrations" "$ptok"
  req 200 GET "/v1/events/$event" "$pt2"
  req 200 GET '/v1/events?limit=5' "$pt"
  req 200 GET /v1/events.ics "$pt"
  req 401 GET /v1/sites "$ptok"
  req 204 DELETE "/v1/events/$event" "$ptok"
  req 200 POST "/v1/partners/$partner/credentials" "$at"
  req 200 GET "/v1/partners/$partner" "$at"
  req 200 GET /v1/partners "$at"
  req 204 DELETE "/v1/partners/$partner" "$at"
  req 401 GET '/v1/events?limit=1' "$ptok"

  # --- summaries and audit ---
  req 200 GET "/v1/sites/$site/summary?from=2026-01-01T00:00:00Z&to=2026-12-31T00:00:00Z" "$mt"
  req 200 GET '/v1/summaries/sites?limit=50' "$at"
  req 200 GET /v1/summaries/sites "$at" - -H 'Accept: text/csv'
  req 200 GET '/v1/audit?limit=20' "$at"
  req 403 GET /v1/audit "$pt"

  # --- erasure and clean-up ---
  req 204 DELETE "/v1/members/$p2_id" "$at"
  req 401 POST /v1/auth/login '' "{\"email\":\"$p2_email\",\"password\":\"a new long passphrase $R\"}"
  req 204 DELETE "/v1/sites/$site/managers/$mgr_id" "$at"
  req 200 PATCH "/v1/groups/$group" "$pt" '{"status":"dormant"}'
  req 204 DELETE "/v1/groups/$group" "$pt"
  req 204 DELETE /v1/me "$pt"
  req 401 GET /v1/me "$pt"
  req 204 DELETE "/v1/sites/$site" "$at"
  req 200 GET "/v1/sites?include_archived=true&limit=5" "$at"
}

START=$SECONDS
ROUNDS=0
while ((ROUNDS < MAX_ROUNDS)) && ((ROUNDS == 0 || SECONDS - START < SECONDS_TO_RUN)); do
  ROUNDS=$((ROUNDS + 1))
  round "$ROUNDS"
done
for code in $(printf '%s\n' "${!COUNTS[@]}" | sort); do
  echo "status $code: ${COUNTS[$code]}"
done
echo "rounds: $ROUNDS"
if ((${#UNEXPECTED[@]} > 0)); then
  echo "unexpected answers (${#UNEXPECTED[@]}):"
  printf '  %s\n' "${UNEXPECTED[@]}" | head -n 40
  exit 1
fi
