//! The HTML status page of `wmpush serve` (`GET /_status.html`): the same
//! document as `/_status`, as a table a person can read, reloading itself every
//! two seconds (`<meta http-equiv="refresh">`, no script).
//!
//! Large type and plain black on white, so it reads well on a wall screen (and
//! OCR reads it in the screenshot test, tools/tests/status_page.rs).

use push_protocol::asx::xml_escape;

use crate::server::StatusDocument;

/// Seconds between reloads.
pub const REFRESH_SECS: u32 = 2;

/// A bitrate as people read it: `1234.5 kbit/s`.
pub fn format_bitrate(bits_per_second: u64) -> String {
    format!("{:.1} kbit/s", bits_per_second as f64 / 1000.0)
}

/// Renders the page for `doc`. Every text from the network or the config (point
/// and template names, the listen address) is escaped.
pub fn render(doc: &StatusDocument) -> String {
    let mut rows = String::new();
    for p in &doc.points {
        rows.push_str(&format!(
            "<tr><td class=\"name\">{}</td><td>{}</td><td>{}</td><td class=\"bitrate\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            xml_escape(&p.name),
            if p.live { "live" } else { "idle" },
            if p.encoder_session { "yes" } else { "no" },
            format_bitrate(p.bitrate_bps),
            p.players,
            p.packets_in,
            p.template.as_deref().map(xml_escape).unwrap_or_default(),
        ));
    }
    if doc.points.is_empty() {
        rows.push_str("<tr><td colspan=\"7\">no publishing points</td></tr>\n");
    }
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"{REFRESH_SECS}\">\
<title>wmpush status</title><style>\
body{{font-family:sans-serif;font-size:28px;color:#000;background:#fff;margin:24px}}\
table{{border-collapse:collapse}}td,th{{padding:8px 20px;border-bottom:2px solid #888;text-align:left}}\
</style></head>\n\
<body><h1>wmpush {}</h1><p>up {:.0} s, listening on {}, {} player(s), {} encoder session(s)</p>\n\
<table><tr><th>point</th><th>state</th><th>encoder</th><th>bitrate</th><th>players</th><th>packets</th><th>template</th></tr>\n{}</table></body></html>\n",
        doc.server.version,
        doc.server.uptime_secs,
        xml_escape(&doc.server.listen),
        doc.server.players,
        doc.server.encoder_sessions,
        rows
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::point::{PointSettings, PublishingPoint};
    use crate::server::ServerStatus;

    fn doc(points: Vec<crate::point::PointStatus>) -> StatusDocument {
        StatusDocument {
            server: ServerStatus {
                version: "0.1.0",
                uptime_secs: 12.0,
                listen: "127.0.0.1:8080".into(),
                connections_total: 3,
                connections_refused: 0,
                encoder_sessions: 1,
                players: 2,
            },
            points,
        }
    }

    #[test]
    fn names_are_escaped_and_bitrates_formatted() {
        let p = PublishingPoint::new("<live&>", PointSettings::default());
        let mut st = p.status();
        st.bitrate_bps = 369_400;
        let html = render(&doc(vec![st]));
        assert!(html.contains("&lt;live&amp;&gt;"), "{html}");
        assert!(!html.contains("<live&>"));
        assert!(html.contains("369.4 kbit/s"));
        assert!(html.contains("http-equiv=\"refresh\" content=\"2\""));
    }

    #[test]
    fn empty_server_says_so() {
        let html = render(&doc(Vec::new()));
        assert!(html.contains("no publishing points"));
        assert!(html.contains("2 player(s), 1 encoder session(s)"));
    }
}
