#!/usr/bin/env python3
"""Times `trove index`'s embedding stage, the part the Python pipelines also do: from the process's
start (model load and walk included, which the Python pipelines leave out) to the first pass
after embedding (tags, text, captions), where the crawl is stopped (it resumes next time).
Prints one JSON line: images, seconds, images_per_s.

    python3 bench/index_trove.py TROVE_BINARY ARG...
"""
import json
import os
import re
import subprocess
import sys
import time

AFTER = re.compile(rb"tagging|reading text|captioning")
EMBEDDED = re.compile(rb"indexing: .*?([\d,]+) embedded")


def main() -> None:
    start = time.perf_counter()
    proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = b""
    embedded = 0
    seconds = None
    while True:
        chunk = proc.stderr.read1(65536)
        if not chunk:
            break
        seen = (seen + chunk)[-4096:]
        for m in EMBEDDED.finditer(seen):
            embedded = int(m.group(1).replace(b",", b""))
        if AFTER.search(seen):
            seconds = time.perf_counter() - start
            proc.terminate()
            break
    proc.wait()
    if seconds is None:
        seconds = time.perf_counter() - start
    elif "TROVE_BENCH_IMAGES" in os.environ:
        # Embedding is over: every file given was embedded (the last progress line may lag).
        embedded = int(os.environ["TROVE_BENCH_IMAGES"])
    print(json.dumps({"pipeline": "trove (embedding stage, model load included)", "images": embedded,
                      "seconds": round(seconds, 2), "images_per_s": round(embedded / seconds, 2)}))


if __name__ == "__main__":
    main()
