"""fal's official Python client (fal-client) against the emulator.

Pointed at it only through configuration: FAL_QUEUE_RUN_HOST / FAL_RUN_HOST
(the client builds https:// URLs from them), SSL_CERT_FILE (the emulator's
CA), and HTTPS_PROXY for the REST and CDN hosts the client has fixed
(rest.fal.ai, v3.fal.media), which the emulator's proxy maps to itself.
Prints one `PASS name` or `FAIL name: why` line per check.
"""

import base64
import os
import struct
import time
import traceback
import zlib

import httpx

import fal_client

APP = "fal-ai/flux-pro/kontext"
CA = os.environ["SSL_CERT_FILE"]


def make_png(width, height):
    """A small RGB PNG, built by hand so that the check needs no imaging library."""

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in (x * 9 % 256, y * 13 % 256, 128))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


PNG = make_png(40, 30)
DATA_URI = "data:image/png;base64," + base64.b64encode(PNG).decode()
CHECKS = []


def check(function):
    CHECKS.append(function)
    return function


def download(url):
    with httpx.Client(verify=CA, trust_env=False) as http:
        response = http.get(url)
        response.raise_for_status()
        return response.content


def key_leaks():
    with httpx.Client(verify=CA, trust_env=False) as http:
        return http.get(os.environ["EMULATOR_QUEUE"] + "/__emulator/stats").json()["key_leaks"]


def assert_output(result, count=1):
    images = result["images"]
    assert len(images) == count, result
    for image in images:
        assert image["url"].startswith("https://127.0.0.1:"), image
        assert image["width"] > 0 and image["height"] > 0, image
    assert isinstance(result["seed"], int) and result["has_nsfw_concepts"] == [False] * count


@check
def subscribe_with_logs_and_queue_updates():
    updates = []
    result = fal_client.subscribe(
        APP,
        arguments={"prompt": "a donut", "image_url": DATA_URI, "num_images": 2},
        with_logs=True,
        on_queue_update=updates.append,
    )
    assert_output(result, 2)
    kinds = {type(update).__name__ for update in updates}
    assert "Completed" in kinds and kinds & {"Queued", "InProgress"}, kinds
    logs = [line for update in updates if getattr(update, "logs", None) for line in update.logs]
    assert logs and all({"message", "level", "source", "timestamp"} <= set(line) for line in logs), updates
    image = download(result["images"][0]["url"])
    assert image[:2] == b"\xff\xd8", "a JPEG by default"


@check
def submit_status_result():
    handle = fal_client.submit(APP, arguments={"prompt": "p", "image_url": DATA_URI, "seed": 5})
    first = handle.status()
    assert type(first).__name__ in {"Queued", "InProgress", "Completed"}, first
    result = handle.get()
    assert_output(result)
    assert result["seed"] == 5
    status = fal_client.status(APP, handle.request_id, with_logs=True)
    assert type(status).__name__ == "Completed" and status.error is None, status
    assert status.logs and "inference_time" in status.metrics, status
    assert fal_client.result(APP, handle.request_id) == result


@check
def cancel():
    handle = fal_client.submit(APP, arguments={"prompt": "p", "image_url": DATA_URI})
    handle.cancel()
    for _ in range(200):
        status = handle.status()
        if type(status).__name__ == "Completed":
            break
        time.sleep(0.05)
    assert type(status).__name__ == "Completed", status
    assert status.error_type == "request_cancelled", status
    try:
        handle.cancel()
    except fal_client.client.FalClientHTTPError as error:
        assert error.status_code == 400, error
    else:
        raise AssertionError("cancelling a completed request should fail")


@check
def run_synchronously():
    result = fal_client.run(
        "fal-ai/flux-pro/kontext/text-to-image",
        arguments={"prompt": "a cat", "aspect_ratio": "16:9", "output_format": "png"},
    )
    image = result["images"][0]
    assert (image["width"], image["height"], image["content_type"]) == (256, 144, "image/png"), image
    assert download(image["url"])[:4] == b"\x89PNG"


@check
def upload_to_the_v3_cdn_through_the_proxy():
    leaks = key_leaks()
    url = fal_client.upload(b"hello from python", "text/plain", file_name="hello.txt")
    assert url.startswith("https://127.0.0.1:"), url
    assert download(url) == b"hello from python"
    assert key_leaks() == leaks, "the v3 upload uses a CDN token, not the key"


@check
def upload_through_storage_initiate():
    leaks = key_leaks()
    url = fal_client.upload(PNG, "image/png", file_name="in.png", repository="fal", fallback_repository=[])
    assert download(url) == PNG
    # fal-client sends this PUT with its shared client, whose default headers
    # carry `Authorization: Key …`: the emulator is there to catch exactly that.
    assert key_leaks() == leaks + 1, "the key sent with the storage PUT was caught"
    result = fal_client.subscribe(APP, arguments={"prompt": "edit the upload", "image_url": url})
    assert_output(result)


@check
def invalid_input_is_a_422_from_the_result_call():
    handle = fal_client.submit(APP, arguments={"prompt": "p", "image_url": DATA_URI, "num_images": 9})
    try:
        handle.get()
    except fal_client.client.FalClientHTTPError as error:
        assert error.status_code == 422, error
        assert "less than or equal to 4" in str(error), error
    else:
        raise AssertionError("a 422 was expected")


@check
def a_wrong_key_is_refused():
    client = fal_client.SyncClient(key="not-the-key")
    try:
        client.submit(APP, arguments={"prompt": "p", "image_url": DATA_URI})
    except fal_client.client.FalClientHTTPError as error:
        assert error.status_code == 401, error
    else:
        raise AssertionError("a 401 was expected")


for function in CHECKS:
    name = "python " + function.__name__
    try:
        function()
        print(f"PASS {name}", flush=True)
    except Exception as error:  # noqa: BLE001 - every failure is reported, none stops the run
        print(f"FAIL {name}: {error!r}", flush=True)
        traceback.print_exc()
