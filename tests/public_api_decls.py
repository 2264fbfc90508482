#!/usr/bin/env python3
"""public_api_decls.py HEADER...: prints the name of every function the
headers declare at file scope, one a line (tests/public_api_test.sh).

A small reader for the project's own headers, not a C parser: comments,
preprocessor lines and the `#ifdef __cplusplus` wrappers are dropped, then
each statement at brace depth 0 that ends with ';', is not a typedef and
holds a parenthesis is a declaration; the function's name is the identifier
before its first '('. Struct, union and enum definitions (a '{' at depth 0)
are skipped whole."""
import re
import sys


def declarations(text):
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    text = re.sub(r'//[^\n]*', ' ', text)
    text = re.sub(r'#ifdef __cplusplus.*?#endif', ' ', text, flags=re.S)
    text = re.sub(r'\\\n', ' ', text)
    text = '\n'.join(l for l in text.split('\n') if not l.lstrip().startswith('#'))
    depth, stmt, body = 0, [], False
    for c in text:
        if c == '{':
            depth += 1
            body = True
        elif c == '}':
            depth -= 1
        elif c == ';' and depth == 0:
            s = ' '.join(''.join(stmt).split())
            stmt, had_body, body = [], body, False
            if had_body or s.startswith('typedef') or '(' not in s:
                continue
            m = re.search(r'([A-Za-z_]\w*)\s*\(', s)
            if m:
                yield m.group(1)
            continue
        elif depth == 0:
            stmt.append(c)


def main():
    for path in sys.argv[1:]:
        with open(path, encoding='utf-8') as f:
            for name in declarations(f.read()):
                if name == 'GJBMEM_API':
                    continue
                print(name)


if __name__ == '__main__':
    main()
