#!/usr/bin/env python3
"""Finds module import cycles inside each crate of the workspace.

Usage: scripts/module-cycles.py [REPO_ROOT]   (exit 1 when any cycle is found)

Why a script and not `cargo modules`: it needs no extra tool on a fresh machine
and reads in seconds. What it counts as an edge: a path `crate::a::b…`,
`super::…` or `self::…` in code or in a `use` tree (grouped trees included),
with comments and string literals removed first, so doc links do not count.
A path resolves to the deepest module that exists (`crate::live::workers::x`
is an edge to `live::workers`). An edge between a module and one of its own
ancestors or descendants is not counted (a parent declares and re-exports its
children, and a child uses its parent's items). A strongly connected component
of two or more modules is a cycle: the shape of `health` <-> `live` or
`join` <-> `reencode`, as `cargo modules dependencies --acyclic` reports it.
"""

import os
import re
import sys


def strip_comments_and_strings(text):
    """Removes //, /* */ comments, string and char literals (raw strings too)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif c == "r" and re.match(r'r#*"', text[i:i + 20]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            end = text.find('"' + m.group(1), i + len(m.group(0)))
            i = n if end < 0 else end + 1 + len(m.group(1))
            out.append('""')
        elif c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
            out.append('""')
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 12]) or (c == "'" and re.match(r"'\\u\{[0-9a-fA-F]+\}'", text[i:i + 12])):
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", text[i:])
            i += len(m.group(0))
            out.append("' '")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def module_of(src_dir, path):
    rel = os.path.relpath(path, src_dir)[:-3].split(os.sep)
    if rel[-1] in ("lib", "mod"):
        rel = rel[:-1]
    return tuple(rel)


def expand_use_tree(tree):
    """Expands `a::{b, c::{d}}` into ["a::b", "a::c::d"]."""
    tree = tree.strip()
    depth = 0
    for idx, ch in enumerate(tree):
        if ch == "{":
            if depth == 0:
                prefix = tree[:idx]
                inner = tree[idx + 1:tree.rfind("}")]
                parts, buf, d = [], "", 0
                for ch2 in inner:
                    if ch2 == "," and d == 0:
                        parts.append(buf)
                        buf = ""
                        continue
                    d += ch2 == "{"
                    d -= ch2 == "}"
                    buf += ch2
                parts.append(buf)
                result = []
                for part in parts:
                    if part.strip():
                        result += [prefix + p for p in expand_use_tree(part)]
                return result
            depth += 1
    return [re.split(r"\s+as\s+", tree)[0].strip()]


def referenced_paths(code):
    paths = []
    for m in re.finditer(r"\buse\s+([^;]+);", code):
        paths += expand_use_tree(m.group(1))
    paths += re.findall(r"\b(?:crate|super|self)(?:\s*::\s*[A-Za-z_][A-Za-z0-9_]*)+", code)
    return [re.sub(r"\s+", "", p) for p in paths]


def resolve(path, here, modules):
    segs = path.split("::")
    if segs[0] == "crate":
        base, rest = (), segs[1:]
    elif segs[0] in ("super", "self"):
        base = list(here)
        rest = segs
        while rest and rest[0] in ("super", "self"):
            if rest[0] == "super" and base:
                base.pop()
            rest = rest[1:]
        base = tuple(base)
    else:
        return None
    target = base
    for seg in rest:
        if target + (seg,) in modules:
            target = target + (seg,)
        else:
            break
    return target


def sccs(nodes, edges):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in nodes:
        if v not in index:
            visit(v)
    return out


def crate_cycles(src_dir):
    files = []
    for root, _dirs, names in os.walk(src_dir):
        for name in names:
            path = os.path.join(root, name)
            if not name.endswith(".rs"):
                continue
            rel = os.path.relpath(path, src_dir)
            if rel == "main.rs" or rel.startswith("bin" + os.sep):
                continue
            files.append(path)
    modules = {module_of(src_dir, f) for f in files}
    # Inline `mod name {` blocks count as modules too (their items resolve there).
    edges, witness = {}, {}
    for f in files:
        here = module_of(src_dir, f)
        code = strip_comments_and_strings(open(f, encoding="utf-8").read())
        for p in referenced_paths(code):
            target = resolve(p, here, modules)
            if target is None or target == here:
                continue
            common = 0
            while common < min(len(here), len(target)) and here[common] == target[common]:
                common += 1
            if common == len(here) or common == len(target):
                continue  # ancestor or descendant
            a, b = here, target
            edges.setdefault(a, set()).add(b)
            witness.setdefault((a, b), (os.path.relpath(f, src_dir), p))
    nodes = set(edges) | {b for bs in edges.values() for b in bs}
    cycles = [sorted(c) for c in sccs(sorted(nodes), edges) if len(c) > 1]
    return cycles, edges, witness


def main():
    repo = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    crates_dir = os.path.join(repo, "crates")
    found = 0
    for crate in sorted(os.listdir(crates_dir)):
        src = os.path.join(crates_dir, crate, "src")
        if not os.path.isdir(src):
            continue
        cycles, edges, witness = crate_cycles(src)
        if not cycles:
            print(f"{crate}: no module import cycle")
            continue
        for comp in cycles:
            found += 1
            names = ", ".join("::".join(m) for m in comp)
            print(f"{crate}: cycle among {names}")
            members = set(comp)
            for a in comp:
                for b in sorted(edges.get(a, ())):
                    if b in members:
                        f, p = witness[(a, b)]
                        print(f"    {'::'.join(a)} -> {'::'.join(b)}  ({f}: {p})")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
