#!/usr/bin/env python3
"""Finds import circles between source files of each crate: file A names something in
file B (`crate::b::…`, `super::b::…`, `self::b::…`) and B names something in A.

Between a module and its own descendants it is not a circle: a parent `mod.rs` is the table
of contents of its children, and a child works in its parent's context (quinn-proto's
`connection/` and its timer module). Every other pair counts: siblings, cousins, and a file
with a module elsewhere in the crate. Exit 1 and a list of circles if there is any.
"""
import os
import re
import sys

CRATES = ["protocol", "schema", "server", "emulator", "cli"]
PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)*)")
USE = re.compile(r"\buse\s+([^;]*);")


def expand(tree):
    """`a::{b, c::{d, e}}` -> ["a::b", "a::c::d", "a::c::e"]."""
    tree = re.sub(r"\s+", "", tree)
    i = tree.find("{")
    if i < 0:
        return [re.sub(r"\bas\w+$", "", tree)]
    prefix, body = tree[:i], tree[i + 1 : tree.rfind("}")]
    parts, depth, cur = [], 0, ""
    for ch in body:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur)
    out = []
    for part in filter(None, parts):
        out += [prefix + x for x in expand(part)] if part != "self" else [prefix.rstrip(":")]
    return out


def modules(src):
    """Maps a module path (tuple) to its file, for one crate's src/."""
    out = {}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(root, f), src)[:-3].split(os.sep)
            if rel[-1] in ("mod", "lib", "main"):
                rel = rel[:-1]
            out[tuple(rel)] = os.path.join(root, f)
    return out


def resolve(mods, path):
    """The file that holds `path` (the longest module prefix with a file)."""
    for n in range(len(path), -1, -1):
        if tuple(path[:n]) in mods:
            return mods[tuple(path[:n])]
    return None


def strip(text):
    """Source without comments, string and char literals, and without a `#[cfg(test)]`
    module's body at the end of a file (tests may reach anywhere)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == "r" and re.match(r'r#*"', text[i:]) and not (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r"r(#*)\"", text[i:]).group(1)
            j = text.find('"' + hashes, i + len(hashes) + 2)
            i = n if j < 0 else j + 1 + len(hashes)
            out.append('""')
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            out.append('""')
        elif c == "'" and re.match(r"'(\\.[^']*|[^\\'])'", text[i:]):
            i += re.match(r"'(\\.[^']*|[^\\'])'", text[i:]).end()
            out.append("' '")
        else:
            out.append(c)
            i += 1
    text = "".join(out)
    cut = text.find("#[cfg(test)]\nmod tests {")
    return text if cut < 0 else text[:cut]


def components(graph):
    """Strongly connected components (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on.discard(w)
                scc.append(w)
                if w == v:
                    break
            out.append(scc)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    found = []
    for crate in CRATES:
        src = os.path.join(root, crate, "src")
        mods = modules(src)
        by_file = {v: k for k, v in mods.items()}
        edges = {}
        for mod, file in mods.items():
            if mod and mod[-1] == "tests" or "tests" in mod:
                continue
            text = strip(open(file, encoding="utf-8").read())
            # The module a file's `self::`/`super::` start from.
            deps = set()
            paths = [p for u in USE.findall(text) for p in expand(u)]
            text = USE.sub("", text)
            found_paths = PATH.findall(text)
            for p in paths:
                m = PATH.match(p)
                if m:
                    found_paths.append(m.groups())
            for kind, rest in found_paths:
                parts = rest.split("::")[1:]
                if kind == "crate":
                    base = []
                elif kind == "self":
                    base = list(mod)
                else:
                    base = list(mod)
                    while parts and parts[0] == "super":
                        parts = parts[1:]
                        base = base[:-1]
                    base = base[:-1] if base else base
                    # `super` from a `mod.rs` or leaf file is the parent module.
                target = resolve(mods, base + parts)
                if target and target != file:
                    deps.add(target)
            edges[file] = deps
        def related(a, b):
            ma, mb = by_file[a], by_file[b]
            return ma == mb[: len(ma)] or mb == ma[: len(mb)]

        graph = {a: {b for b in deps if b in edges and not related(a, b)} for a, deps in edges.items()}
        for scc in components(graph):
            if len(scc) > 1:
                found.append((crate, sorted(os.path.relpath(f, root) for f in scc)))
    for crate, files in found:
        print(f"circle in {crate}: " + " <-> ".join(files))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
