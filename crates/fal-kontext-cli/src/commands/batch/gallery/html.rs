//! The page: one self-contained HTML file (its style and script inline, no
//! network), every text from the jobs file, the state file or fal escaped,
//! and one fixed script that reads no data (filters and the before/after
//! slider, by event delegation; no handler is built from data).

use std::fmt::Write;

use super::read::{Entry, STATE_KEYS, State};

/// An image on the page.
pub enum Pic {
    /// Shown from `src` (a thumbnail, or the image itself), the full image
    /// at `href` (both relative URLs, already encoded).
    Shown {
        /// What the `<img>` loads.
        src: String,
        /// What a click opens.
        href: String,
    },
    /// No local copy to show: why (a remote image not fetched, a missing file).
    Missing(String),
}

/// A job with its images resolved.
pub struct Card<'a> {
    /// The job.
    pub entry: &'a Entry,
    /// Its inputs, in order.
    pub inputs: Vec<Pic>,
    /// Its outputs, in order.
    pub outputs: Vec<Pic>,
    /// When its first image was saved (UTC), when done.
    pub saved_at: Option<String>,
}

/// What the page says above the jobs.
pub struct Heading<'a> {
    /// The title line.
    pub title: &'a str,
    /// Where the jobs came from, and when the page was made.
    pub source: String,
    /// A random token: only the page's own `<style>` and `<script>` may run
    /// (its Content-Security-Policy), a second line of defence behind the
    /// escaping.
    pub nonce: String,
    /// The command that collects a request: `kontext result … --out DIR`.
    pub out: String,
}

/// The CSS, fixed.
const STYLE: &str = include_str!("page.css");
/// The script, fixed: it reads no data from the jobs.
const SCRIPT: &str = include_str!("page.js");

/// The whole page.
pub fn page(heading: &Heading, cards: &[Card]) -> String {
    let mut html = String::with_capacity(1024 + cards.len() * 1200);
    let nonce = &heading.nonce;
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         img-src 'self' file: data: https: http:; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'\">\
         <title>{}</title><style nonce=\"{nonce}\">{STYLE}",
        escape(heading.title)
    );
    for key in STATE_KEYS {
        let _ = write!(
            html,
            "#jobs[data-filter=\"{key}\"] .job:not([data-state=\"{key}\"]){{display:none}}"
        );
    }
    html.push_str("</style></head><body>");
    summary(&mut html, heading, cards);
    html.push_str("<main id=\"jobs\" data-filter=\"all\">");
    for card in cards {
        job(&mut html, card, &heading.out);
    }
    let _ = writeln!(
        html,
        "</main><script nonce=\"{nonce}\">{SCRIPT}</script></body></html>"
    );
    html
}

/// The heading: counts by state (the filters), and the total cost.
fn summary(html: &mut String, heading: &Heading, cards: &[Card]) {
    let _ = write!(
        html,
        "<header><h1>{}</h1><p class=\"source\">{}</p><nav id=\"filters\">\
         <button type=\"button\" data-filter=\"all\" aria-pressed=\"true\">all <b id=\"count-all\">{}</b></button>",
        escape(heading.title),
        escape(&heading.source),
        cards.len()
    );
    for key in STATE_KEYS {
        let count = cards.iter().filter(|c| c.entry.state.key() == key).count();
        if count > 0 || matches!(key, "done" | "failed") {
            let _ = write!(
                html,
                "<button type=\"button\" data-filter=\"{key}\" aria-pressed=\"false\">{} <b id=\"count-{key}\">{count}</b></button>",
                key.replace('-', " ")
            );
        }
    }
    let priced: Vec<f64> = cards.iter().filter_map(|c| c.entry.cost).collect();
    let units = cards
        .iter()
        .filter_map(|c| c.entry.billable_units)
        .fold(0.0, |sum, units| sum + units);
    let billed = cards
        .iter()
        .filter(|c| c.entry.billable_units.is_some())
        .count();
    let _ = write!(
        html,
        "</nav><p class=\"cost\">total cost <b id=\"total-cost\">{}</b> \
         <span>({} of {billed} billed job(s) priced, at fal's prices; {} billed unit(s) in all)</span></p></header>",
        crate::commands::batch::budget::amount(
            priced.iter().fold(0.0, |sum, cost| sum + cost),
            None
        ),
        priced.len(),
        crate::commands::batch::budget::amount(units, None),
    );
}

/// What the badge of a state says.
fn label(state: &State) -> &'static str {
    match state {
        State::Done => "done",
        State::FailedAfterSubmit(_) => "failed here after fal accepted it",
        State::FailedAtFal(_) => "failed at fal",
        State::Unknown(_) => "submit's answer lost",
        State::FailedBeforeSubmit(_) => "failed before anything was submitted",
        State::Submitted => "submitted, not collected yet",
        State::NotRun => "not run yet",
        State::Other(_) => "unknown state",
    }
}

/// One job's card.
fn job(html: &mut String, card: &Card, out: &str) {
    let entry = card.entry;
    let id = escape(&entry.id);
    let key = entry.state.key();
    let _ = write!(
        html,
        "<article class=\"job\" data-state=\"{key}\" data-id=\"{id}\"><h2>{id} <span class=\"st {key}\">{}</span></h2><div class=\"pics\">",
        label(&entry.state)
    );
    pics(html, "in", "input", &card.inputs);
    html.push_str("<span class=\"to\">&#8594;</span>");
    pics(html, "out", "output", &card.outputs);
    html.push_str("</div>");
    if let ([Pic::Shown { src: before, .. }], [Pic::Shown { src: after, .. }, ..]) =
        (card.inputs.as_slice(), card.outputs.as_slice())
    {
        let _ = write!(
            html,
            "<div class=\"compare\"><img src=\"{before}\" loading=\"lazy\" alt=\"before\">\
             <img class=\"after\" src=\"{after}\" loading=\"lazy\" alt=\"after\">\
             <input type=\"range\" min=\"0\" max=\"100\" value=\"50\" aria-label=\"before / after\"></div>"
        );
    }
    html.push_str("<dl>");
    if let Some(prompt) = &entry.prompt {
        row(html, "prompt", &escape(prompt), "prompt");
    }
    if let Some((request_id, endpoint)) = &entry.request {
        row(html, "endpoint", &escape(endpoint), "");
        row(
            html,
            "request id",
            &format!("<code>{}</code>", escape(request_id)),
            "",
        );
    }
    for (name, value) in entry.fields.iter().chain(&entry.extra) {
        row(html, &escape(name), &escape(value), "");
    }
    if let Some(units) = entry.billable_units {
        let cost = entry.cost.map_or_else(String::new, |cost| {
            format!(
                ", cost {}",
                crate::commands::batch::budget::amount(cost, None)
            )
        });
        let text = format!(
            "{} unit(s){cost}",
            crate::commands::batch::budget::amount(units, None)
        );
        row(html, "billed", &text, "");
    }
    if let Some(saved_at) = &card.saved_at {
        row(html, "saved", saved_at, "");
    }
    html.push_str("</dl>");
    next(html, entry, out);
    html.push_str("</article>");
}

/// One `<dt>`/`<dd>` pair; `value` is HTML already escaped.
fn row(html: &mut String, name: &str, value: &str, class: &str) {
    let _ = write!(html, "<dt>{name}</dt><dd class=\"{class}\">{value}</dd>");
}

/// The images of one side.
fn pics(html: &mut String, class: &str, what: &str, pics: &[Pic]) {
    let _ = write!(html, "<div class=\"{class}\">");
    if pics.is_empty() {
        let _ = write!(html, "<span class=\"none\">no {what}</span>");
    }
    for (n, pic) in pics.iter().enumerate() {
        match pic {
            Pic::Shown { src, href } => {
                let _ = write!(
                    html,
                    "<a href=\"{href}\" target=\"_blank\"><img src=\"{src}\" loading=\"lazy\" alt=\"{what} {}\"></a>",
                    n + 1
                );
            }
            Pic::Missing(why) => {
                let _ = write!(html, "<span class=\"none\">{}</span>", escape(why));
            }
        }
    }
    html.push_str("</div>");
}

/// Why it failed, and what to do next.
fn next(html: &mut String, entry: &Entry, out: &str) {
    let collect = |html: &mut String| {
        if let Some((request_id, endpoint)) = &entry.request {
            let _ = write!(
                html,
                " <code>kontext result {} --endpoint {} --out {}</code> saves its images once it has finished.",
                escape(request_id),
                escape(endpoint),
                escape(out)
            );
        }
    };
    match &entry.state {
        State::Done => {}
        State::FailedAfterSubmit(reason) => {
            let _ = write!(
                html,
                "<p class=\"why\">{}</p><p class=\"next\">",
                escape(reason)
            );
            html.push_str("fal accepted the request, so it may have finished there:");
            collect(html);
            html.push_str(" Rerunning the batch collects it (it is not submitted again).</p>");
        }
        State::FailedAtFal(reason) => {
            let _ = write!(
                html,
                "<p class=\"why\">{}</p><p class=\"next\">fal failed the request: rerunning the batch submits the job again.</p>",
                escape(reason)
            );
        }
        State::Unknown(reason) => {
            let _ = write!(
                html,
                "<p class=\"why\">{}</p><p class=\"next\">The submit's answer was lost, so fal may be running the job: a rerun looks for it in fal's request history and collects it when found there; it is not submitted again while fal may have it, unless given <code>--resubmit-unknown</code>.</p>",
                escape(reason)
            );
        }
        State::FailedBeforeSubmit(reason) => {
            let _ = write!(
                html,
                "<p class=\"why\">{}</p><p class=\"next\">Nothing was submitted: fix the line or its input, then rerun the batch.</p>",
                escape(reason)
            );
        }
        State::Submitted => {
            html.push_str("<p class=\"next\">Rerun the same batch command to collect it (it is not submitted again).");
            collect(html);
            html.push_str("</p>");
        }
        State::NotRun => html.push_str("<p class=\"next\">Rerun the batch to run it.</p>"),
        State::Other(raw) => {
            let _ = write!(
                html,
                "<p class=\"why\"><code>{}</code></p><p class=\"next\">A state record this version of kontext does not know.</p>",
                escape(raw)
            );
        }
    }
}

/// Text made safe for HTML, in element content and in quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_the_jobs_cannot_become_markup() {
        assert_eq!(
            escape(r#"<script>alert('x')</script> & "q""#),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        let entry = Entry {
            id: "a\"><script>".into(),
            prompt: Some("<img src=x onerror=alert(1)>".into()),
            fields: vec![("<b>".into(), "\"</dd>".into())],
            state: State::FailedBeforeSubmit("<i>no</i>".into()),
            ..Entry::default()
        };
        let heading = Heading {
            title: "t",
            source: "<jobs>".into(),
            nonce: "n".into(),
            out: "out".into(),
        };
        let cards = [Card {
            entry: &entry,
            inputs: vec![Pic::Missing("<gone>".into())],
            outputs: vec![],
            saved_at: None,
        }];
        let html = page(&heading, &cards);
        let body = &html[html.find("<body>").unwrap()..];
        let script = body.rfind("<script").unwrap();
        for hostile in [
            "<script>",
            "<img src=x",
            "<b>",
            "<i>",
            "<gone>",
            "<jobs>",
            "\"</dd>",
        ] {
            assert!(!body[..script].contains(hostile), "{hostile} in {body}");
        }
        assert!(!body.contains("onerror=alert(1)>"));
        assert_eq!(body.matches("<script").count(), 1);
    }
}
