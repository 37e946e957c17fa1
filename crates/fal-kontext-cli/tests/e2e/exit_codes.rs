//! Exit codes, one class of failure at a time, and Ctrl-C.

use std::time::Duration;

use fal_emulator::{Config, Fault, FaultRule, Route};

use crate::harness::*;

/// `kontext edit` of the sample with `extra` flags, into a fresh directory.
fn edit(emu: &Emu, extra: &[&str]) -> (std::process::Output, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec!["edit", "--image", SAMPLE, "--prompt", "p", "--out"];
    args.push(out.path().to_str().unwrap());
    args.extend_from_slice(extra);
    (run(emu.kontext(&args)), out)
}

#[test]
fn bad_input_exits_2_with_one_line_before_any_request() {
    let emu = Emu::start();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--output-format", "webp"],
            r#"error: invalid value 'webp' for '--output-format': must be one of "jpeg", "png""#,
        ),
        (
            &["--safety-tolerance", "7"],
            r#"error: invalid value '7' for '--safety-tolerance': must be one of "1", "2", "3", "4", "5", "6""#,
        ),
        (
            &["--model", "turbo"],
            "error: invalid value 'turbo' for '--model <MODEL>' [possible values: pro, max, dev]",
        ),
        (
            &["--num-images", "5"],
            "error: invalid value '5' for '--num-images': must be from 1 to 4",
        ),
        (
            &["--guidance-scale", "30"],
            "error: invalid value '30' for '--guidance-scale': must be from 1 to 20",
        ),
        (
            &["--webhook", "ftp://example.com/hook"],
            "error: invalid value 'ftp://example.com/hook' for '--webhook': must be an http(s) URL",
        ),
        (
            &["--model", "dev", "--aspect-ratio", "16:9"],
            "error: invalid value '16:9' for '--aspect-ratio': not available with --model dev",
        ),
        (
            &["--name", "../escape"],
            "error: invalid --name: `../escape` must be 1 to 128 letters, digits, '.', '_' or '-', not starting with '.', to name a file inside the directory",
        ),
    ];
    for (extra, expected) in cases {
        let (output, _out) = edit(&emu, extra);
        assert_eq!(code(&output), 2, "{extra:?}: {}", describe(&output));
        assert_eq!(stderr(&output), format!("{expected}\n"), "{extra:?}");
        assert!(output.stdout.is_empty());
    }

    let output = run(emu.kontext(["edit", "--image", "no/such/file.png", "--prompt", "p"]));
    assert_eq!(code(&output), 2, "{}", describe(&output));
    assert!(
        stderr(&output).starts_with("error: invalid value 'no/such/file.png' for '--image': "),
        "{}",
        describe(&output)
    );
    assert_eq!(stderr(&output).lines().count(), 1);

    assert!(
        emu.emulator.requests().is_empty(),
        "{:#?}",
        emu.emulator.requests()
    );
}

#[test]
fn no_key_exits_2_and_suggests_local() {
    let output = run(kontext(["generate", "--prompt", "p"]));
    assert_eq!(code(&output), 2, "{}", describe(&output));
    let message = stderr(&output);
    assert!(
        message.contains("FAL_KEY") && message.contains("--local"),
        "{message}"
    );
}

#[test]
fn a_refused_key_exits_3_and_is_never_printed() {
    let emu = Emu::start();
    let key = "sk-live-do-not-print-me";
    let mut command = emu.kontext(["edit", "--image", SAMPLE, "--prompt", "p", "--json"]);
    command.env("FAL_KEY", key);
    let output = run(command);
    assert_eq!(code(&output), 3, "{}", describe(&output));
    assert!(
        stderr(&output).starts_with("error: fal refused the API key (401)"),
        "{}",
        describe(&output)
    );
    assert!(!describe(&output).contains(key));
}

#[test]
fn input_the_api_rejects_exits_3() {
    let emu = Emu::start();
    emu.emulator
        .set_faults(vec![FaultRule::once(Route::Submit, Fault::Unprocessable)]);
    let (output, _out) = edit(&emu, &[]);
    assert_eq!(code(&output), 3, "{}", describe(&output));
    assert!(
        stderr(&output).starts_with("error: fal rejected the input: "),
        "{}",
        describe(&output)
    );
}

#[test]
fn a_server_failure_exits_4() {
    let emu = Emu::start();
    // A 500 from the app may have created the job: a submit is not repeated.
    emu.emulator
        .set_faults(vec![FaultRule::once(Route::Submit, Fault::AppError)]);
    let (output, _out) = edit(&emu, &[]);
    assert_eq!(code(&output), 4, "{}", describe(&output));
    assert!(
        stderr(&output).starts_with("error: fal answered 500"),
        "{}",
        describe(&output)
    );
    assert_eq!(emu.stats().submit, 1);
}

#[test]
fn an_unreachable_api_exits_4() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let mut command = kontext(["generate", "--prompt", "p"]);
    command
        .env("FAL_KEY", "k")
        .env("FAL_QUEUE_URL", &url)
        .env("FAL_RUN_URL", &url)
        .env("FAL_REST_URL", &url);
    let output = run(command);
    assert_eq!(code(&output), 4, "{}", describe(&output));
    assert!(
        stderr(&output).starts_with("error: network error"),
        "{}",
        describe(&output)
    );
}

#[test]
fn a_timeout_exits_4_and_cancels_the_request() {
    let emu = Emu::with(Config {
        timing: slow(Duration::from_secs(60)),
        ..Config::default()
    });
    let (output, out) = edit(&emu, &["--timeout", "1"]);
    assert_eq!(code(&output), 4, "{}", describe(&output));
    assert!(
        stderr(&output).contains("(cancelled)"),
        "{}",
        describe(&output)
    );
    assert_eq!(emu.stats().jobs_cancelled, 1);
    assert_eq!(files(out.path()), Vec::<String>::new());
}

#[test]
fn ctrl_c_and_sigterm_cancel_the_request_and_exit_130_and_143() {
    for (name, exit_code, words) in [
        ("INT", 130, "interrupted"),
        ("TERM", 143, "terminated (SIGTERM)"),
    ] {
        let emu = Emu::with(Config {
            timing: slow(Duration::from_secs(60)),
            ..Config::default()
        });
        let out = tempfile::tempdir().unwrap();
        let child = spawn(emu.kontext([
            "edit",
            "--image",
            SAMPLE,
            "--prompt",
            "p",
            "--out",
            out.path().to_str().unwrap(),
        ]));
        // The emulator holds the job; kontext is waiting for it.
        emu.wait_for("the job to run", |s| s.jobs_created == 1 && s.stream >= 1);
        signal(child.id(), name);
        let output = finish(child);

        assert_eq!(code(&output), exit_code, "{}", describe(&output));
        assert!(
            stderr(&output).starts_with(&format!("error: {words}: cancelled request ")),
            "{}",
            describe(&output)
        );
        let stats = emu.stats();
        assert_eq!((stats.cancel, stats.jobs_cancelled), (1, 1), "{stats:?}");
        assert_eq!(files(out.path()), Vec::<String>::new());
    }
}
