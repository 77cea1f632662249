#!/usr/bin/env python3
"""Refuses test bodies whose && chain is broken, in the spirit of git's t/chainlint.pl.

A test body is the second argument of test_expect_success. Inside it, every command
must be joined to the next one by &&, || or |: a newline or ';' between two commands
throws away the result of the first, so a failing step would go unnoticed. Allowed
breaks: after an opener (then, do, else, {, (, a case pattern), before a closer (fi,
done, esac, }, ), then, do, else, elif, ;;), before exit or return (the body fails
anyway), and after '&' (a background job).

usage: chainlint.py FILE...   exit 1 when a body is broken, naming file and line.
"""
import re
import sys

OPENERS = {"then", "do", "else", "{", "(", "elif", "if", "while", "until", "!"}
CLOSERS = {"fi", "done", "esac", "}", ")", "then", "do", "else", "elif", ";;"}
CHAIN = {"&&", "||", "|"}


def read_word(src, i):
    """Reads one shell word of a .t file starting at src[i] (a quote); returns (text, end)."""
    out = []
    while i < len(src) and not src[i].isspace():
        c = src[i]
        if c == "'":
            j = src.index("'", i + 1)
            out.append(src[i + 1:j])
            i = j + 1
        elif c == '"':
            i += 1
            while src[i] != '"':
                if src[i] == "\\" and src[i + 1] in '"\\$`\n':
                    out.append(src[i + 1])
                    i += 2
                else:
                    out.append(src[i])
                    i += 1
            i += 1
        elif c == "\\":
            out.append(src[i + 1])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out), i


def bodies(path):
    """Yields (line number, body) for each test_expect_success or
    test_expect_failure in a file."""
    src = open(path, encoding="utf-8").read()
    for m in re.finditer(r"^\s*test_expect_(?:success|failure)\s+", src, re.M):
        i = m.end()
        _, i = read_word(src, i)
        while src[i] in " \t":
            i += 1
        line = src.count("\n", 0, i) + 1
        body, _ = read_word(src, i)
        yield line, body


def skip_group(s, i, open_c, close_c):
    """Skips a balanced $( ... ) or ${ ... } starting after its opener."""
    depth = 1
    while i < len(s) and depth:
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if c == "'":
            i = s.index("'", i + 1) + 1
            continue
        if c == '"':
            i = skip_dquote(s, i + 1)
            continue
        if c == open_c:
            depth += 1
        elif c == close_c:
            depth -= 1
        i += 1
    return i


def skip_dquote(s, i):
    while i < len(s) and s[i] != '"':
        if s[i] == "\\":
            i += 2
        elif s.startswith("$(", i):
            i = skip_group(s, i + 2, "(", ")")
        else:
            i += 1
    return i + 1


def tokens(body):
    """Yields (token, line) with operators and newlines as tokens; skips here-docs."""
    i, line, heredocs = 0, 1, []
    while i < len(body):
        c = body[i]
        if c == "\n":
            yield "\n", line
            line += 1
            i += 1
            for strip, word in heredocs:
                while i < len(body):
                    end = body.find("\n", i)
                    end = len(body) if end < 0 else end
                    text = body[i:end]
                    i = end + 1
                    line += 1
                    if (text.lstrip("\t") if strip else text) == word:
                        break
            heredocs = []
        elif c in " \t":
            i += 1
        elif c == "\\" and body[i + 1:i + 2] == "\n":
            i += 2
            line += 1
        elif c == "#":
            while i < len(body) and body[i] != "\n":
                i += 1
        elif body.startswith(("&&", "||", ";;"), i):
            yield body[i:i + 2], line
            i += 2
        elif c in "|;&()":
            yield c, line
            i += 1
        elif body.startswith("<<", i):
            m = re.match(r"<<(-?)\s*\\?(['\"]?)([A-Za-z_0-9]+)\2", body[i:])
            heredocs.append((m.group(1) == "-", m.group(3)))
            i += m.end()
        else:
            start, start_line = i, line
            while i < len(body) and body[i] not in " \t\n|;&()" and not body.startswith("<<", i):
                if body[i] == "\\":
                    i += 2
                elif body[i] in "<>" and body[i + 1:i + 2] == "&":
                    i += 2  # a redirection such as 2>&1, not a background job
                elif body[i] == "'":
                    i = body.index("'", i + 1) + 1
                elif body[i] == '"':
                    i = skip_dquote(body, i + 1)
                elif body.startswith(("$(", "${"), i):
                    i = skip_group(body, i + 2, body[i + 1], ")" if body[i + 1] == "(" else "}")
                elif body[i] == "`":
                    i = body.index("`", i + 1) + 1
                else:
                    i += 1
            line += body.count("\n", start, i)
            yield body[start:i], start_line


def lint(body):
    """Returns the line numbers (within the body) where the chain breaks."""
    broken = []
    prev = "^"  # what came before the current position: ^ start, an operator, or a word
    ended = None  # line of a command that ended with ';' or a newline, not yet joined
    case_state = []  # per open case: "pattern" while reading patterns, "body" inside an arm
    for tok, line in tokens(body):
        if case_state and case_state[-1] == "pattern":
            if tok == "esac":
                case_state.pop()
                prev, ended = tok, None
            elif tok == ")":
                case_state[-1] = "body"
                prev, ended = "(", None
            continue
        if tok in ("\n", ";"):
            if prev not in CHAIN and prev not in OPENERS and prev != "^" and prev != "&":
                if ended is None:
                    ended = line
            continue
        if tok == "&":
            prev, ended = "&", None
            continue
        if tok in CHAIN:
            prev, ended = tok, None
            continue
        is_command_start = prev in CHAIN or prev in OPENERS or prev in ("^", "&") or ended
        keyword = tok in ("(", ")") or is_command_start
        # "{ echo why; exit 1; }" fails whatever echo did: a break before exit is fine.
        if ended is not None and not (keyword and tok in CLOSERS) and tok not in ("exit", "return"):
            broken.append(ended)
        if tok == ";;" and case_state:
            case_state[-1] = "pattern"
            prev, ended = ";;", None
            continue
        ended = None
        if is_command_start and tok == "case":
            case_state.append("word")
            prev = "case"
            continue
        if case_state and case_state[-1] == "word" and tok == "in":
            case_state[-1] = "pattern"
            continue
        if tok == "esac" and case_state:
            case_state.pop()
        prev = tok if keyword and (tok in OPENERS or tok in CLOSERS) else "w"
    return broken


def main(paths):
    bad = 0
    for path in paths:
        for start, body in bodies(path):
            for rel in sorted(set(lint(body))):
                print(f"{path}:{start + rel - 1}: broken && chain: the result of this line is "
                      "thrown away; join it to the next command with && (or use || for a "
                      "command allowed to fail)", file=sys.stderr)
                bad += 1
    if bad:
        print(f"chainlint: {bad} broken chain{'s' if bad != 1 else ''}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
