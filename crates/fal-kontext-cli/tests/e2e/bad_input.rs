//! Bad input on the command line, flag by flag: each invalid value exits 2
//! with one line that names the flag and the values it takes, sends nothing
//! and writes nothing (`--out` is not even created).

use crate::harness::*;

/// One invalid command line: `{out}` stands for a directory that does not
/// exist yet, `{file}` for an existing plain file, `{pdf}` for a file that
/// is not an image, `{busy}` for a port already taken.
struct Case {
    args: &'static [&'static str],
    /// How the message names the flag (or argument).
    flag: &'static str,
    /// Part of the message that says what is allowed.
    allowed: &'static str,
}

const fn case(args: &'static [&'static str], flag: &'static str, allowed: &'static str) -> Case {
    Case {
        args,
        flag,
        allowed,
    }
}

/// `edit` with everything it needs, then the flag under test.
macro_rules! edit {
    ($($arg:literal),*) => {
        &["edit", "--image", SAMPLE, "--prompt", "p", "--out", "{out}", $($arg),*]
    };
}

/// Every flag that takes a value, and every switch given one, by command.
/// (`--prompt` and `emulator --key` take any text: no value is invalid.)
#[rustfmt::skip]
const CASES: &[Case] = &[
    // global switches
    case(&["--local=yes", "generate", "--prompt", "p"], "'--local'", "no more were expected"),
    case(&["--json=yes", "generate", "--prompt", "p"], "'--json'", "no more were expected"),
    case(&["--quiet=yes", "generate", "--prompt", "p"], "'--quiet'", "no more were expected"),
    // edit: the input fields
    case(edit!("--model", "turbo"), "'--model <MODEL>'", "[possible values: pro, max, dev]"),
    case(edit!("--seed", "seven"), "'--seed'", "a whole number from -9223372036854775808 to 9223372036854775807"),
    case(edit!("--seed", "9223372036854775808"), "'--seed'", "a whole number from -9223372036854775808 to 9223372036854775807"),
    case(edit!("--guidance-scale", "strong"), "'--guidance-scale'", "must be from 1 to 20"),
    case(edit!("--guidance-scale", "20.5"), "'--guidance-scale'", "must be from 1 to 20"),
    case(edit!("--guidance-scale", "NaN"), "'--guidance-scale'", "must be from 1 to 20"),
    case(edit!("--num-images", "0"), "'--num-images'", "must be from 1 to 4"),
    case(edit!("--num-images", "5"), "'--num-images'", "must be from 1 to 4"),
    case(edit!("--num-images", "300"), "'--num-images'", "must be from 1 to 4"),
    case(edit!("--num-images", "two"), "'--num-images'", "must be from 1 to 4"),
    case(edit!("--output-format", "webp"), "'--output-format'", r#"must be one of "jpeg", "png""#),
    case(edit!("--sync=yes"), "'--sync'", "no more were expected"),
    case(edit!("--safety-tolerance", "0"), "'--safety-tolerance'", r#"must be one of "1", "2", "3", "4", "5", "6""#),
    case(edit!("--aspect-ratio", "5:4"), "'--aspect-ratio'", r#""21:9", "16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16", "9:21""#),
    case(edit!("--enhance-prompt=no"), "'--enhance-prompt'", "no more were expected"),
    case(edit!("--model", "dev", "--num-inference-steps", "9"), "'--num-inference-steps'", "must be from 10 to 50"),
    case(edit!("--model", "dev", "--num-inference-steps", "51"), "'--num-inference-steps'", "must be from 10 to 50"),
    case(edit!("--model", "dev", "--num-inference-steps", "999"), "'--num-inference-steps'", "must be from 10 to 50"),
    case(edit!("--num-inference-steps", "30"), "'--num-inference-steps'", "not available with --model pro or max"),
    case(edit!("--model", "dev", "--acceleration", "turbo"), "'--acceleration'", r#"must be one of "none", "regular", "high""#),
    case(edit!("--model", "dev", "--resolution-mode", "5:5"), "'--resolution-mode'", r#""auto", "match_input", "1:1""#),
    case(edit!("--model", "dev", "--aspect-ratio", "16:9"), "'--aspect-ratio'", "not available with --model dev"),
    case(edit!("--no-safety-checker=1"), "'--no-safety-checker'", "no more were expected"),
    // edit: queue and output
    case(edit!("--webhook", "ftp://example.com/hook"), "'--webhook'", "must be an http(s) URL"),
    case(edit!("--timeout", "0"), "'--timeout'", "a whole number of seconds, 1 or more"),
    case(edit!("--cdn-lifetime", "0"), "'--cdn-lifetime'", "whole seconds from 1 to 31536000000"),
    case(edit!("--cdn-lifetime", "31536000001"), "'--cdn-lifetime'", "whole seconds from 1 to 31536000000"),
    case(edit!("--cdn-lifetime", "1h"), "'--cdn-lifetime'", "whole seconds from 1 to 31536000000"),
    case(edit!("--no-store-io=yes"), "'--no-store-io'", "no more were expected"),
    case(edit!("--no-retry=yes"), "'--no-retry'", "no more were expected"),
    case(edit!("--max-queue-length", "0"), "'--max-queue-length'", "1 or more"),
    case(edit!("--max-queue-length=-1"), "'--max-queue-length'", "1 or more"),
    case(edit!("--header", "x-fal-new-option"), "'--header <NAME:VALUE>'", "must be NAME:VALUE"),
    case(edit!("--header", "Authorization: Key someone-elses"), "'--header'", "is set by the SDK"),
    case(edit!("--header", "X-Fal-Store-IO: 1"), "'--header'", "is set by the SDK"),
    case(edit!("--header", "bad name: v"), "'--header'", "must be a header name"),
    case(edit!("--header", "x-fal-new-option:"), "'--header'", "must be visible ASCII text, not empty"),
    case(edit!("--timeout", "soon"), "'--timeout'", "a whole number of seconds, 1 or more"),
    case(edit!("--name", "../escape"), "--name", "letters, digits, '.', '_' or '-'"),
    case(&["edit", "--image", SAMPLE, "--prompt", "p", "--out", "{file}"], "'--out'", "must be a directory"),
    case(&["edit", "--image", SAMPLE, "--prompt", "p", "--out", "{file}/below"], "'--out'", "must be a directory"),
    // edit: the image
    case(&["edit", "--image", "{out}/missing.png", "--prompt", "p", "--out", "{out}"], "'--image'", "a readable JPEG, PNG, WebP, GIF or AVIF file, or an http(s) URL"),
    case(&["edit", "--image", "{pdf}", "--prompt", "p", "--out", "{out}"], "'--image'", "must be a JPEG, PNG, WebP, GIF or AVIF image"),
    case(&["edit", "--image", "", "--prompt", "p", "--out", "{out}"], "'--image'", "give a URL, a data: URI or a file"),
    // LoRAs, inpaint, train
    case(edit!("--lora", "https://example.com/a.safetensors:5"), "'--lora'", "must be from 0 to 4"),
    case(edit!("--lora", "{out}/missing.safetensors"), "'--lora <PATH|URL[:SCALE]>'", "must be a local .safetensors file or an http(s) URL"),
    case(edit!("--lora", "{file}"), "'--lora'", "must be a URL or a .safetensors file"),
    case(edit!("--lora", "https://example.com/a.safetensors", "--model", "max"), "'--model'", "the LoRA endpoints run FLUX.1 Kontext [dev]"),
    case(edit!("--lora", "https://example.com/a.safetensors", "--aspect-ratio", "16:9"), "'--aspect-ratio'", "not available with the LoRA endpoints"),
    case(&["inpaint", "--image", SAMPLE, "--mask", "{out}/mask.png", "--reference", SAMPLE, "--prompt", "p", "--out", "{out}"], "'--mask'", "must be a readable JPEG, PNG, WebP, GIF or AVIF file"),
    case(&["inpaint", "--image", SAMPLE, "--mask", SAMPLE, "--reference", "{out}/sofa.png", "--prompt", "p", "--out", "{out}"], "'--reference'", "must be a readable JPEG, PNG, WebP, GIF or AVIF file"),
    case(&["inpaint", "--image", SAMPLE, "--mask", SAMPLE, "--reference", SAMPLE, "--prompt", "p", "--out", "{out}", "--strength", "2"], "'--strength'", "must be from 0.01 to 1"),
    case(&["train", "--pairs", "{pairs}", "--out", "{out}"], "'--caption'", "the pair `blue` has no caption"),
    case(&["train", "--pairs", "{lone}", "--out", "{out}", "--caption", "c"], "'--pairs'", "has no `red_end.EXT`"),
    case(&["train", "--pairs", "{pairs}", "--out", "{out}", "--caption", "c", "--steps", "1"], "'--steps'", "must be from 2 to 10000"),
    case(&["train", "--pairs", "{pairs}", "--out", "{out}", "--format", "kohya"], "'--format <FORMAT>'", "[possible values: fal, comfy]"),
    // generate, multi, submit
    case(&["generate", "--prompt", "p", "--out", "{out}", "--model", "dev"], "'--model <MODEL>'", "[possible values: pro, max]"),
    case(&["generate", "--prompt", "p", "--out", "{out}", "--num-images", "9"], "'--num-images'", "must be from 1 to 4"),
    case(&["multi", "--image", SAMPLE, "--prompt", "p", "--out", "{out}", "--model", "dev"], "'--model <MODEL>'", "[possible values: pro, max]"),
    case(&["multi", "--image", SAMPLE, "--image", "{pdf}", "--prompt", "p", "--out", "{out}"], "'--image'", "must be a JPEG, PNG, WebP, GIF or AVIF image"),
    case(&["submit", "--image", SAMPLE, "--image", SAMPLE, "--prompt", "p", "--model", "dev"], "'--model'", "[dev] edits one image"),
    case(&["submit", "--prompt", "p", "--guidance-scale", "0"], "'--guidance-scale'", "must be from 1 to 20"),
    case(&["submit", "--prompt", "p", "--cdn-lifetime", "0"], "'--cdn-lifetime'", "whole seconds from 1 to 31536000000"),
    case(&["submit", "--prompt", "p", "--max-queue-length", "0"], "'--max-queue-length'", "1 or more"),
    case(&["generate", "--prompt", "p", "--out", "{out}", "--header", "content-type: text/plain"], "'--header'", "is set by the SDK"),
    case(&["multi", "--image", SAMPLE, "--prompt", "p", "--out", "{out}", "--cdn-lifetime", "0"], "'--cdn-lifetime'", "whole seconds from 1 to 31536000000"),
    // status, result, cancel
    case(&["status", ""], "'<ID>'", "1 to 128 letters, digits, '-' or '_'"),
    case(&["status", "../../other"], "'<ID>'", "1 to 128 letters, digits, '-' or '_'"),
    case(&["status", "abc", "--model", "turbo"], "'--model <MODEL>'", "[possible values: pro, max, dev]"),
    case(&["status", "abc", "--endpoint", "fal-ai/flux"], "'--endpoint <ENDPOINT>'", "fal-ai/flux-pro/kontext, fal-ai/flux-pro/kontext/max"),
    case(&["status", "abc", "--logs=yes"], "'--logs'", "no more were expected"),
    case(&["status", "abc", "--watch=yes"], "'--watch'", "no more were expected"),
    case(&["result", "abc", "--out", "{out}", "--timeout", "0"], "'--timeout'", "a whole number of seconds, 1 or more"),
    case(&["result", "abc", "--out", "{file}"], "'--out'", "must be a directory"),
    case(&["result", "abc", "--out", "{out}", "--name", ".hidden"], "--name", "not starting with '.'"),
    case(&["cancel", "a b"], "'<ID>'", "1 to 128 letters, digits, '-' or '_'"),
    case(&["cancel", "abc", "--endpoint", "fal-ai/flux-pro/kontext/turbo"], "'--endpoint <ENDPOINT>'", "fal-ai/flux-kontext/dev"),
    // batch
    case(&["batch", "{out}/missing.jsonl", "--out", "{out}"], "'<JOBS.jsonl>'", "must be a readable JSON-lines file"),
    case(&["batch", "{file}", "--out", "{out}", "--concurrency", "0"], "'--concurrency'", "must be from 1 to 256"),
    case(&["batch", "{file}", "--out", "{out}", "--concurrency", "257"], "'--concurrency'", "must be from 1 to 256"),
    case(&["batch", "{file}", "--out", "{out}", "--concurrency", "fast"], "'--concurrency'", "must be from 1 to 256, or auto"),
    case(&["batch", "{file}", "--out", "{out}", "--model", "turbo"], "'--model <MODEL>'", "[possible values: pro, max, dev]"),
    case(&["batch", "{file}", "--out", "{out}", "--timeout", "0.5"], "'--timeout'", "a whole number of seconds, 1 or more"),
    case(&["batch", "{file}", "--out", "{out}", "--max-cost", "-1"], "'--max-cost'", "must be an amount, 0 or more"),
    case(&["batch", "{file}", "--out", "{out}", "--max-cost", "inf"], "'--max-cost'", "must be an amount, 0 or more"),
    case(&["batch", "{file}", "--out", "{out}", "--max-cost", "5usd"], "'--max-cost'", "must be an amount, 0 or more"),
    case(&["batch", "{file}", "--out", "{out}", "--history-delay", "-1"], "'--history-delay'", "a whole number of seconds, 0 or more"),
    case(&["batch", "{file}", "--out", "{out}", "--history-delay", "10m"], "'--history-delay'", "a whole number of seconds, 0 or more"),
    // emulator
    case(&["emulator", "--port", "65536"], "'--port <PORT>'", "a port number from 0 to 65535"),
    case(&["emulator", "--queue-delay-ms=-5"], "'--queue-delay-ms <QUEUE_DELAY_MS>'", "a whole number of milliseconds, 0 or more"),
    case(&["emulator", "--processing-ms", "fast"], "'--processing-ms <PROCESSING_MS>'", "a whole number of milliseconds, 0 or more"),
    case(&["emulator", "--concurrency", "0"], "'--concurrency <CONCURRENCY>'", "a whole number, 1 or more"),
    case(&["emulator", "--max-running-per-key", "0"], "'--max-running-per-key <N>'", "a whole number, 1 or more"),
    case(&["emulator", "--eager-validation=yes"], "'--eager-validation'", "no more were expected"),
    case(&["emulator", "--tls=yes"], "'--tls'", "no more were expected"),
    // webhook serve
    case(&["webhook", "serve", "--out", "{out}", "--port", "65536"], "'--port'", "a port number from 0 to 65535"),
    case(&["webhook", "serve", "--out", "{out}", "--port", "{busy}"], "'--port'", "cannot listen on 127.0.0.1:"),
    case(&["webhook", "serve", "--out", "{out}", "--host", "example.com"], "'--host'", "an IP address such as 127.0.0.1 or 0.0.0.0"),
    case(&["webhook", "serve", "--out", "{out}", "--jwks-url", "ftp://example.com/jwks.json"], "'--jwks-url'", "must be an http(s) URL"),
    case(&["webhook", "serve", "--out", "{file}"], "'--out'", "must be a directory"),
    case(&["--local", "webhook", "serve", "--out", "{out}"], "--local", "does not apply to `webhook serve`"),
    // completions
    case(&["completions", "tcsh"], "'<SHELL>'", "[possible values: bash, elvish, fish, powershell, zsh]"),
];

#[test]
fn every_invalid_flag_value_exits_2_with_one_line_naming_the_flag_and_sends_nothing() {
    let emu = Emu::start();
    let busy_port = emu.emulator.queue_url().rsplit(':').next().unwrap();
    let mut failures = Vec::new();
    for case in CASES {
        let scratch = tempfile::tempdir().unwrap();
        let out = scratch.path().join("out");
        let file = scratch.path().join("notes.txt");
        std::fs::write(&file, "{}\n").unwrap();
        let pdf = scratch.path().join("notes.pdf");
        std::fs::write(&pdf, b"%PDF-1.7\n").unwrap();
        // pairs: `blue` without its caption; `lone`: `red` without its after image
        let (pairs, lone) = (scratch.path().join("pairs"), scratch.path().join("lone"));
        for (dir, roots) in [(&pairs, ["red", "blue"]), (&lone, ["red", "red"])] {
            std::fs::create_dir(dir).unwrap();
            for root in roots {
                std::fs::copy(SAMPLE, dir.join(format!("{root}_start.png"))).unwrap();
                if dir == &pairs {
                    std::fs::copy(SAMPLE, dir.join(format!("{root}_end.png"))).unwrap();
                }
            }
        }
        std::fs::write(pairs.join("red.txt"), "Paint it red").unwrap();
        let args: Vec<String> = case
            .args
            .iter()
            .map(|arg| {
                arg.replace("{out}", out.to_str().unwrap())
                    .replace("{file}", file.to_str().unwrap())
                    .replace("{pdf}", pdf.to_str().unwrap())
                    .replace("{pairs}", pairs.to_str().unwrap())
                    .replace("{lone}", lone.to_str().unwrap())
                    .replace("{busy}", busy_port)
            })
            .collect();

        let output = run(emu.kontext(&args));
        let message = stderr(&output);
        let first = message.lines().next().unwrap_or_default();
        let problems: Vec<&str> = [
            (output.status.code() != Some(2), "exit code is not 2"),
            (message.lines().count() != 1, "not exactly one line"),
            (!first.contains(case.flag), "the flag is not named"),
            (
                !first.contains(case.allowed),
                "the allowed values are not said",
            ),
            (!output.stdout.is_empty(), "something on stdout"),
            (out.exists(), "--out was created"),
            (
                std::fs::read(&file).unwrap() != b"{}\n",
                "a file was changed",
            ),
        ]
        .into_iter()
        .filter_map(|(failed, what)| failed.then_some(what))
        .collect();
        if !problems.is_empty() {
            failures.push(format!("{args:?}: {problems:?}\n{}", describe(&output)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        emu.emulator.requests().is_empty(),
        "nothing may be sent: {:#?}",
        emu.emulator.requests()
    );
}
