//! HTTPS with a generated certificate, and the forward proxy for fal's hosts.

use fal_emulator::Config;
use serde_json::{Value, json};

use crate::common::*;

fn trusting(emulator: &fal_emulator::Emulator) -> reqwest::ClientBuilder {
    let pem = emulator.ca_cert_pem().expect("TLS is on");
    let ca = reqwest::Certificate::from_pem(pem.as_bytes()).expect("a PEM certificate");
    reqwest::Client::builder().tls_certs_only([ca])
}

#[tokio::test]
async fn every_origin_serves_https_trusted_through_the_ca() {
    let emulator = start(Config {
        tls: true,
        ..fast()
    })
    .await;
    for url in [
        emulator.queue_url(),
        emulator.run_url(),
        emulator.rest_url(),
        emulator.cdn_url(),
    ] {
        assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    }
    let client = trusting(&emulator).no_proxy().build().expect("client");
    let submitted: Value = client
        .post(format!("{}/{KONTEXT}", emulator.queue_url()))
        .header("authorization", auth(&emulator))
        .json(&edit_input())
        .send()
        .await
        .expect("a TLS answer")
        .json()
        .await
        .expect("JSON");
    assert!(
        submitted["status_url"]
            .as_str()
            .expect("url")
            .starts_with("https://")
    );

    let untrusting = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let refused = untrusting
        .get(format!("{}/__emulator/stats", emulator.queue_url()))
        .send()
        .await;
    assert!(refused.is_err(), "an unknown CA is not trusted");
}

#[tokio::test]
async fn the_proxy_maps_fals_hosts_to_the_emulator_and_nothing_else() {
    let emulator = start(Config {
        tls: true,
        ..fast()
    })
    .await;
    let proxy = reqwest::Proxy::https(emulator.proxy_url()).expect("proxy URL");
    let client = trusting(&emulator).proxy(proxy).build().expect("client");
    let answer = client
        .post("https://rest.fal.ai/storage/upload/initiate?storage_type=fal-cdn-v3")
        .header("authorization", auth(&emulator))
        .json(&json!({"content_type": "text/plain", "file_name": "a.txt"}))
        .send()
        .await
        .expect("answered through the proxy");
    assert_eq!(answer.status(), 200);
    let answer: Value = answer.json().await.expect("JSON");
    assert!(
        answer["file_url"]
            .as_str()
            .expect("url")
            .starts_with(emulator.cdn_url())
    );
    assert_eq!(emulator.stats().upload_initiate, 1);

    // fal's Platform APIs host is the rest origin too, under the same paths.
    let prices = client
        .get("https://api.fal.ai/v1/models/pricing?endpoint_id=fal-ai/flux-pro/kontext")
        .header("authorization", auth(&emulator))
        .send()
        .await
        .expect("answered through the proxy");
    assert_eq!(prices.status(), 200);
    let prices: Value = prices.json().await.expect("JSON");
    assert_eq!(prices["prices"][0]["unit_price"], 0.04);
    assert_eq!(emulator.stats().pricing, 1);

    let elsewhere = client.get("https://example.com/").send().await;
    assert!(
        elsewhere.is_err(),
        "the proxy refuses hosts that are not fal's"
    );
}
