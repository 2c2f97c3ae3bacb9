#!/usr/bin/env python3
"""Times `trove index`'s embedding stage, the part the Python pipelines also do: from the moment
the model is loaded (Trove's "model loaded" log line; the Python pipelines also start their
clocks once their model is loaded) to the first pass after embedding (tags, text, captions),
where the crawl is stopped (it resumes next time). The walk, the catalog's opening and every
decode are inside the timed span. Prints one JSON line: images, seconds, images_per_s, and
load_s (process start to model loaded).

    python3 bench/index_trove.py TROVE_BINARY ARG...
"""
import json
import os
import re
import subprocess
import sys
import time

# The first pass after embedding, as Trove logs it (its progress line only says so when it next
# refreshes, up to a second later).
AFTER = re.compile(rb"embedding the tag vocabulary|tagging|reading text|captioning")
LOADED = re.compile(rb"model loaded")
EMBEDDED = re.compile(rb"indexing: .*?([\d,]+) embedded")


def main() -> None:
    start = time.perf_counter()
    proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = b""
    embedded = 0
    seconds = None
    loaded = None
    while True:
        chunk = proc.stderr.read1(65536)
        if not chunk:
            break
        seen = (seen + chunk)[-4096:]
        if loaded is None and LOADED.search(seen):
            loaded = time.perf_counter()
        for m in EMBEDDED.finditer(seen):
            embedded = int(m.group(1).replace(b",", b""))
        if AFTER.search(seen):
            seconds = time.perf_counter() - (loaded or start)
            proc.terminate()
            break
    proc.wait()
    if seconds is None:
        seconds = time.perf_counter() - (loaded or start)
    elif "TROVE_BENCH_IMAGES" in os.environ:
        # Embedding is over: every file given was embedded (the last progress line may lag).
        embedded = int(os.environ["TROVE_BENCH_IMAGES"])
    print(json.dumps({"pipeline": "trove (embedding stage, from model loaded)", "images": embedded,
                      "seconds": round(seconds, 2), "images_per_s": round(embedded / seconds, 2),
                      "load_s": round((loaded or start) - start, 2)}))


if __name__ == "__main__":
    main()
