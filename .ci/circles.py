#!/usr/bin/env python3
"""Finds import circles between source files of each crate: file A names something in
file B (`crate::b::…`, `super::b::…`, `self::b::…`) and B names something in A.

A parent module that only declares its children (`mod b;`) does not count; a child naming
its parent's items does. Exit 1 and a list of circles if there is any.
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
    """Source without comments and string literals, and without `#[cfg(test)]` modules'
    bodies at the end of a file (tests may reach anywhere)."""
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    cut = text.find("#[cfg(test)]\nmod tests {")
    return text if cut < 0 else text[:cut]


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
        for a, deps in edges.items():
            for b in deps:
                if a < b and a in edges.get(b, ()):
                    found.append((crate, os.path.relpath(a, root), os.path.relpath(b, root)))
    for crate, a, b in found:
        print(f"circle in {crate}: {a} <-> {b}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
