"""Drives fal's Python client, fal-client, for `cargo xtask bench`.

It uses only fal-client's public API, configured through its own environment
variables: FAL_KEY, FAL_QUEUE_RUN_HOST and FAL_RUN_HOST point it at the
emulator, SSL_CERT_FILE makes it trust the emulator's CA (it speaks HTTPS
only), and HTTPS_PROXY carries its calls to rest.fal.ai, a host it does not
let you change, to the emulator's forward proxy. The protocol and the
scenarios are those of xtask/src/bin/bench_driver (see README.md here).
"""

import asyncio
import json
import resource
import sys
import time

import fal_client

TEXT_TO_IMAGE = "fal-ai/flux-pro/kontext/text-to-image"
EDIT = "fal-ai/flux-pro/kontext"
# The same request from every driver: the emulator renders it once.
TEXT_INPUT = {"prompt": "a lighthouse at dusk", "seed": 42}


def say(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def wait_go():
    line = sys.stdin.readline()
    if line.strip() != "go":
        raise SystemExit(f"py_driver: expected `go` from the harness, got {line!r}")


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def text_job():
    # subscribe's defaults: submit, poll the status, fetch the result
    fal_client.subscribe(TEXT_TO_IMAGE, arguments=TEXT_INPUT)


def upload_job(path):
    url = fal_client.upload_file(path)
    arguments = {**TEXT_INPUT, "aspect_ratio": "1:1", "image_url": url}
    fal_client.subscribe(EDIT, arguments=arguments)


async def concurrency(config):
    client = fal_client.AsyncClient()
    for _ in range(config["warmup"]):
        await client.subscribe(TEXT_TO_IMAGE, arguments=TEXT_INPUT)
    say({"ready": True})
    wait_go()
    started = time.monotonic()
    jobs = [
        client.subscribe(TEXT_TO_IMAGE, arguments=TEXT_INPUT)
        for _ in range(config["jobs"])
    ]
    outcomes = await asyncio.gather(*jobs, return_exceptions=True)
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    for failure in failures[:3]:
        print(f"py_driver: a job failed: {failure!r}", file=sys.stderr)
    say({"wall_s": time.monotonic() - started, "failed": len(failures)})


def big_upload(config):
    # fal-client uploads in parts above MULTIPART_THRESHOLD (100 MiB), a
    # module global read at each call: raised past the file, it takes its
    # one-request path instead (which reads the file whole).
    if not config["multipart"]:
        fal_client.client.MULTIPART_THRESHOLD = float("inf")
    say({"ready": True})
    wait_go()
    started = time.monotonic()
    fal_client.upload_file(config["image"])
    say({"wall_s": time.monotonic() - started})


def main():
    config = json.loads(sys.argv[1])
    scenario = config["scenario"]
    if scenario == "concurrency":
        asyncio.run(concurrency(config))
    elif scenario == "big_upload":
        big_upload(config)
    else:
        for _ in range(config["warmup"]):
            text_job()
        say({"ready": True})
        if scenario == "latency":
            for _ in range(config["jobs"]):
                wait_go()
                text_job()
                say({"done_ns": time.monotonic_ns()})
        elif scenario == "cost":
            wait_go()
            cpu, started = cpu_seconds(), time.monotonic()
            for _ in range(config["jobs"]):
                text_job()
            wall_s = time.monotonic() - started
            say({"cpu_s": cpu_seconds() - cpu, "wall_s": wall_s})
        elif scenario == "upload":
            wait_go()
            started = time.monotonic()
            upload_job(config["image"])
            say({"wall_s": time.monotonic() - started})
        else:
            raise SystemExit(f"py_driver: unknown scenario {scenario}")
    # The harness reads the peak RSS before closing stdin.
    sys.stdin.read()


if __name__ == "__main__":
    main()
