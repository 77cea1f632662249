#!/usr/bin/env python3
"""Prints the example CI pipeline of README.md as a shell script.

pipeline-steps.py README.md CACHE_URL
  each `run: |` step of the ```yaml block under "Example pipeline", with its
  env: lines as exports, where ${{ secrets.NAME }} is $SECRET_NAME of the
  caller's environment, and the s3:// cache URL replaced by CACHE_URL. Each
  step runs in a subshell, as CI runs it; the script stops at the first that
  fails.
"""
import re
import sys


def main():
    readme, cache = open(sys.argv[1]).read(), sys.argv[2]
    part = readme.split("#### Example pipeline", 1)[1]
    yaml = part.split("```yaml\n", 1)[1].split("```", 1)[0]
    out = ["set -e"]
    for step in re.split(r"\n      - ", yaml)[1:]:
        body = re.search(r"\n        run: \|\n((?:          .*\n|\n)+)", step + "\n")
        if not body:
            continue
        env = re.findall(r"\n          ([A-Z_]+): \$\{\{ secrets\.([A-Z_0-9]+) \}\}", step)
        lines = [f'export {k}="$SECRET_{v}"' for k, v in env]
        run = "\n".join(l[10:] for l in body.group(1).splitlines())
        run = re.sub(r"'s3://[^']*'", f"'{cache}'", run)
        out.append("(\n" + "\n".join(lines) + "\n" + run + "\n)")
    if len(out) != 3:
        sys.exit("README.md: the example pipeline does not have its two run steps")
    print("\n".join(out))


if __name__ == "__main__":
    main()
