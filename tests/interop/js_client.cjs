// fal's official JS client (@fal-ai/client) against the emulator.
//
// Pointed at it only through configuration: a `requestMiddleware` that maps
// fal's hosts to the emulator's origins (the client's documented hook for
// proxies), credentials, and NODE_EXTRA_CA_CERTS for the emulator's CA.
// Prints one `PASS name` or `FAIL name: why` line per check.
"use strict";

const path = require("node:path");
const zlib = require("node:zlib");

const { createFalClient, ValidationError, ApiError } = require(
  path.join(process.env.FAL_JS_CLIENT_DIR, "node_modules/@fal-ai/client"),
);

const env = process.env;
const APP = "fal-ai/flux-pro/kontext";
const ORIGINS = [
  ["https://queue.fal.run", env.EMULATOR_QUEUE],
  ["https://fal.run", env.EMULATOR_RUN],
  ["https://rest.fal.ai", env.EMULATOR_REST],
];

function toEmulator(url) {
  for (const [fal, local] of ORIGINS) {
    if (url === fal || url.startsWith(fal + "/") || url.startsWith(fal + "?")) {
      return local + url.slice(fal.length);
    }
  }
  return url;
}

function client(credentials) {
  return createFalClient({
    credentials,
    requestMiddleware: async (request) => ({ ...request, url: toEmulator(request.url) }),
  });
}

const fal = client(env.FAL_KEY);

function crc32(buffer) {
  let crc = ~0;
  for (const byte of buffer) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

// A small RGB PNG, built by hand so that the check needs no imaging library.
function makePng(width, height) {
  const chunk = (tag, data) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(tag), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const rows = [];
  for (let y = 0; y < height; y++) {
    rows.push(0);
    for (let x = 0; x < width; x++) rows.push((x * 9) % 256, (y * 13) % 256, 128);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", zlib.deflateSync(Buffer.from(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

const PNG = makePng(40, 30);
const DATA_URI = "data:image/png;base64," + PNG.toString("base64");

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

function assertOutput(data, count = 1) {
  assert(Array.isArray(data.images) && data.images.length === count, JSON.stringify(data));
  for (const image of data.images) {
    assert(image.url.startsWith(env.EMULATOR_CDN), `image on the emulator's CDN: ${image.url}`);
    assert(image.width > 0 && image.height > 0, JSON.stringify(image));
  }
  assert(Number.isInteger(data.seed), "seed");
  assert(data.has_nsfw_concepts.length === count, "has_nsfw_concepts");
}

async function bytesOf(url) {
  const response = await fetch(url);
  assert(response.ok, `GET ${url}: ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

const checks = {
  async subscribe_with_logs_and_queue_updates() {
    const updates = [];
    const result = await fal.subscribe(APP, {
      input: { prompt: "a donut", image_url: DATA_URI, num_images: 2 },
      logs: true,
      pollInterval: 50,
      onQueueUpdate: (update) => updates.push(update),
    });
    assertOutput(result.data, 2);
    assert(result.requestId, "requestId from x-fal-request-id");
    const statuses = new Set(updates.map((u) => u.status));
    assert(statuses.has("COMPLETED") && (statuses.has("IN_QUEUE") || statuses.has("IN_PROGRESS")), [...statuses]);
    const logs = updates.flatMap((u) => u.logs || []);
    assert(logs.length > 0 && logs.every((l) => l.message && l.level && l.timestamp), "logs");
  },

  async subscribe_streaming_status() {
    const updates = [];
    const result = await fal.subscribe(APP, {
      input: { prompt: "p", image_url: DATA_URI, seed: 3 },
      mode: "streaming",
      logs: true,
      onQueueUpdate: (update) => updates.push(update),
    });
    assertOutput(result.data);
    assert(result.data.seed === 3, "seed");
    assert(updates.length > 0 && updates.at(-1).status === "COMPLETED", JSON.stringify(updates.at(-1)));
    assert(updates.at(-1).logs.length === 3, "each streamed log line once, accumulated");
  },

  async submit_status_result() {
    const { request_id: requestId, status_url: statusUrl } = await fal.queue.submit(APP, {
      input: { prompt: "p", image_url: DATA_URI },
    });
    assert(statusUrl.startsWith(env.EMULATOR_QUEUE), statusUrl);
    const first = await fal.queue.status(APP, { requestId, logs: true });
    assert(["IN_QUEUE", "IN_PROGRESS", "COMPLETED"].includes(first.status), first.status);
    const done = await fal.queue.subscribeToStatus(APP, { requestId, pollInterval: 50 });
    assert(done.status === "COMPLETED" && done.metrics.inference_time >= 0, JSON.stringify(done));
    const result = await fal.queue.result(APP, { requestId });
    assertOutput(result.data);
    assert(result.requestId === requestId, "requestId");
  },

  async cancel() {
    const { request_id: requestId } = await fal.queue.submit(APP, {
      input: { prompt: "p", image_url: DATA_URI },
    });
    await fal.queue.cancel(APP, { requestId });
    const done = await fal.queue.subscribeToStatus(APP, { requestId, pollInterval: 50 });
    assert(done.status === "COMPLETED" && done.error_type === "request_cancelled", JSON.stringify(done));
    let refused = null;
    try {
      await fal.queue.cancel(APP, { requestId });
    } catch (error) {
      refused = error;
    }
    assert(refused instanceof ApiError && refused.status === 400, `second cancel: ${refused}`);
  },

  async run_synchronously() {
    const result = await fal.run("fal-ai/flux-kontext/dev", {
      input: { prompt: "p", image_url: DATA_URI, output_format: "png" },
    });
    const image = result.data.images[0];
    assert(image.content_type === "image/png" && image.width === 48 && image.height === 32, JSON.stringify(image));
    const bytes = await bytesOf(image.url);
    // A PNG's IHDR holds its true size at bytes 16..24.
    assert(bytes[0] === 0x89 && bytes.readUInt32BE(16) === 48 && bytes.readUInt32BE(20) === 32, "a 48x32 PNG");
  },

  async storage_upload() {
    const url = await fal.storage.upload(new Blob(["hello from js"], { type: "text/plain" }));
    assert(url.startsWith(env.EMULATOR_CDN), url);
    assert((await bytesOf(url)).toString() === "hello from js", "uploaded bytes served back");
  },

  async blob_inputs_are_uploaded_then_used() {
    const result = await fal.subscribe(APP, {
      input: { prompt: "edit", image_url: new Blob([PNG], { type: "image/png" }) },
      pollInterval: 50,
    });
    assertOutput(result.data);
    // 40x30 in, no aspect ratio: the input's shape, in multiples of 16.
    assert(result.data.images[0].width === 48 && result.data.images[0].height === 32, "shape of the input");
  },

  async invalid_input_is_a_validation_error() {
    let failure = null;
    try {
      await fal.subscribe(APP, { input: { prompt: "p", image_url: DATA_URI, num_images: 9 }, pollInterval: 50 });
    } catch (error) {
      failure = error;
    }
    assert(failure instanceof ValidationError && failure.status === 422, `got ${failure}`);
    assert(failure.getFieldErrors("num_images").length === 1, JSON.stringify(failure.body));
  },

  async a_wrong_key_is_refused() {
    let failure = null;
    try {
      await client("not-the-key").queue.submit(APP, { input: { prompt: "p", image_url: DATA_URI } });
    } catch (error) {
      failure = error;
    }
    assert(failure instanceof ApiError && failure.status === 401, `got ${failure}`);
  },
};

(async () => {
  for (const [name, check] of Object.entries(checks)) {
    try {
      await check();
      console.log(`PASS js ${name}`);
    } catch (error) {
      console.log(`FAIL js ${name}: ${error && error.stack ? error.stack : error}`);
    }
  }
})();
