#!/usr/bin/env python3
"""Lint every rule fixture with seatbelt and with squawk; print what each reports.

Usage (from migcheck/lint):
    go build -o /tmp/seatbelt ../../cmd/seatbelt
    python3 testdata/compare_squawk.py /tmp/seatbelt path/to/squawk > /tmp/compare.md
The output is the table SQUAWK.md is written from.
"""
import glob, json, os, subprocess, sys

seatbelt, squawk = sys.argv[1], sys.argv[2]

def ours(paths, strict):
    """Rules seatbelt reports per file; the files are linted as one sequence."""
    args = [seatbelt, "migrate", "lint", "--format", "json", *paths]
    if strict:
        args.append("--strict")
    out = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "DATABASE_URL": ""}).stdout
    doc = json.JSONDecoder().raw_decode(out)[0]
    found = {p: set() for p in paths}
    for f in doc["findings"]:
        found[f["path"]].add(f["rule"])
    for e in doc["errors"]:
        found[e["path"]].add("SYNTAX")
    return {p: sorted(r) for p, r in found.items()}

def theirs(path, *extra):
    out = subprocess.run([squawk, "--reporter", "json", *extra, path], capture_output=True, text=True).stdout
    try:
        return sorted({v["rule_name"] for v in json.loads(out or "[]")})
    except json.JSONDecodeError:
        return ["(squawk output not JSON: %s)" % out.strip()[:80]]

print("| fixture | seatbelt | squawk | squawk --assume-in-transaction |")
print("|---|---|---|---|")
for rule_dir in sorted(glob.glob("testdata/rules/*/")):
    strict = rule_dir.endswith("/index-in-migration/")
    files = sorted(glob.glob(rule_dir + "*.sql"))
    # Each bad file alone; the good files (one safe rewrite, possibly over
    # several migrations) in order.
    found = {}
    for path in files:
        if os.path.basename(path).startswith("bad"):
            found.update(ours([path], strict))
    found.update(ours([p for p in files if os.path.basename(p).startswith("good")], strict))
    for path in files:
        row = [path.removeprefix("testdata/rules/"), ", ".join(found[path]) or "-",
               ", ".join(theirs(path)) or "-", ", ".join(theirs(path, "--assume-in-transaction")) or "-"]
        print("| " + " | ".join(row) + " |")
