// What a user sees of a gallery page: opens it in headless Chromium, driven
// over the DevTools protocol, and prints one JSON document of what it found
// (the assertions are the Rust test's, tests/e2e/gallery.rs).
//
//   node probe.mjs PAGE.html SCREENSHOT.png
//
// No npm package: Chromium's --remote-debugging-pipe speaks the protocol
// (JSON messages ended by a NUL byte) over file descriptors 3 (its input)
// and 4 (its output), which Node's spawn hands it directly. So there is no
// port to find and no client library to keep in step with Debian's Chromium.
// CHROMIUM names the browser (default: chromium).

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [page, screenshot] = process.argv.slice(2);
if (!page || !screenshot) {
  console.error("usage: node probe.mjs PAGE.html SCREENSHOT.png");
  process.exit(2);
}
const profile = mkdtempSync(join(tmpdir(), "kontext-probe-"));
// The profile goes when the probe does, whichever way it ends.
process.on("exit", () => rmSync(profile, { recursive: true, force: true, maxRetries: 3 }));
const chrome = spawn(
  process.env.CHROMIUM || "chromium",
  [
    "--headless=new",
    "--remote-debugging-pipe",
    "--no-sandbox", // containers run as root, where the sandbox cannot start
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    `--user-data-dir=${profile}`,
    "about:blank",
  ],
  { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"] },
);
let stderr = "";
chrome.stderr.on("data", (chunk) => (stderr += chunk));
// The whole probe is bounded: a browser that hangs fails the test.
const limit = setTimeout(() => fail("timed out after 60 s"), 60_000);

function fail(why) {
  console.error(`probe: ${why}\n--- chromium stderr\n${stderr}`);
  chrome.kill("SIGKILL");
  process.exit(1);
}
chrome.on("error", (error) => fail(`cannot start chromium: ${error.message}`));
chrome.on("exit", (code) => fail(`chromium exited (${code}) before the probe ended`));

// The protocol: commands with ids, answered in any order; events.
let nextId = 1;
const waiting = new Map();
const listeners = [];
let buffer = Buffer.alloc(0);
chrome.stdio[4].on("data", (chunk) => {
  buffer = Buffer.concat([buffer, chunk]);
  let end;
  while ((end = buffer.indexOf(0)) !== -1) {
    const message = JSON.parse(buffer.subarray(0, end).toString("utf8"));
    buffer = buffer.subarray(end + 1);
    if (message.id && waiting.has(message.id)) {
      const { ok, no } = waiting.get(message.id);
      waiting.delete(message.id);
      if (message.error) no(new Error(`${JSON.stringify(message.error)}`));
      else ok(message.result);
    } else if (message.method) {
      for (const listener of listeners) listener(message);
    }
  }
});
function send(method, params = {}, sessionId) {
  const id = nextId++;
  chrome.stdio[3].write(JSON.stringify({ id, method, params, sessionId }) + "\0");
  return new Promise((ok, no) => waiting.set(id, { ok, no }));
}
function once(method) {
  return new Promise((ok) => {
    const listener = (message) => {
      if (message.method === method) {
        listeners.splice(listeners.indexOf(listener), 1);
        ok(message.params);
      }
    };
    listeners.push(listener);
  });
}

// Everything the page reports as an error: exceptions, console.error,
// failed loads and Content-Security-Policy refusals (the Log domain).
const errors = [];
listeners.push(({ method, params }) => {
  if (method === "Runtime.exceptionThrown") {
    errors.push(params.exceptionDetails.exception?.description ?? params.exceptionDetails.text);
  } else if (method === "Runtime.consoleAPICalled" && ["error", "assert"].includes(params.type)) {
    errors.push(params.args.map((a) => a.value ?? a.description).join(" "));
  } else if (method === "Log.entryAdded" && params.entry.level === "error") {
    errors.push(`${params.entry.text} ${params.entry.url ?? ""}`.trim());
  }
});

// What the page shows, measured inside it.
const measure = `(async () => {
  // How long the page took to open (its load event), before anything below.
  const loadedMs = Math.round(performance.getEntriesByType("navigation")[0].loadEventEnd);
  const images = [...document.images];
  // Lazy images load when scrolled to: ask for all of them now.
  for (const image of images) image.loading = "eager";
  await Promise.all(images.map((image) => image.decode().catch(() => {})));
  const text = (selector) => document.querySelector(selector)?.textContent ?? null;
  const visible = () => [...document.querySelectorAll(".job")]
    .filter((job) => job.offsetParent !== null)
    .map((job) => job.getAttribute("data-id"));
  const counts = {};
  for (const b of document.querySelectorAll("#filters b")) counts[b.id.replace("count-", "")] = Number(b.textContent);
  const found = {
    loadedMs,
    title: document.title,
    images: images.map((image) => ({ src: image.getAttribute("src"), width: image.naturalWidth })),
    counts,
    totalCost: text("#total-cost"),
    visibleAll: visible(),
    prompts: Object.fromEntries([...document.querySelectorAll(".job")].map(
      (job) => [job.getAttribute("data-id"), job.querySelector("dd.prompt")?.textContent ?? null])),
    scripts: document.scripts.length,
    pwned: window.__pwned ?? null,
  };
  document.querySelector('#filters button[data-filter="failed"]').click();
  found.visibleFailed = visible();
  document.querySelector('#filters button[data-filter="all"]').click();
  const slider = document.querySelector(".compare input");
  if (slider) {
    slider.value = "20";
    slider.dispatchEvent(new Event("input", { bubbles: true }));
    found.sliderCut = slider.parentElement.style.getPropertyValue("--cut");
  }
  window.scrollTo(0, 0);
  return found;
})()`;

try {
  const { targetInfos } = await send("Target.getTargets");
  const target = targetInfos.find((t) => t.type === "page");
  const { sessionId } = await send("Target.attachToTarget", { targetId: target.targetId, flatten: true });
  for (const domain of ["Runtime", "Log", "Page"]) await send(`${domain}.enable`, {}, sessionId);
  await send("Emulation.setDeviceMetricsOverride", { width: 1280, height: 860, deviceScaleFactor: 1, mobile: false }, sessionId);
  const loaded = once("Page.loadEventFired");
  await send("Page.navigate", { url: pathToFileURL(resolve(page)).href }, sessionId);
  await loaded;
  const { result, exceptionDetails } = await send(
    "Runtime.evaluate",
    { expression: measure, awaitPromise: true, returnByValue: true },
    sessionId,
  );
  if (exceptionDetails) throw new Error(`the measure failed: ${JSON.stringify(exceptionDetails)}`);
  const shot = await send("Page.captureScreenshot", { format: "png" }, sessionId);
  writeFileSync(screenshot, Buffer.from(shot.data, "base64"));
  // Errors reported while the page settled are in by now.
  await new Promise((ok) => setTimeout(ok, 200));
  console.log(JSON.stringify({ ...result.value, errors }));
  clearTimeout(limit);
  chrome.removeAllListeners("exit");
  const exited = new Promise((ok) => chrome.on("exit", ok));
  await send("Browser.close").catch(() => {});
  await exited;
} catch (error) {
  fail(error.stack ?? String(error));
}
