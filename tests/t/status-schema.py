#!/usr/bin/env python3
"""Checks a 'cim-agent status --json' document against agent/status-schema.json.

status-schema.py SRC STATUS.json [--complete]
  every key printed is in the schema, with its type; every 'always' key is
  printed; with --complete, every key of the schema is printed. Also: every
  key of the state table in SRC/agent/state.c is in the schema as state.KEY,
  and README.md's state file table names each.
"""
import json
import re
import sys

TYPES = {"string": str, "integer": int, "boolean": bool, "object": dict, "array": list}


def walk(value, path, out):
    out[path] = value
    if isinstance(value, dict):
        for k, v in value.items():
            walk(v, f"{path}.{k}" if path else k, out)
    elif isinstance(value, list):
        for v in value:
            walk(v, f"{path}[]", out)


def schema_entry(keys, path):
    if path in keys:
        return path
    parent = path.rsplit(".", 1)[0] if "." in path else ""
    if parent and f"{parent}.*" in keys:
        return f"{parent}.*"
    return None


def main():
    src, doc_file = sys.argv[1], sys.argv[2]
    complete = "--complete" in sys.argv[3:]
    schema = json.load(open(f"{src}/agent/status-schema.json"))
    keys = schema["keys"]
    doc = json.load(open(doc_file))
    problems = []

    if doc.get("status_schema") != schema["status_schema"]:
        problems.append(f"status_schema is {doc.get('status_schema')!r}, the schema file says {schema['status_schema']}")
    printed = {}
    walk(doc, "", printed)
    del printed[""]
    seen = set()
    for path, value in printed.items():
        entry = schema_entry(keys, path)
        if entry is None:
            problems.append(f"{path}: printed but not in agent/status-schema.json")
            continue
        seen.add(entry)
        want = TYPES[keys[entry]["type"]]
        # a JSON boolean is not an integer here, and an integer not a boolean
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            problems.append(f"{path}: {type(value).__name__}, the schema says {keys[entry]['type']}")
    for path, entry in keys.items():
        if path not in seen and (entry.get("always") or complete):
            problems.append(f"{path}: in the schema but not printed")

    state_c = open(f"{src}/agent/state.c").read()
    table = re.findall(r'F\("([a-z_]+)"', state_c)
    if len(table) < 10:
        problems.append("agent/state.c: no key table found")
    readme = open(f"{src}/README.md").read()
    section = readme.split("### The state file (`state.json`)", 1)[-1].split("\n#", 1)[0]
    for k in table + ["failed_commits", "metrics", "schema"]:
        if f"state.{k}" not in keys:
            problems.append(f"state.{k}: a key of agent/state.c missing from agent/status-schema.json")
        if f"`{k}`" not in section:
            problems.append(f"{k}: a key of agent/state.c missing from README.md's state file table")

    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
