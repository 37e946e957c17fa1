// Drives fal's JS client, @fal-ai/client, for `cargo xtask bench`.
//
// It uses only the client's public API and configuration: FAL_KEY from the
// environment, and a `requestMiddleware` (a documented `fal.config` option)
// that sends fal's hosts to the emulator's origins (FAL_QUEUE_URL,
// FAL_RUN_URL, FAL_REST_URL here). NODE_EXTRA_CA_CERTS makes Node trust the
// emulator's CA. The client is loaded from FAL_BENCH_JS_PEER (.peers/js).
// The protocol and the scenarios are those of xtask/src/bin/bench_driver
// (see README.md here).

import { openAsBlob } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { createInterface } from "node:readline";

const require = createRequire(join(process.env.FAL_BENCH_JS_PEER, "package.json"));
const { fal } = require("@fal-ai/client");

const TEXT_TO_IMAGE = "fal-ai/flux-pro/kontext/text-to-image";
const EDIT = "fal-ai/flux-pro/kontext";
// The same request from every driver: the emulator renders it once.
const TEXT_INPUT = { prompt: "a lighthouse at dusk", seed: 42 };

const origins = {
  "https://queue.fal.run": process.env.FAL_QUEUE_URL,
  "https://fal.run": process.env.FAL_RUN_URL,
  "https://rest.fal.ai": process.env.FAL_REST_URL,
};

fal.config({
  requestMiddleware: async (request) => {
    for (const [host, origin] of Object.entries(origins)) {
      if (request.url.startsWith(`${host}/`)) {
        return { ...request, url: origin + request.url.slice(host.length) };
      }
    }
    return request;
  },
});

const stdin = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

function say(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

async function waitGo() {
  const { value, done } = await stdin.next();
  if (done || value.trim() !== "go") {
    throw new Error(`expected \`go\` from the harness, got ${JSON.stringify(value)}`);
  }
}

function cpuSeconds() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

const seconds = (started) => Number(process.hrtime.bigint() - started) / 1e9;

// subscribe's defaults: submit, poll the status, fetch the result
const textJob = () => fal.subscribe(TEXT_TO_IMAGE, { input: TEXT_INPUT });

async function uploadJob(path) {
  // A file-backed Blob, so the client can stream it; it uploads Blobs in the input itself.
  const image_url = await openAsBlob(path, { type: "image/png" });
  await fal.subscribe(EDIT, { input: { ...TEXT_INPUT, aspect_ratio: "1:1", image_url } });
}

async function main() {
  const config = JSON.parse(process.argv[2]);
  for (let i = 0; i < config.warmup; i++) {
    await textJob();
  }
  say({ ready: true });
  switch (config.scenario) {
    case "latency":
      for (let i = 0; i < config.jobs; i++) {
        await waitGo();
        await textJob();
        say({ done_ns: Number(process.hrtime.bigint()) });
      }
      break;
    case "cost": {
      await waitGo();
      const [cpu, started] = [cpuSeconds(), process.hrtime.bigint()];
      for (let i = 0; i < config.jobs; i++) {
        await textJob();
      }
      const wall_s = seconds(started);
      say({ cpu_s: cpuSeconds() - cpu, wall_s });
      break;
    }
    case "concurrency": {
      await waitGo();
      const started = process.hrtime.bigint();
      const jobs = Array.from({ length: config.jobs }, () => textJob());
      const outcomes = await Promise.allSettled(jobs);
      const failures = outcomes.filter((o) => o.status === "rejected");
      for (const failure of failures.slice(0, 3)) {
        console.error("js_driver: a job failed:", failure.reason);
      }
      say({ wall_s: seconds(started), failed: failures.length });
      break;
    }
    case "upload": {
      await waitGo();
      const started = process.hrtime.bigint();
      await uploadJob(config.image);
      say({ wall_s: seconds(started) });
      break;
    }
    default:
      throw new Error(`unknown scenario ${config.scenario}`);
  }
  // The harness reads the peak RSS before closing stdin.
  while (!(await stdin.next()).done) {}
}

main().catch((error) => {
  console.error("js_driver:", error);
  process.exit(1);
});
