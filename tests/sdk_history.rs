//! The request history, payload deletion and the search for a lost submit,
//! through the emulator's Platform APIs: pages are fetched lazily and
//! followed to the end, deletion needs the admin key and is idempotent by
//! key, and `find_submitted` finds a job, does not find one, or says it
//! cannot know.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use common::{builder, client, emulator, emulator_with, on, quick};
use fal_emulator::{Config, Emulator, Fault, FaultRule, Route};
use fal_kontext::{Client, Error, SubmitLookup, SubmitRecord, endpoints};
use futures::TryStreamExt;
use serde_json::{Value, json};

const TTI: &str = endpoints::FLUX_PRO_KONTEXT_TEXT_TO_IMAGE;

/// A client that deletes with the emulator's admin key.
fn admin(emulator: &Emulator) -> Client {
    builder(emulator)
        .admin_key(emulator.admin_key())
        .build()
        .unwrap()
}

/// Runs `count` text-to-image jobs; their request ids.
async fn run_jobs(client: &Client, count: usize) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for n in 0..count {
        let done = client
            .text_to_image(format!("kite number {n}"))
            .seed(n as i64)
            .run()
            .await
            .unwrap();
        ids.insert(done.request_id);
    }
    ids
}

#[tokio::test]
async fn the_history_is_paged_lazily_and_followed_to_the_end() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let ran = run_jobs(&client, 5).await;

    let mut pages = client
        .history()
        .endpoint(TTI)
        .page_size(2)
        .stream()
        .unwrap();
    assert_eq!(
        emulator.stats().history,
        0,
        "nothing is asked before a read"
    );
    let first = pages.try_next().await.unwrap().unwrap();
    assert_eq!(emulator.stats().history, 1, "one page for the first item");
    let mut listed = vec![first];
    while let Some(item) = pages.try_next().await.unwrap() {
        listed.push(item);
    }
    assert_eq!(emulator.stats().history, 3, "pages of 2, 2 and 1");
    let ids: BTreeSet<String> = listed.iter().map(|i| i.request_id.clone()).collect();
    assert_eq!(ids, ran);
    assert_eq!(listed.len(), 5, "each once");
    for item in &listed {
        assert_eq!(item.endpoint_id, TTI);
        assert_eq!(item.status_code, Some(200));
        assert!(item.ended_at.is_some() && item.input.is_none(), "{item:?}");
    }
    // the cursors sent are the ones fal answered
    let cursors: Vec<Option<String>> = on(&emulator, Route::History)
        .iter()
        .map(|r| {
            r.query
                .as_deref()
                .unwrap_or_default()
                .split('&')
                .find_map(|p| p.strip_prefix("cursor=").map(str::to_owned))
        })
        .collect();
    assert_eq!(
        cursors,
        [None, Some("Mg%3D%3D".into()), Some("Mw%3D%3D".into())]
    );

    // a limit stops the paging
    let three = client.history().endpoint(TTI).limit(3).all().await.unwrap();
    assert_eq!(three.len(), 3);
}

#[tokio::test]
async fn payloads_are_listed_only_when_asked_and_only_when_fal_kept_them() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let kept = client.text_to_image("kept").seed(1).run().await.unwrap();
    let unkept = client
        .text_to_image("not kept")
        .store_io(false)
        .run()
        .await
        .unwrap();
    let items = client
        .history()
        .endpoint(TTI)
        .payloads(true)
        .all()
        .await
        .unwrap();
    let item = |id: &str| items.iter().find(|i| i.request_id == id).unwrap();
    let kept_item = item(&kept.request_id);
    assert_eq!(
        kept_item.input.as_ref().unwrap()["prompt"],
        "kept",
        "{kept_item:?}"
    );
    assert!(kept_item.output.as_ref().unwrap()["images"].is_array());
    let unkept_item = item(&unkept.request_id);
    assert!(unkept_item.input.is_none() && unkept_item.output.is_none());

    // one request by its id, and a status that none has
    let one = client
        .history()
        .endpoint(TTI)
        .request_id(&kept.request_id)
        .all()
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    let failed = client
        .history()
        .endpoint(TTI)
        .status(fal_kontext::HistoryStatus::Error)
        .all()
        .await
        .unwrap();
    assert!(failed.is_empty(), "{failed:?}");
}

#[tokio::test]
async fn deleting_needs_the_admin_key_and_takes_the_output_files() {
    let emulator = emulator().await;
    let done = client(&emulator)
        .text_to_image("delete me")
        .num_images(2)
        .run()
        .await
        .unwrap();
    let urls: Vec<String> = done.output.images.iter().map(|i| i.url.clone()).collect();

    let error = client(&emulator)
        .delete_payloads(&done.request_id)
        .await
        .unwrap_err();
    let Error::Authentication { status: 403, .. } = &error else {
        panic!("{error:?}")
    };
    let message = error.to_string();
    assert!(
        message.contains("ADMIN scope") && message.contains("FAL_ADMIN_KEY"),
        "{message}"
    );
    assert_eq!(error.request_id(), Some(done.request_id.as_str()));
    assert!(!message.contains(emulator.key()), "{message}");

    let deletion = admin(&emulator)
        .delete_payloads(&done.request_id)
        .await
        .unwrap();
    assert!(deletion.is_complete(), "{deletion:?}");
    assert_eq!(deletion.deleted().collect::<Vec<_>>(), urls);
    let http = reqwest::Client::new();
    for url in &urls {
        let status = http.get(url).send().await.unwrap().status();
        assert_eq!(status.as_u16(), 404, "{url}");
    }
    let item = client(&emulator)
        .history()
        .endpoint(TTI)
        .payloads(true)
        .all()
        .await
        .unwrap()
        .remove(0);
    assert!(item.input.is_none() && item.output.is_none(), "{item:?}");
    assert_eq!(emulator.stats().key_leaks, 0);

    // an unknown request: fal's not_found, in its error shape
    let error = admin(&emulator)
        .delete_payloads("00000000-0000-0000-0000-000000000000")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::NotFound { detail, .. } if detail.contains("not found")),
        "{error:?}"
    );
    assert_eq!(
        error.context().unwrap().error_type.as_deref(),
        Some("not_found")
    );
}

#[tokio::test]
async fn a_deletion_repeated_with_its_key_gets_the_first_answer() {
    let emulator = emulator().await;
    let done = client(&emulator).text_to_image("once").run().await.unwrap();
    let admin = admin(&emulator);
    let first = admin
        .delete_payloads_with_key(&done.request_id, "job-1")
        .await
        .unwrap();
    assert_eq!(first.files.len(), 1);
    let again = admin
        .delete_payloads_with_key(&done.request_id, "job-1")
        .await
        .unwrap();
    assert_eq!(again, first, "the cached answer, naming the file deleted");
    // a new key is a new deletion, of what is left: nothing
    let later = admin.delete_payloads(&done.request_id).await.unwrap();
    assert!(later.files.is_empty(), "{later:?}");
    let keys: Vec<String> = on(&emulator, Route::DeletePayloads)
        .iter()
        .filter_map(|r| {
            r.headers
                .iter()
                .find(|(name, _)| name == "idempotency-key")
                .map(|(_, value)| value.clone())
        })
        .collect();
    assert_eq!(keys.len(), 3, "every call carries a key");
    assert_eq!(keys[..2], ["job-1", "job-1"]);
    assert_ne!(keys[2], "job-1");
}

#[tokio::test]
async fn a_rate_limited_page_is_retried_after_a_pause_and_reported_with_fals_words() {
    let emulator = emulator_with(Config {
        timing: quick(),
        faults: vec![FaultRule::once(Route::History, Fault::PlatformRateLimited)],
        ..Config::default()
    })
    .await;
    let client = client(&emulator);
    run_jobs(&client, 1).await;
    let items = client.history().endpoint(TTI).all().await.unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(emulator.stats().history, 2, "the 429, then the page");

    emulator.set_faults(vec![FaultRule::rate(
        Route::History,
        Fault::PlatformRateLimited,
        1.0,
    )]);
    let error = client.history().endpoint(TTI).all().await.unwrap_err();
    let Error::RateLimited {
        retry_after: None,
        context,
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(context.error_type.as_deref(), Some("rate_limited"));
    assert!(
        context
            .request_id
            .as_deref()
            .is_some_and(|id| id.len() == 36),
        "fal's request id, for its support: {context:?}"
    );
}

/// The input a submit sent, as the emulator received it.
fn last_input(emulator: &Emulator) -> Value {
    on(emulator, Route::Submit)
        .pop()
        .and_then(|r| r.body)
        .expect("a JSON submit")
}

#[tokio::test]
async fn a_lost_submit_is_found_or_not_found_or_cannot_be_known() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let before = SystemTime::now() - Duration::from_secs(1);
    let handle = client
        .text_to_image("a lost kite")
        .seed(7)
        .submit()
        .await
        .unwrap();
    let sent = SubmitRecord::new(TTI, last_input(&emulator), before);
    assert_eq!(
        client.find_submitted(&sent).await.unwrap(),
        SubmitLookup::Found {
            request_id: handle.request_id().to_string()
        }
    );
    let other = SubmitRecord::new(TTI, json!({"prompt": "never sent"}), before);
    assert_eq!(
        client.find_submitted(&other).await.unwrap(),
        SubmitLookup::NotFound
    );
    // another endpoint's history holds nothing of it
    let elsewhere = SubmitRecord::new(endpoints::FLUX_PRO_KONTEXT, sent.input.clone(), before);
    assert_eq!(
        client.find_submitted(&elsewhere).await.unwrap(),
        SubmitLookup::NotFound
    );

    // the same job twice: either may be the one
    client
        .text_to_image("a lost kite")
        .seed(7)
        .submit()
        .await
        .unwrap();
    assert!(matches!(
        client.find_submitted(&sent).await.unwrap(),
        SubmitLookup::Several { request_ids } if request_ids.len() == 2
    ));

    // a submit with store_io off left no input to compare
    client
        .text_to_image("unseen")
        .store_io(false)
        .submit()
        .await
        .unwrap();
    let unseen = SubmitRecord::new(TTI, last_input(&emulator), before);
    let lookup = client.find_submitted(&unseen).await.unwrap();
    assert!(
        matches!(&lookup, SubmitLookup::CannotKnow { reason } if reason.contains("store_io(false)")),
        "{lookup:?}"
    );
}

/// A recorded request without what changes between runs.
fn sent(request: &fal_emulator::RecordedRequest) -> Value {
    let headers: Vec<_> = request
        .headers
        .iter()
        .filter(|(name, _)| {
            matches!(
                name.as_str(),
                "authorization" | "content-type" | "idempotency-key"
            )
        })
        .cloned()
        .collect();
    json!({
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "headers": headers,
        "body": request.body,
    })
}

/// An answer without what changes between runs (ids, times, URLs' ports).
fn stable(mut value: Value, emulator: &Emulator) -> Value {
    fn walk(value: &mut Value, cdn: &str) {
        match value {
            Value::Object(map) => {
                for (key, field) in map.iter_mut() {
                    match key.as_str() {
                        "request_id" | "sent_at" | "started_at" | "ended_at" | "duration"
                        | "inference"
                            if !field.is_null() =>
                        {
                            *field = json!(format!("<{key}>"));
                        }
                        _ => walk(field, cdn),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| walk(item, cdn)),
            Value::String(text) => *text = text.replace(cdn, "{cdn}"),
            _ => {}
        }
    }
    walk(&mut value, emulator.cdn_url());
    value
}

#[tokio::test]
async fn what_the_history_and_a_deletion_send_and_answer() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let done = client
        .text_to_image("snapshot")
        .seed(3)
        .run()
        .await
        .unwrap();
    let since = std::time::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    let items = client
        .history()
        .endpoint(TTI)
        .since(since)
        .status(fal_kontext::HistoryStatus::Success)
        .payloads(true)
        .sort(fal_kontext::HistorySort::Duration)
        .page_size(10)
        .all()
        .await
        .unwrap();
    let deletion = admin(&emulator)
        .delete_payloads_with_key(&done.request_id, "snapshot-key")
        .await
        .unwrap();
    let requests: Vec<Value> = emulator
        .requests()
        .iter()
        .filter(|r| matches!(r.route, Route::History | Route::DeletePayloads))
        .map(|r| {
            let mut request = sent(r);
            request["path"] = json!(r.path.replace(&done.request_id, "{id}"));
            request
        })
        .collect();
    insta::assert_json_snapshot!("history_and_deletion_requests", requests);
    insta::assert_json_snapshot!(
        "history_and_deletion_answers",
        stable(json!({"items": items, "deletion": deletion}), &emulator)
    );
}

/// A `tracing` writer that keeps everything in memory.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_admin_key_is_never_printed_nor_logged() {
    const ADMIN: &str = "admin-key-0123456789-very-secret";
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let emulator = emulator_with(Config {
        admin_key: ADMIN.into(),
        timing: quick(),
        faults: vec![FaultRule::once(Route::DeletePayloads, Fault::AppError)],
        ..Config::default()
    })
    .await;
    let done = client(&emulator).text_to_image("p").run().await.unwrap();
    let admin = admin(&emulator);
    assert!(!format!("{admin:?}").contains(ADMIN));
    // a 500, retried, then the deletion
    let deletion = admin.delete_payloads(&done.request_id).await.unwrap();
    assert!(deletion.is_complete());
    let typo = builder(&emulator)
        .admin_key(format!("{ADMIN}-typo"))
        .build()
        .unwrap();
    let error = typo.delete_payloads(&done.request_id).await.unwrap_err();
    assert!(
        matches!(error, Error::Authentication { status: 401, .. }),
        "{error:?}"
    );
    assert!(!format!("{error} {error:?}").contains(ADMIN));

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG"),
        "the capture works"
    );
    assert!(
        !logs.contains(ADMIN),
        "the admin key appeared in a log line"
    );
    assert_eq!(emulator.stats().key_leaks, 0);
}

/// A server that answers every request with `body` (200, JSON), for ever.
fn answering(body: &'static str) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[tokio::test]
async fn a_lean_page_is_read_and_a_cursor_that_repeats_ends_the_paging() {
    // only what fal must send of a request, and a next_cursor that never changes
    let url = answering(
        r#"{"items": [{"request_id": "r1", "endpoint_id": "fal-ai/flux-pro/kontext", "later": 1}], "next_cursor": "same"}"#,
    );
    let client = Client::builder()
        .key("k")
        .platform_url(url)
        .build()
        .unwrap();
    let mut pages = client
        .history()
        .endpoint(endpoints::FLUX_PRO_KONTEXT)
        .stream()
        .unwrap();
    let first = pages.try_next().await.unwrap().unwrap();
    assert_eq!(first.request_id, "r1");
    assert!(first.sent_at.is_none() && first.ended_at.is_none());
    // the second page is asked with "same" and answers "same" again: a
    // loop, which ends the stream instead of paging for ever
    let error = pages.try_next().await.unwrap_err();
    assert!(error.to_string().contains("next_cursor"), "{error}");
    assert!(
        pages.try_next().await.unwrap().is_none(),
        "the stream has ended"
    );
}

#[tokio::test]
async fn a_request_records_what_its_submit_sends_for_the_lookup() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let at = SystemTime::now() - Duration::from_secs(1);

    // an image by URL is compared as sent
    let request = client
        .edit("lost by url", "https://example.com/street.png")
        .seed(3)
        .output_format(fal_kontext::OutputFormat::Png);
    let record = request.submit_record(at).unwrap();
    assert!(record.ignored.is_empty());
    let handle = request.submit().await.unwrap();
    assert_eq!(record.input, last_input(&emulator), "exactly what was sent");
    assert_eq!(
        client.find_submitted(&record).await.unwrap(),
        SubmitLookup::Found {
            request_id: handle.request_id().to_string()
        }
    );

    // a local file's URL is known only at the submit: its field is left out
    let request = client
        .multi("lost locally", [common::SAMPLE, common::SAMPLE])
        .seed(4);
    let record = request.submit_record(at).unwrap();
    assert_eq!(record.ignored, ["image_urls"]);
    let handle = request.submit().await.unwrap();
    assert_eq!(
        client.find_submitted(&record).await.unwrap(),
        SubmitLookup::Found {
            request_id: handle.request_id().to_string()
        }
    );
}

#[tokio::test]
async fn an_ambiguous_submit_carries_what_it_sent_and_the_history_finds_the_job_by_it() {
    // fal takes the job, then a gateway's 502 loses the answer
    let emulator = emulator_with(Config {
        timing: quick(),
        faults: vec![FaultRule::once(Route::Submit, Fault::GatewayAfterApp(502))],
        ..Config::default()
    })
    .await;
    let client = client(&emulator);
    // a local image: the URL it was uploaded to is part of what was sent
    let error = client
        .edit("lost at the gateway", common::SAMPLE)
        .submit()
        .await
        .unwrap_err();
    let Error::AmbiguousSubmit {
        submitted: Some(sent),
        ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(sent.endpoint, endpoints::FLUX_PRO_KONTEXT);
    // the image as it was sent (inlined: a small file), every field known
    assert_eq!(sent.input["prompt"], "lost at the gateway");
    let image = sent.input["image_url"].as_str().unwrap();
    assert!(image.starts_with("data:image/png;base64,"), "{image:.40}");
    assert!(
        sent.ignored.is_empty(),
        "every field is known: {:?}",
        sent.ignored
    );
    let taken = client
        .history()
        .endpoint(endpoints::FLUX_PRO_KONTEXT)
        .all()
        .await
        .unwrap();
    assert_eq!(taken.len(), 1, "fal took it: {taken:?}");
    assert_eq!(
        client.find_submitted(sent).await.unwrap(),
        SubmitLookup::Found {
            request_id: taken[0].request_id.clone()
        }
    );

    // the synchronous run keeps it too
    let emulator = emulator_with(Config {
        timing: quick(),
        faults: vec![FaultRule::once(Route::Run, Fault::Ingress(504))],
        ..Config::default()
    })
    .await;
    let error = common::client(&emulator)
        .text_to_image("lost on the run host")
        .run_sync()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::AmbiguousSubmit { submitted: Some(sent), .. }
            if sent.input["prompt"] == "lost on the run host"),
        "{error:?}"
    );
}
