#!/usr/bin/env bash
# Installs Pft into a scratch prefix and uses it the way a user would:
# pkg-config to compile and link a C program, the typelib from Python and
# GJS, and the VAPI from Vala, then runs the README's code blocks against
# it. The prefix is laid out as /usr/local is on Debian (default libdir,
# the Python override under the prefix's Python path), and only the
# variables the README tells users to export for such a prefix are set.
# Exits non-zero on the first failure.
#
# Usage: build-aux/check-install.sh [BUILD_DIR]   (default _build-install)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-_build-install}
prefix=$(mktemp -d /tmp/pft-prefix.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cd "$top"

echo "== installing into $prefix with build-aux/pft-dev install"
rm -rf "$build"
# Only the variables pft-dev install tells users to export (the README's).
exports=$(PFT_SKIP_DEPS=1 PFT_INSTALL_BUILD_DIR="$build" build-aux/pft-dev install "$prefix" | grep '^export ')
printf '%s\n' "$exports"
eval "$exports"
pythonpath=$PYTHONPATH
[ -f "$pythonpath/gi/overrides/Pft.py" ] ||
  { echo "the Python override is not under the prefix's Python path" >&2; exit 1; }

echo "== pkg-config --cflags --libs pft-1: $(pkg-config --cflags --libs pft-1)"
cc -o "$prefix/pft-example" examples/pft-example.c $(pkg-config --cflags --libs pft-1)
"$prefix/pft-example" >/dev/null
echo "== a C program built with pkg-config runs"

PYTHONPATH="$pythonpath" /usr/bin/python3 -c '
import gi
gi.require_version("Pft", "1")
from gi.repository import Pft
store = Pft.Store()
store["n"] = 2 ** 40
assert store["n"] == 2 ** 40, store["n"]
print("== the typelib and the override load from Python:", Pft.get_version_string())
'
gjs -c '
const Pft = imports.gi.Pft;
print("== the typelib loads from GJS:", Pft.get_version_string());
'
# The GJS override, from <prefix>/share/gjs-1.0 (on GJS's default path
# for the /usr and /usr/local prefixes): a plain Error fails the exec.
GJS_PATH="$prefix/share/gjs-1.0" gjs -c '
const {GObject, Pft} = imports.gi;
const N = GObject.registerClass(class extends Pft.Node {
    vfunc_exec_task(ctx, item, task) { task.return_error(new RangeError("plain")); }
});
try {
    new N().run(new Pft.Store(), null);
    throw new Error("the run did not fail");
} catch (e) {
    if (!(e instanceof RangeError))
        throw e;
}
print("== the GJS override loads: a JavaScript Error fails the exec");
'
cat > "$prefix/check.vala" <<'VALA'
int main () {
    var node = new Pft.ThrottledBatchNode (3, 60);
    print ("== the VAPI compiles: %s\n", node.get_type ().name ());
    return 0;
}
VALA
# No --pkg gio-2.0: the installed pft-1.deps must bring it.
valac --vapidir "$prefix/share/vala/vapi" --pkg pft-1 -o "$prefix/check-vala" "$prefix/check.vala"
"$prefix/check-vala"
echo "== the README's code blocks run against the installed prefix"
PYTHONPATH="$pythonpath" /usr/bin/python3 tests/snippets/run-snippets.py --prefix "$prefix" README.md

# The HTTP layer (libpft-http-1), when it was built (-Dhttp, on by default).
if pkg-config --exists pft-http-1; then
  echo "== pkg-config --cflags --libs pft-http-1: $(pkg-config --cflags --libs pft-http-1)"
  cat > "$prefix/check-http.c" <<'C'
#include <pft-http.h>

int
main (void)
{
  g_autoptr(PftHttpMockServer) server = pft_http_mock_server_new ();
  g_autoptr(GError) error = NULL;

  if (!pft_http_mock_server_start_in_thread (server, &error))
    g_error ("%s", error->message);
  pft_http_mock_server_stop (server);
  return 0;
}
C
  cc -o "$prefix/check-http" "$prefix/check-http.c" $(pkg-config --cflags --libs pft-http-1)
  "$prefix/check-http"
  echo "== a C program built with pkg-config pft-http-1 runs"
  cc -o "$prefix/pft-llm-demo" examples/pft-llm-demo.c $(pkg-config --cflags --libs pft-http-1) -lm
  "$prefix/pft-llm-demo" --items 20 --quiet >/dev/null
  echo "== the LLM demo built with pkg-config pft-http-1 runs its chat node against the mock"
  [ -x "$prefix/bin/pft-mock-llm" ] && "$prefix/bin/pft-mock-llm" --help >/dev/null
  echo "== pft-mock-llm is installed"
  PYTHONPATH="$pythonpath" /usr/bin/python3 -c '
import gi, json, urllib.request
gi.require_version("PftHttp", "1")
from gi.repository import PftHttp
server = PftHttp.MockServer(max_requests=5)
server.start_in_thread()
body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()
with urllib.request.urlopen(server.get_uri() + "/v1/chat/completions", body) as r:
    reply = json.load(r)
    assert r.headers["x-ratelimit-remaining-requests"] == "4", r.headers
assert reply["choices"][0]["message"]["content"] == "echo: hi", reply
stats = server.get_stats()
assert (stats.requests, stats.accepted) == (1, 1), stats.to_string()
server.stop()
print("== the PftHttp typelib works from Python: a request to the mock answered")
'
  gjs -c '
const PftHttp = imports.gi.PftHttp;
const server = new PftHttp.MockServer({max_requests: 5});
server.start_in_thread();
if (!server.get_uri().startsWith("http://127.0.0.1:") || server.get_stats().requests !== 0)
    throw new Error("unexpected mock state");
print("== the PftHttp typelib works from GJS: the mock listens on port", server.port);
server.stop();
'
  cat > "$prefix/check-http.vala" <<'VALA'
int main () {
    var server = new PftHttp.MockServer ();
    server.max_requests = 60;
    print ("== the pft-http-1 VAPI compiles: %s %u\n", server.get_type ().name (), server.max_requests);
    return 0;
}
VALA
  valac --vapidir "$prefix/share/vala/vapi" --pkg pft-http-1 -o "$prefix/check-http-vala" "$prefix/check-http.vala"
  "$prefix/check-http-vala"
elif [ "$(meson introspect "$build" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="http"][0])')" = enabled ]; then
  echo "pft-http-1 was enabled but is not installed" >&2
  exit 1
fi
echo "== install check passed"
