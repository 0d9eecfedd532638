#!/usr/bin/env bash
# Runs Mosaic's four password samples (TransmitSecurity/ciam-expressjs-vanilla-samples:
# login-with-be-mfa, login-with-mfa, password-be-authentication, password-authentication),
# UNMODIFIED, against a Latch built from this repository, and drives each sample's HTTP flow the
# way its pages' JavaScript and a browser would (curl with one cookie jar for both hosts), reading
# one-time codes from Latch's dev outbox. The samples are configured only through their
# environment variables (VITE_TS_API_BASE, VITE_TS_CLIENT_ID, TS_CLIENT_SECRET, TS_REDIRECT_URI,
# PORT), as their sample.env says.
#
# Usage: scripts/mosaic-samples/password.sh [SAMPLE...]
#   SAMPLES_DIR   a checkout of the samples with `npm install` done (default /work/samples; see
#                 README "Mosaic's password samples" for the install commands)
#   LATCH_PORT    Latch's port (default 18470); SAMPLE_PORT the sample's port (default 18480)
#   KEEP=1        keep the temporary directory (Latch's data and every process's log)
# Exit status: 0 when every sample named (default: all four) passed.
set -u
cd "$(dirname "$0")/../.."
REPO=$PWD
SAMPLES_DIR=${SAMPLES_DIR:-/work/samples}
LATCH_PORT=${LATCH_PORT:-18470}
SAMPLE_PORT=${SAMPLE_PORT:-18480}
B=http://127.0.0.1:$LATCH_PORT
S=http://localhost:$SAMPLE_PORT
REDIRECT_URI=$S/complete

command -v node >/dev/null || { echo "node is not installed (Debian: apt-get install nodejs npm)"; exit 2; }
command -v jq >/dev/null || { echo "jq is not installed"; exit 2; }
[ -d "$SAMPLES_DIR/shared" ] || { echo "no samples checkout at $SAMPLES_DIR"; exit 2; }

TMP=$(mktemp -d /tmp/latch-pw-samples.XXXXXX)
LATCH_PID=""
SAMPLE_PID=""
cleanup() {
  [ -n "$SAMPLE_PID" ] && kill -- -"$SAMPLE_PID" 2>/dev/null
  [ -n "$LATCH_PID" ] && kill "$LATCH_PID" 2>/dev/null
  wait 2>/dev/null
  if [ "${KEEP:-}" = 1 ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

step() { echo "  - $*"; }
fail() { echo "  FAIL: $*"; return 1; }

wait_http() { # url, seconds
  local i
  for i in $(seq 1 "$2"); do
    curl -s -o /dev/null "$1" && return 0
    sleep 1
  done
  return 1
}

echo "building latch"
go build -o "$TMP/latch" ./cmd/latch || exit 2
"$TMP/latch" serve --addr 127.0.0.1:$LATCH_PORT --data-dir "$TMP/data" --app-name samples >"$TMP/latch.log" 2>&1 &
LATCH_PID=$!
wait_http "$B/readyz" 30 || { echo "latch did not start:"; cat "$TMP/latch.log"; exit 2; }

# The app the samples use: its redirect URI, public sign-up, and passwords enabled.
L() { LATCH_DATA_DIR="$TMP/data" "$TMP/latch" "$@"; }
APP=$(L app create --name pw-samples --redirect-uri "$REDIRECT_URI" --allow-signup --json) || { echo "app create failed"; exit 2; }
APP_ID=$(echo "$APP" | jq -r .app_id)
CLIENT_ID=$(echo "$APP" | jq -r .client_id)
CLIENT_SECRET=$(echo "$APP" | jq -r .client_secret)
ADMIN=$(L app create --name pw-samples-admin --admin --json) || exit 2
ADMIN_TOKEN=$(curl -s $B/oidc/token -d grant_type=client_credentials -d client_id="$(echo "$ADMIN" | jq -r .client_id)" \
  -d client_secret="$(echo "$ADMIN" | jq -r .client_secret)" | jq -r .access_token)
ENABLE=$(curl -s -w '\n%{http_code}' -X PUT "$B/cis/v1/applications/$APP_ID" -H "Authorization: Bearer $ADMIN_TOKEN" \
  -H 'Content-Type: application/json' -d '{"settings":{"password_enabled":true}}')
echo "app $APP_ID client $CLIENT_ID; enable passwords: HTTP $(echo "$ENABLE" | tail -1)"

# start_sample DIR: runs the sample's own start script (vite with its express backend).
start_sample() {
  (cd "$SAMPLES_DIR/$1" && exec setsid env VITE_TS_API_BASE=$B VITE_TS_CLIENT_ID="$CLIENT_ID" TS_CLIENT_SECRET="$CLIENT_SECRET" \
    TS_REDIRECT_URI="$REDIRECT_URI" TS_APP_ID="$APP_ID" PORT=$SAMPLE_PORT npm start) >"$TMP/$1.log" 2>&1 &
  SAMPLE_PID=$!
  if ! wait_http "$S/" 60; then
    echo "  sample $1 did not start:"; tail -20 "$TMP/$1.log"; return 1
  fi
}
stop_sample() {
  [ -n "$SAMPLE_PID" ] && kill -- -"$SAMPLE_PID" 2>/dev/null
  wait "$SAMPLE_PID" 2>/dev/null
  SAMPLE_PID=""
  sleep 1
}

JAR=""
# post PATH JSON: a fetch() from the sample's page; prints "STATUS BODY".
post() {
  curl -s -b "$JAR" -c "$JAR" -o "$TMP/body" -w '%{http_code}' -X POST "$S$1" -H 'Content-Type: application/json' -d "$2" >"$TMP/status"
  echo "$(cat "$TMP/status") $(cat "$TMP/body")"
}
# follow URL: a browser navigation (redirects followed, cookies kept); prints the final URL.
follow() {
  curl -s -L --max-redirs 10 -b "$JAR" -c "$JAR" -o "$TMP/page" -w '%{url_effective}' "$1"
}
# code_for RECIPIENT: the newest code Latch "sent" to RECIPIENT (dev outbox).
code_for() {
  curl -s -G "$B/dev/outbox.json" --data-urlencode "to=$1" --data-urlencode limit=1 | jq -r '.[0].text // ""' | grep -oE '[0-9]{4,8}' | head -1
}
# jwt_claims JWT: the payload, decoded (as the samples do, without verification).
jwt_claims() {
  local p=${1#*.}; p=${p%%.*}; p=$(echo "$p" | tr '_-' '/+')
  while [ $(( ${#p} % 4 )) -ne 0 ]; do p="$p="; done
  echo "$p" | base64 -d 2>/dev/null
}

USERN=0
new_identity() {
  USERN=$((USERN + 1))
  USERNAME="sample$(date +%s)x$USERN"
  PASSWORD="violet staple orbit $RANDOM harbor $USERN"
  PHONE="+1555$(printf '%07d' $(( (RANDOM * 32768 + RANDOM) % 10000000 )))"
}

# 3.1 login-with-be-mfa: signup (username, phone, password), backend password authenticate,
# backend SMS OTP joined by session_id, /user shows the ID token with amr incl. mfa, logout.
sample_login_with_be_mfa() {
  new_identity
  local r
  r=$(post /create-user "{\"username\":\"$USERNAME\",\"password\":\"$PASSWORD\",\"phone\":\"$PHONE\"}")
  step "POST /create-user -> ${r:0:300}"
  [ "${r%% *}" = 201 ] || { fail "signup: the page wants 201"; return 1; }
  r=$(post /login "{\"username\":\"$USERNAME\",\"password\":\"$PASSWORD\"}")
  step "POST /login -> ${r:0:300}"
  [ "${r%% *}" = 200 ] || { fail "login"; return 1; }
  local code
  code=$(code_for "$PHONE")
  step "SMS code in the dev outbox for $PHONE: ${code:+found}"
  [ -n "$code" ] || { fail "no SMS code"; return 1; }
  r=$(post /verify-sms-otp "{\"otpCode\":\"$code\"}")
  step "POST /verify-sms-otp -> ${r:0:300}"
  [ "${r%% *}" = 200 ] || { fail "verify-sms-otp"; return 1; }
  r=$(curl -s -b "$JAR" "$S/user")
  step "GET /user -> amr $(echo "$r" | jq -c .result.amr)"
  echo "$r" | jq -e '.result.amr | index("mfa") and index("pwd") and index("sms")' >/dev/null || { fail "amr lacks pwd, sms or mfa"; return 1; }
  r=$(post /logout '{}')
  step "POST /logout -> ${r:0:200}"
  [ "${r%% *}" = 204 ] || { fail "logout"; return 1; }
}

# 3.2 login-with-mfa: signup, hosted password login with require_mfa, the browser follows
# result.url to /complete?error=mfa_required, the sample sends a hosted SMS OTP (require_mfa),
# its validation's result URL completes the login at /complete?code=…, exchanged; logout.
sample_login_with_mfa() {
  new_identity
  local r url final code
  r=$(post /create-user "{\"username\":\"$USERNAME\",\"password\":\"$PASSWORD\",\"phone\":\"$PHONE\"}")
  step "POST /create-user -> ${r:0:300}"
  [ "${r%% *}" = 201 ] || { fail "signup: the page wants 201"; return 1; }
  r=$(post /login "{\"username\":\"$USERNAME\",\"password\":\"$PASSWORD\"}")
  step "POST /login -> ${r:0:300}"
  [ "${r%% *}" = 200 ] || { fail "login"; return 1; }
  url=$(echo "${r#* }" | jq -r '.result.url // empty')
  [ -n "$url" ] || { fail "no result.url"; return 1; }
  final=$(follow "$url")
  step "browser follows result.url -> $final"
  case "$final" in
    "$S/pages/sms-otp.html") ;;
    *) fail "the sample should have seen error=mfa_required and sent the SMS"; return 1 ;;
  esac
  code=$(code_for "$PHONE")
  step "SMS code in the dev outbox for $PHONE: ${code:+found}"
  [ -n "$code" ] || { fail "no SMS code"; return 1; }
  r=$(post /verify-sms-otp "{\"otpCode\":\"$code\"}")
  step "POST /verify-sms-otp -> ${r:0:300}"
  [ "${r%% *}" = 200 ] || { fail "verify-sms-otp"; return 1; }
  url=$(echo "${r#* }" | jq -r '.result // empty')
  final=$(follow "$url")
  step "browser follows the validation's result -> ${final:0:120}"
  case "$final" in
    "$S/pages/complete.html?code="*) ;;
    *) fail "the login did not end with a code"; return 1 ;;
  esac
  # The sample shows the tokens only in its log (it prints the /oidc/token answer): the ID token's amr.
  local idt
  idt=$(grep -oE "id_token: '[A-Za-z0-9_.-]+'" "$TMP/login-with-mfa.log" | tail -1 | cut -d"'" -f2)
  step "the sample's ID token (from its log): amr $(jwt_claims "$idt" | jq -c .amr)"
  jwt_claims "$idt" | jq -e '.amr | index("mfa") and index("pwd") and index("sms")' >/dev/null || { fail "amr lacks pwd, sms or mfa"; return 1; }
  r=$(post /logout '{}')
  step "POST /logout (the sample's user access token) -> ${r:0:200}"
  [ "${r%% *}" = 200 ] || { fail "logout: the sample had no tokens, or Latch refused"; return 1; }
  # The sample answers {} whatever Latch said (it spreads an undefined field); its log has Latch's answer.
  grep -q "logout response is  { status: 200, data: { sessions_count: 1 } }" "$TMP/login-with-mfa.log" || { fail "Latch's logout answer is not {sessions_count: 1}"; return 1; }
  step "Latch answered the sample's logout {sessions_count: 1} (sample log)"
}

# 3.3 password-be-authentication: signup (username + password only) then backend login with
# claims.id_token.username; /user shows the username claim; logout by session_id.
sample_password_be_authentication() {
  new_identity
  local r
  r=$(post /signup "{\"username\":\"$USERNAME\",\"password\":\"$PASSWORD\"}")
  step "POST /signup -> ${r:0:300}"
  [ "${r%% *}" = 200 ] || { fail "signup+login"; return 1; }
  echo "${r#* }" | jq -e '.status == "success"' >/dev/null || { fail "signup+login did not succeed"; return 1; }
  r=$(post /logout '{}')
  step "POST /logout -> ${r:0:200}"
  [ "${r%% *}" = 204 ] || { fail "logout"; return 1; }
  r=$(post /login "{\"username\":\"$USERNAME\",\"password\":\"$PASSWORD\"}")
  step "POST /login -> ${r:0:300}"
  [ "${r%% *}" = 200 ] || { fail "login"; return 1; }
  r=$(curl -s -b "$JAR" "$S/user")
  step "GET /user -> username claim $(echo "$r" | jq -c .result.username), amr $(echo "$r" | jq -c .result.amr)"
  echo "$r" | jq -e --arg u "$USERNAME" '.result.username == $u' >/dev/null || { fail "no username claim"; return 1; }
  r=$(post /login "{\"username\":\"$USERNAME\",\"password\":\"wrong $PASSWORD\"}")
  step "POST /login with a wrong password -> ${r:0:300}"
  [ "${r%% *}" = 401 ] || { fail "a wrong password must be 401"; return 1; }
  r=$(post /logout '{}')
  step "POST /logout -> ${r:0:200}"
  [ "${r%% *}" = 204 ] || { fail "logout"; return 1; }
}

# 3.4 password-authentication: signup (username + password only) then hosted login; the browser
# follows result.url to /complete?code=…, the sample exchanges it and fetches the user by the ID
# token's sub; /user shows result.username; logout with the user access token.
sample_password_authentication() {
  new_identity
  local r url final
  r=$(post /signup "{\"username\":\"$USERNAME\",\"password\":\"$PASSWORD\"}")
  step "POST /signup -> ${r:0:300}"
  url=$(echo "${r#* }" | jq -r '.response.result.url // empty')
  [ -n "$url" ] || { fail "signup+login gave no result.url"; return 1; }
  final=$(follow "$url")
  step "browser follows result.url -> $final"
  [ "$final" = "$S/pages/home.html" ] || { fail "the login did not end on the home page"; return 1; }
  r=$(curl -s -b "$JAR" "$S/user")
  step "GET /user -> result.username $(echo "$r" | jq -c .result.username)"
  echo "$r" | jq -e --arg u "$USERNAME" '.result.username == $u' >/dev/null || { fail "no result.username"; return 1; }
  r=$(post /logout '{}')
  step "POST /logout -> ${r:0:200}"
  echo "${r#* }" | jq -e '.sessions_count >= 1' >/dev/null || { fail "logout"; return 1; }
  r=$(post /login "{\"username\":\"$USERNAME\",\"password\":\"$PASSWORD\"}")
  step "POST /login -> ${r:0:300}"
  url=$(echo "${r#* }" | jq -r '.response.result.url // empty')
  final=$(follow "$url")
  step "browser follows result.url -> $final"
  [ "$final" = "$S/pages/home.html" ] || { fail "the second login did not end on the home page"; return 1; }
  r=$(post /login "{\"username\":\"nobody$USERNAME\",\"password\":\"$PASSWORD\"}")
  step "POST /login as an unknown user -> ${r:0:300}"
  echo "${r#* }" | jq -e '.status == 401 and .error == true' >/dev/null || { fail "an unknown user must be 401"; return 1; }
}

SAMPLES=("$@")
[ ${#SAMPLES[@]} -eq 0 ] && SAMPLES=(login-with-be-mfa login-with-mfa password-be-authentication password-authentication)
FAILED=()
for s in "${SAMPLES[@]}"; do
  echo "== $s"
  JAR="$TMP/$s.cookies"
  : >"$JAR"
  if start_sample "$s" && "sample_${s//-/_}"; then
    echo "== $s: PASS"
  else
    echo "== $s: FAIL (sample log: last lines)"
    tail -15 "$TMP/$s.log" | sed 's/^/    | /'
    FAILED+=("$s")
  fi
  stop_sample
done
if [ ${#FAILED[@]} -gt 0 ]; then
  echo "failed: ${FAILED[*]}"
  exit 1
fi
echo "all passed: ${SAMPLES[*]}"
