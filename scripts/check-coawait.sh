#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Refuses the co_await forms Debian 12's g++ 12 miscompiles. In a full-expression that contains a
# co_await, g++ 12 destroys the temporaries of a conditional expression (?:) twice, or ones that
# were never built: `co_await reply(ok ? 200 : 404, ok ? fmt::format(...) : std::string(...))`
# is a `free(): double free` at -O0 and -O2 alike (clang-16 is right). So is a lambda that
# captures a std::string by value (`co_await run([s] { ... })`), and so are a co_await in an arm
# of ?:, on the right of && or ||, and inside a Catch2 CHECK/REQUIRE, all seen in corio.
# Write the ?: (or the lambda, or the co_await) as a statement of its own:
#     std::string body = ok ? fmt::format(...) : std::string(...);
#     co_await reply(ok ? 200 : 404, std::move(body));    // still refused: the int ?: too
#     int status = ok ? 200 : 404;  co_await reply(status, std::move(body));   // accepted
# The check reads statements, not lines (a statement may span lines); comments, string and
# character literals are left out, and the condition of an if/while/switch is an expression of
# its own, as is the body of a lambda.
#
#   scripts/check-coawait.sh [FILE...]   corio's tracked *.cpp, *.hpp and *.h files by default
#   scripts/check-coawait.sh --self-test checks the check against sample lines
#
# Exit status: 0 when none is found (or the self-test passes), 1 when some are (each offending
# statement is printed as FILE:LINE: why: statement) or the self-test fails, 2 on bad usage.
set -euo pipefail

# Prints FILE:LINE: why: statement for each offending statement of the given files.
scan() {
    awk '
    function reset() { stmt = ""; line = 0; depth = 0 }
    function add(s) {
        if (line == 0 && s ~ /[^ \t]/) line = FNR
        stmt = stmt s
    }
    # A statement ended: the condition of if/while/switch is checked apart from what it guards.
    function flush(    s, m, i, c, d) {
        s = stmt
        while (match(s, /^[ \t]*(else[ \t]+)?(if|while|switch)[ \t]*(constexpr[ \t]*)?\(/)) {
            d = 0
            for (i = RLENGTH; i <= length(s); i++) {
                c = substr(s, i, 1)
                if (c == "(") d++
                else if (c == ")" && --d == 0) break
            }
            check(substr(s, 1, i))
            s = substr(s, i + 1)
        }
        check(s)
        reset()
    }
    function check(s,    why) {
        if (s !~ /(^|[^A-Za-z0-9_])co_await([^A-Za-z0-9_]|$)/) return
        why = ""
        if (s ~ /\?/) why = "?: in a statement with co_await"
        else if (s ~ /(&&|\|\|)[ \t(!]*co_await([^A-Za-z0-9_]|$)/) why = "co_await on the right of && or ||"
        else if (s ~ /(^|[^A-Za-z0-9_])(CHECK|REQUIRE)[A-Z_]*[ \t]*\(/) why = "co_await inside CHECK/REQUIRE"
        else if (copies_into_lambda(s)) why = "lambda capturing by value in a statement with co_await"
        if (why == "") return
        gsub(/[ \t]+/, " ", s); sub(/^ /, "", s)
        if (length(s) > 160) s = substr(s, 1, 157) "..."
        printf "%s:%d: %s: %s\n", FILENAME, line, why, s
        bad++
    }
    # A lambda in s that captures anything by value ([=], [x], [x = ...], [*this]).
    function copies_into_lambda(s,    t, m, n, caps, i) {
        t = s
        while (match(t, /\[[^]]*\][ \t]*(\(|\{|<|mutable|->|noexcept)/)) {
            m = substr(t, RSTART + 1, RLENGTH - 1)
            t = substr(t, RSTART + RLENGTH)
            n = split(substr(m, 1, index(m, "]") - 1), caps, ",")
            for (i = 1; i <= n; i++) {
                gsub(/^[ \t]+|[ \t]+$/, "", caps[i])
                if (caps[i] != "" && caps[i] !~ /^(&|this|&[ \t]*[A-Za-z_][A-Za-z0-9_]*([ \t]*=.*)?)$/)
                    return 1
            }
        }
        return 0
    }
    # A "{" that opens a block or a body (rather than a braced initializer).
    function opens_block(    t) {
        t = stmt
        sub(/[ \t]+$/, "", t)
        if (t ~ /(^|[^A-Za-z0-9_])(namespace|class|struct|union|enum|extern)([^A-Za-z0-9_]|$)/) return 1
        if (t == "" || t ~ /[)\]};:]$/) return 1
        if (t ~ /(^|[^A-Za-z0-9_])(else|do|try|mutable|noexcept|const|override|final)$/) return 1
        if (t ~ /->[ \t]*[A-Za-z_:][A-Za-z0-9_:<>, \t*&]*$/) return 1    # trailing return type
        return 0
    }
    FNR == 1 { reset(); top = 0; comment = 0; raw = ""; directive = 0 }
    {
        text = $0
        # Preprocessor directives (and their continuation lines) are not statements.
        if (!comment && raw == "" && (directive || text ~ /^[ \t]*#/)) {
            directive = (text ~ /\\$/)
            next
        }
        out = ""
        n = length(text)
        for (i = 1; i <= n; i++) {
            c = substr(text, i, 1)
            if (comment) {
                if (substr(text, i, 2) == "*/") { comment = 0; i++ }
                continue
            }
            if (raw != "") {
                if (substr(text, i, length(raw)) == raw) { i += length(raw) - 1; raw = "" }
                continue
            }
            two = substr(text, i, 2)
            if (two == "//") break
            if (two == "/*") { comment = 1; i++; continue }
            prev = i > 1 ? substr(text, i - 1, 1) : " "
            if (c == "R" && substr(text, i + 1, 1) == "\"" && prev !~ /[A-Za-z0-9_]/ ||
                c == "R" && substr(text, i + 1, 1) == "\"" && substr(text, 1, i - 1) ~ /(^|[^A-Za-z0-9_])(u8|u|U|L)$/) {
                j = index(substr(text, i + 2), "(")
                raw = ")" substr(text, i + 2, j - 1) "\""
                out = out "\"\""
                i += j + 1
                continue
            }
            if (c == "\"" || c == "'\''") {
                # A digit separator (1'\''000), not a character literal.
                if (c == "'\''" && match(substr(text, 1, i - 1), /[0-9A-Za-z_.'\'']*$/) &&
                    substr(text, RSTART, 1) ~ /[0-9]/) {
                    out = out c
                    continue
                }
                for (j = i + 1; j <= n; j++) {
                    d = substr(text, j, 1)
                    if (d == "\\") j++
                    else if (d == c) break
                }
                out = out c c
                i = j
                continue
            }
            if (c == "(") depth++
            else if (c == ")") depth--
            if (c == ";") {
                add(out c); out = ""
                flush()
            } else if (c == "{") {
                add(out); out = ""
                if (opens_block()) {
                    # Inside an open "(" this is a lambda body: its statements are checked on
                    # their own, and the enclosing statement goes on after its "}".
                    top++
                    if (depth > 0) {
                        kind[top] = "L"; saved[top] = stmt; savedline[top] = line; saveddepth[top] = depth
                        reset()
                    } else {
                        kind[top] = "B"
                        flush()
                    }
                } else {
                    top++; kind[top] = "I"
                    add("{")
                }
            } else if (c == "}") {
                add(out); out = ""
                if (top > 0 && kind[top] == "I") { add("}"); top-- }
                else {
                    flush()
                    if (top > 0 && kind[top] == "L") {
                        stmt = saved[top] "{} "; line = savedline[top]; depth = saveddepth[top]
                    }
                    if (top > 0) top--
                }
            } else {
                out = out c
            }
        }
        add(out " ")
    }
    END { exit bad > 0 }
    ' "$@"
}

# Samples for --self-test: "+" lines must be refused, "-" lines accepted. A sample is one file;
# "@@" stands for a line break within it.
self_test() {
    local work status=0 kind sample file i=0
    work=$(mktemp -d)
    trap 'rm -rf "$work"' RETURN
    while IFS= read -r entry; do
        [ -n "$entry" ] || continue
        kind=${entry:0:1} sample=${entry:2}
        i=$((i + 1)) file="$work/sample$i.cpp"
        printf '%s\n' "${sample//@@/$'\n'}" >"$file"
        if scan "$file" >/dev/null; then
            [ "$kind" = - ] || { echo "check-coawait self-test: not refused: $sample" >&2; status=1; }
        else
            [ "$kind" = + ] || { echo "check-coawait self-test: refused: $sample" >&2; status=1; }
        fi
    done <<'SAMPLES'
+ co_await reply(ok ? 200 : 404, ok ? fmt::format("{}", n) : std::string("no"));
+ co_await reply(200, ok ? std::string(40, 'a') : std::string(50, 'b'));
+ co_await reply(200,@@    ok ? make_body() : std::string("none"));
+ co_await reply(ok ? 200 : 404, std::move(body));
+ auto r = ok ? co_await f() : co_await g();
+ total += (ok ? std::string(40, 'a') : std::string()).size() + co_await one();
+ co_await send(buffer{ok ? a : b});
+ co_await f([&] { return 1; }, ok ? x : y);
+ rt.block_on([&]() -> task<> {@@    co_await f(a ? b : c);@@}());
+ TEST_CASE("x") { auto t = [&]() -> task<> { co_await f(a ? b : c); }; }
+ co_return ok ? co_await f() : 0;
+ bool b = ready && co_await f();
+ bool b = ready ||@@    !co_await f();
+ REQUIRE(co_await f() == 1);
+ CHECK_FALSE(@@    co_await f());
+ if (a) { co_await f(b ? c : d); }
+ co_await run([s] { use(s); });
+ co_await run([s = std::move(s)]() mutable { use(s); });
+ co_await run2(x, [=, &y] { use(s); });
- std::string body = ok ? std::string("a") : std::string("b");@@co_await reply(200, std::move(body));
- int status = ok ? 200 : 404;@@co_await reply(status, std::move(body));
- co_await send(s, "GET /?a=1 HTTP/1.1\r\n");
- co_await send(s, "a \"quoted?\" : b");
- co_await f('?', ':');
- auto x = co_await f();  // not ok ? co_await a() : b
- /* co_await f(ok ? a : b); */@@co_await f();
- /* a comment@@   co_await f(ok ? a : b); */ co_await f();
- auto s = R"(co_await f(ok ? a : b);)";@@co_await f();
- co_await f(R"x(a ? b : c)x");
- if (ok ? a : b) co_await f();
- while (ok ? a : b) {@@    co_await f();@@}
- if (ok && ready) co_await f();
- auto&& x = co_await f();
- case 1: co_await f(); break;
- for (auto& x : co_await list()) {@@    use(x);@@}
- co_await f([&] { return ok ? a : b; });
- constexpr int n = 1'000'000;@@co_await f(n, 0xff'ff);
- auto v = ok ? a : b;@@co_await f(v);@@auto w = ok ? c : d;
- #define AWAIT(x) co_await (ok ? x : y)@@co_await f();
- struct s {@@    task<> f() { co_await g(); }@@    int h(bool ok) { return ok ? 1 : 2; }@@};
- my_co_await(ok ? a : b);
- co_await run([&] { use(s); });
- co_await run([&s, this, &t = u] { use(s); });
- auto fn = [s] { use(s); };@@co_await run(std::move(fn));
- auto [a, b] = co_await pair();
SAMPLES
    if ((status == 0)); then echo "check-coawait: self-test passed ($i samples)"; fi
    return "$status"
}

case ${1:-} in
    --self-test) (($# == 1)) || { echo "usage: scripts/check-coawait.sh --self-test" >&2; exit 2; }
        self_test; exit ;;
    -h | --help) awk 'NR > 2 && /^#/ { sub(/^# ?/, ""); print; next } NR > 2 { exit }' "$0"; exit 0 ;;
    -*) echo "check-coawait: unknown option '$1' (try --help)" >&2; exit 2 ;;
esac

if (($# > 0)); then
    files=("$@")
else
    cd "$(dirname "${BASH_SOURCE[0]}")/.."
    mapfile -t files < <(git grep -l -I -w 'co_await' -- '*.cpp' '*.hpp' '*.h')
fi
found=""
((${#files[@]} == 0)) || found=$(scan "${files[@]}") || true
if [ -n "$found" ]; then
    echo "check-coawait: co_await where g++ 12 mishandles temporaries (make the ?:, or the co_await, a statement of its own):" >&2
    echo "$found" >&2
    exit 1
fi
echo "check-coawait: no ?: or lambda capturing by value in a statement with co_await, no co_await after && or ||, none inside CHECK/REQUIRE (${#files[@]} files)"
