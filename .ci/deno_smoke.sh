#!/usr/bin/env bash
# Deno smoke test: `deno run -A mod.ts up`, `version` and `seed` on the embedded PGlite (a folder in
# a temp dir) and on a real PostgreSQL server (a fresh database, created and dropped here).
# Runs from a checkout after `npm ci`: Deno comes from node_modules/.bin and resolves the
# npm packages from node_modules (deno.json: "nodeModulesDir": "manual"), so no network.
#
#   .ci/deno_smoke.sh
#   STRATA_SMOKE_PG_URL=postgres://postgres@db:5432/test .ci/deno_smoke.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

deno="${DENO:-$root/node_modules/.bin/deno}"
if [[ ! -x "$deno" ]]; then
  deno="$(command -v deno || true)"
fi
if [[ -z "$deno" ]]; then
  echo "FAIL deno not found: run npm ci (deno is a devDependency) or set DENO" >&2
  exit 1
fi

admin_url="${STRATA_SMOKE_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
migrations="$root/migrations"

# The highest version among the example migrations (000004_... -> 4).
expected=0
for file in "$migrations"/*.up.sql; do
  name="${file##*/}"
  version="$((10#${name%%_*}))"
  if ((version > expected)); then expected="$version"; fi
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/strata-deno-smoke.XXXXXX")"
db_name="strata_deno_smoke_$$_${RANDOM}"
db_created=0
failures=0

cleanup() {
  if [[ "$db_created" == 1 ]]; then
    psql -X -q -v ON_ERROR_STOP=1 -d "$admin_url" -c "DROP DATABASE IF EXISTS \"$db_name\" WITH (FORCE)" >/dev/null ||
      echo "WARN could not drop database $db_name" >&2
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

pass() { echo "ok   $1"; }
fail() {
  echo "FAIL $1" >&2
  failures=$((failures + 1))
}

strata() {
  "$deno" run -A mod.ts -path "$migrations" "$@"
}

# smoke BACKEND URL: up, version == expected, up again is a no-op at the same version.
smoke() {
  local backend="$1" url="$2" out

  if out="$(strata -database "$url" up 2>&1)"; then
    pass "$backend: deno run -A mod.ts up exits 0"
  else
    fail "$backend: deno run -A mod.ts up exited $?:"$'\n'"$out"
    return
  fi

  if out="$(strata -database "$url" version 2>&1)" && [[ "$out" == "$expected" ]]; then
    pass "$backend: deno run -A mod.ts version prints $expected"
  else
    fail "$backend: deno run -A mod.ts version printed '$out', expected '$expected'"
  fi

  if out="$(strata -database "$url" up 2>&1)" && [[ "$(strata -database "$url" version 2>&1)" == "$expected" ]]; then
    pass "$backend: a second up exits 0 and leaves version $expected"
  else
    fail "$backend: a second up failed or moved the version:"$'\n'"$out"
  fi

  # Seeds: the .ts seed (Web Crypto password hash) runs under Deno too; a re-run inserts nothing.
  if out="$("$deno" run -A mod.ts -database "$url" seed -seeds "$root/seeds" 2>&1)" &&
    grep -q "admin_user.ts.*1 inserted" <<<"$out"; then
    pass "$backend: deno run -A mod.ts seed inserts the example rows"
  else
    fail "$backend: deno run -A mod.ts seed:"$'\n'"$out"
  fi
  if out="$("$deno" run -A mod.ts -database "$url" seed -seeds "$root/seeds" 2>&1)" &&
    ! grep -q "[1-9][0-9]* inserted" <<<"$out"; then
    pass "$backend: a second deno seed inserts nothing"
  else
    fail "$backend: a second deno seed inserted rows:"$'\n'"$out"
  fi
}

echo "deno: $("$deno" --version | head -n 1), migrations: $migrations (expect version $expected)"

# A bundle as the README makes it, imported and type-checked in this repository: its
# declaration file imports "strata/core", which deno.json maps to core.ts.
if out="$("$deno" run -A mod.ts bundle -path "$migrations" -out "$root/.strata/smoke-bundle/migrations.bundle.js" 2>&1)" &&
  printf 'import bundle from "./migrations.bundle.js";\nimport { bundledSource } from "strata/core";\nconsole.log(typeof bundledSource(bundle).list);\n' \
    >"$root/.strata/smoke-bundle/use.ts" &&
  out="$("$deno" check "$root/.strata/smoke-bundle/use.ts" 2>&1)"; then
  pass "deno check of a bundle's module importing strata/core"
else
  fail "deno check of a bundle's module importing strata/core:"$'\n'"$out"
fi
rm -rf "$root/.strata/smoke-bundle"

smoke pglite "pglite://$tmp/pglite"

if ! psql -X -q -v ON_ERROR_STOP=1 -d "$admin_url" -c "CREATE DATABASE \"$db_name\"" >/dev/null; then
  fail "postgres: cannot create a database through $(sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#' <<<"$admin_url")"
else
  db_created=1
  # Same server and query string as the admin URL, with the new database as the path.
  base="${admin_url%%\?*}"
  query=""
  [[ "$admin_url" == *\?* ]] && query="?${admin_url#*\?}"
  smoke postgres "${base%/*}/$db_name$query"
fi

if ((failures > 0)); then
  echo "FAIL deno smoke: $failures check(s) failed" >&2
  exit 1
fi
echo "ok   deno smoke: all checks passed"
