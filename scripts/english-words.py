#!/usr/bin/env python3
"""Writes models/english-words.txt from Debian's wamerican word list (SCOWL).

The list tells an author name made of ordinary English words ("Technology", "fashion
blog") from a person's name or handle (`text::is_common_word_name`). Each line is one word
written in lower case in the dictionary; a trailing `*` marks a word the dictionary also
writes capitalised, as a name ("will", "mark", "rose"). Words with an apostrophe
(possessives) are left out. Run from the repository root:

    apt-get install wamerican   # /usr/share/dict/american-english
    python3 scripts/english-words.py [WORD_LIST]
    cp /usr/share/doc/wamerican/copyright models/english-words.COPYRIGHT

The same input gives the same bytes.
"""
import sys

source = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/dict/american-english"
lower, capitalised = set(), set()
with open(source, encoding="utf-8") as f:
    for line in f:
        word = line.strip()
        if not word or "'" in word:
            continue
        (capitalised if word[0].isupper() else lower).add(word.lower())
with open("models/english-words.txt", "w", encoding="utf-8", newline="\n") as out:
    out.write(
        "# Ordinary English words, from SCOWL as Debian's wamerican 2020.12.07 packages it\n"
        "# (/usr/share/dict/american-english), written by scripts/english-words.py. `*` marks\n"
        "# a word the list also writes capitalised, as a name. Copyright 2000-2011 Kevin\n"
        "# Atkinson and the SCOWL contributors; their notices are in\n"
        "# models/english-words.COPYRIGHT.\n"
    )
    for word in sorted(lower):
        out.write(word + ("*" if word in capitalised else "") + "\n")
