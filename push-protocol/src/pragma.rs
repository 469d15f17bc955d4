//! Typed MS-WMSP `Pragma:` directives (MS-WMSP 2.2.1.4).
//!
//! A player request carries several `Pragma:` header lines; each line is a
//! comma-separated list of `name[=value]` tokens (RFC 1945 10.12). This
//! module turns every line into [`Directive`]s and collects them in
//! [`Pragmas`], with getters for what the pull server needs (request kind,
//! client id, stream selection).
//!
//! Parsing never fails: a token whose value does not follow the spec's
//! syntax is kept as [`Directive::Invalid`] with the reason, and a token the
//! spec does not know is kept as [`Directive::Unknown`] (MS-WMSP 2.2.1.4:
//! "error conditions are treated in an implementation-specific manner").
//!
//! Real-world quirks tolerated here:
//! - ffmpeg's mmsh client forgets a CRLF and sends
//!   `Pragma: no-cache,rate=1.000000,stream-time=0Connection: Close`; the
//!   glued header is split off and reported by [`Pragmas::glued_headers`].
//! - VLC sends `xClientGUID={0xbabac001-0x0d46-0xb7ca-0x432dbc253e5c7cda}`;
//!   the `0x` prefixes are dropped when the GUID is read.
//! - `features="broadcast,playlist"` has a comma inside quotes.
//! - Stream numbers in `stream-switch-entry` are hex per the spec but decimal
//!   in old ffmpeg/VLC; both readings are kept (see [`StreamSwitchEntry`]).

use std::fmt;

/// Longest token text kept verbatim in [`Directive::Unknown`] or
/// [`Directive::Invalid`]; longer text is cut at a char boundary so a hostile
/// request cannot make us keep more than it sent.
const MAX_KEPT_TEXT: usize = 256;

/// Most stream-switch entries kept from one request (ASF stream numbers are
/// 1..=127, so a real player never needs more).
pub const MAX_STREAM_SWITCH_ENTRIES: usize = 128;

/// Most directives kept from one request; later ones are dropped and counted
/// in [`Pragmas::dropped`].
pub const MAX_DIRECTIVES: usize = 256;

/// One `stream-switch-entry` item: `<from>:<to>:<thinning>` (MS-WMSP 2.2.1.4.27).
///
/// The spec says the numbers are hexadecimal ("three 16-bit hexadecimal
/// numbers"), but ffmpeg's mmsh.c and VLC 1.x print them with `%d`. Both
/// readings are kept; [`StreamSwitchEntry::selects`] accepts a stream number
/// if either reading matches. They only differ for streams >= 10.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSwitchEntry {
    /// The entry exactly as sent, e.g. `ffff:1:0`.
    pub raw: String,
    /// Source stream, hex reading; `None` for `ffff` ("no stream") or unreadable text.
    pub from_hex: Option<u16>,
    /// Destination stream, hex reading (the spec's reading).
    pub to_hex: Option<u16>,
    /// Destination stream, decimal reading (old ffmpeg/VLC).
    pub to_decimal: Option<u16>,
    /// Thinning level: 0 = whole stream, 1 = key frames only, 2 = stream off.
    pub thinning: u8,
}

impl StreamSwitchEntry {
    /// Parses one entry such as `ffff:2:0`. Returns `None` when it does not
    /// have the `1*4HEXDIG ":" 1*4HEXDIG ":" ("0"/"1"/"2")` shape.
    pub fn parse(text: &str) -> Option<StreamSwitchEntry> {
        let mut parts = text.split(':');
        let from = parts.next()?;
        let to = parts.next()?;
        let thinning = parts.next()?;
        if parts.next().is_some() {
            return None;
        }
        // MS-WMSP 2.2.1.4.27: 1*4HEXDIG for both stream numbers.
        let hex4 =
            |s: &str| !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex4(from) || !hex4(to) {
            return None;
        }
        let thinning = match thinning {
            "0" => 0,
            "1" => 1,
            "2" => 2,
            _ => return None,
        };
        let from_hex = u16::from_str_radix(from, 16).ok().filter(|v| *v != 0xffff);
        let to_hex = u16::from_str_radix(to, 16).ok();
        let to_decimal = if to.bytes().all(|b| b.is_ascii_digit()) {
            to.parse::<u16>().ok()
        } else {
            None
        };
        Some(StreamSwitchEntry {
            raw: text.to_owned(),
            from_hex,
            to_hex,
            to_decimal,
            thinning,
        })
    }

    /// True if this entry names `stream` (either reading) as its destination.
    pub fn names(&self, stream: u16) -> bool {
        self.to_hex == Some(stream) || self.to_decimal == Some(stream)
    }

    /// True if this entry turns `stream` on (thinning 0 or 1).
    pub fn selects(&self, stream: u16) -> bool {
        self.thinning != 2 && self.names(stream)
    }
}

impl fmt::Display for StreamSwitchEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// The `xClientGUID` value (MS-WMSP 2.2.1.4.33), raw text plus the 16 GUID
/// bytes in registry (mixed-endian, as ASF stores GUIDs) order when readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientGuid {
    /// The text as sent, e.g. `{c77e7400-738a-11d2-9add-0020af0a3278}`.
    pub raw: String,
    /// The GUID in the little-endian wire layout used by ASF GUIDs, or `None`
    /// if the text is not a GUID even after dropping VLC's `0x` prefixes.
    pub bytes: Option<[u8; 16]>,
}

impl ClientGuid {
    /// Reads a registry-format GUID; tolerates missing braces and VLC's
    /// `{0x...-0x...}` form (hex groups with `0x` prefixes).
    pub fn parse(text: &str) -> ClientGuid {
        ClientGuid {
            raw: text.to_owned(),
            bytes: parse_guid(text),
        }
    }
}

fn parse_guid(text: &str) -> Option<[u8; 16]> {
    let inner = text.trim().strip_prefix('{').unwrap_or(text.trim());
    let inner = inner.strip_suffix('}').unwrap_or(inner);
    let groups: Vec<&str> = inner.split('-').collect();
    // Registry form has 5 groups; VLC's `{0x..-0x..-0x..-0x................}` has 4.
    if !(4..=5).contains(&groups.len()) {
        return None;
    }
    let mut hex = String::with_capacity(32);
    for g in &groups {
        let g = g
            .strip_prefix("0x")
            .or_else(|| g.strip_prefix("0X"))
            .unwrap_or(g);
        if !g.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        hex.push_str(g);
    }
    let lens: Vec<usize> = groups
        .iter()
        .map(|g| g.trim_start_matches("0x").trim_start_matches("0X").len())
        .collect();
    // VLC's form packs group 4 and 5 differently ("0x432dbc253e5c7cda" is 16
    // digits in the 4th group and the 5th is missing), so only require 32
    // hex digits in total; the canonical form also needs 8-4-4-4-12.
    if hex.len() != 32 {
        return None;
    }
    let canonical = lens == [8, 4, 4, 4, 12];
    let mut raw = [0u8; 16];
    for (i, byte) in raw.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    if !canonical {
        // Not the registry layout: keep the digits in text order.
        return Some(raw);
    }
    // Registry text order -> ASF/Windows in-memory order (Data1..Data3 LE).
    let mut out = raw;
    out[0..4].copy_from_slice(&[raw[3], raw[2], raw[1], raw[0]]);
    out[4..6].copy_from_slice(&[raw[5], raw[4]]);
    out[6..8].copy_from_slice(&[raw[7], raw[6]]);
    Some(out)
}

/// One typed Pragma token (MS-WMSP 2.2.1.4.x).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Directive {
    /// `no-cache` (2.2.1.4.12).
    NoCache,
    /// `rate=<n>[.<frac>]` (2.2.1.4.22), kept as the text and as thousandths (1.000000 -> 1000).
    Rate {
        /// The value as sent.
        raw: String,
        /// The rate times 1000, rounded toward zero.
        milli: i32,
    },
    /// `stream-time=<ms>` (2.2.1.4.28).
    StreamTime(u32),
    /// `stream-offset=<hi>:<lo>` (2.2.1.4.25).
    StreamOffset {
        /// Most significant 32 bits of the byte offset.
        high: u32,
        /// Least significant 32 bits.
        low: u32,
    },
    /// `request-context=<n>` (2.2.1.4.23).
    RequestContext(u32),
    /// `max-duration=<ms>` (2.2.1.4.11).
    MaxDuration(u32),
    /// `xClientGUID={...}` (2.2.1.4.33).
    ClientGuid(ClientGuid),
    /// `xPlayStrm=0|1` (2.2.1.4.36).
    PlayStream(bool),
    /// `xPlayNextEntry=1` (2.2.1.4.35).
    PlayNextEntry(bool),
    /// `xStopStrm=1` (2.2.1.4.38).
    StopStream(bool),
    /// `client-id=<n>` (2.2.1.4.5).
    ClientId(u32),
    /// `stream-switch-count=<n>` (2.2.1.4.26).
    StreamSwitchCount(u32),
    /// `stream-switch-entry=<e> <e> ...` (2.2.1.4.27).
    StreamSwitchEntries(Vec<StreamSwitchEntry>),
    /// `version11-enabled=0|1` (2.2.1.4.30).
    Version11Enabled(bool),
    /// `pipeline-request=<n>` (2.2.1.4.16).
    PipelineRequest(u32),
    /// `pipeline-experiment=<n>` (2.2.1.4.15).
    PipelineExperiment(u32),
    /// `packet-pair-experiment=<n>` (2.2.1.4.14).
    PacketPairExperiment(u32),
    /// `LinkBW=<bps>` (2.2.1.4.9).
    LinkBw(u32),
    /// `AccelBW=<bps>` (2.2.1.4.1).
    AccelBw(u32),
    /// `AccelDuration=<ms>` (2.2.1.4.2).
    AccelDuration(u32),
    /// `features="a,b"` (2.2.1.4.8), the feature names without quotes.
    Features(Vec<String>),
    /// `timeout=<ms>` (2.2.1.4.29).
    Timeout(u32),
    /// `xResetStrm=1` (2.2.1.4.37, response only).
    ResetStream(bool),
    /// A token this module does not type, kept as sent.
    Unknown {
        /// Token name as sent.
        name: String,
        /// Value after `=`, if any.
        value: Option<String>,
    },
    /// A known token whose value does not follow the spec syntax.
    Invalid {
        /// Token name as sent.
        name: String,
        /// Value as sent.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// All directives of one request, in order, from every `Pragma:` line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pragmas {
    directives: Vec<Directive>,
    glued_headers: Vec<(String, String)>,
    dropped: usize,
}

fn keep(text: &str) -> String {
    if text.len() <= MAX_KEPT_TEXT {
        return text.to_owned();
    }
    let mut end = MAX_KEPT_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// Splits a Pragma value at commas that are not inside double quotes.
fn split_tokens(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_quotes = false;
    let mut start = 0;
    for (i, c) in value.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => {
                out.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&value[start..]);
    out
}

/// If `rest` (what follows a numeric value) looks like a glued HTTP header
/// (`Connection: Close`), returns its name and value.
fn glued_header(rest: &str) -> Option<(String, String)> {
    let colon = rest.find(':')?;
    let name = &rest[..colon];
    let first = name.bytes().next()?;
    if !first.is_ascii_alphabetic() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return None;
    }
    Some((keep(name), keep(rest[colon + 1..].trim())))
}

impl Pragmas {
    /// An empty set.
    pub fn new() -> Pragmas {
        Pragmas::default()
    }

    /// Parses every `Pragma:` value of a request (the header values, in order).
    pub fn parse_all<'a>(values: impl IntoIterator<Item = &'a str>) -> Pragmas {
        let mut p = Pragmas::new();
        for v in values {
            p.add_line(v);
        }
        p
    }

    /// Adds the tokens of one `Pragma:` header value.
    pub fn add_line(&mut self, value: &str) {
        let trimmed = value.trim();
        // MS-WMSP 2.2.1.4.27: stream-switch-entry sits alone on its Pragma
        // line and its entries are separated by spaces, not commas.
        // The spec's own examples spell it "switch-stream-entry": accept both.
        if let Some(rest) = strip_prefix_ci(trimmed, "stream-switch-entry=")
            .or_else(|| strip_prefix_ci(trimmed, "switch-stream-entry="))
        {
            let entries = rest.split_whitespace();
            let mut list = Vec::new();
            for e in entries {
                match StreamSwitchEntry::parse(e) {
                    Some(entry) if list.len() < MAX_STREAM_SWITCH_ENTRIES => list.push(entry),
                    Some(_) => self.dropped += 1,
                    None => self.push(Directive::Invalid {
                        name: "stream-switch-entry".to_owned(),
                        value: keep(e),
                        reason: "entry is not <hex>:<hex>:<0|1|2>",
                    }),
                }
            }
            self.push(Directive::StreamSwitchEntries(list));
            return;
        }
        for token in split_tokens(trimmed) {
            let token = token.trim();
            if token.is_empty() {
                continue;
            }
            let d = self.parse_token(token);
            self.push(d);
        }
    }

    fn push(&mut self, d: Directive) {
        if self.directives.len() < MAX_DIRECTIVES {
            self.directives.push(d);
        } else {
            self.dropped += 1;
        }
    }

    fn parse_token(&mut self, token: &str) -> Directive {
        let (name, value) = match token.find('=') {
            Some(i) => (token[..i].trim(), Some(token[i + 1..].trim())),
            None => (token, None),
        };
        let mut lname = name.to_ascii_lowercase();
        // MS-WMSP 2.2.1.4.26/27 examples write "switch-stream-count/entry".
        match lname.as_str() {
            "switch-stream-count" => lname = "stream-switch-count".to_owned(),
            "switch-stream-entry" => lname = "stream-switch-entry".to_owned(),
            _ => {}
        }
        let Some(value) = value else {
            return match lname.as_str() {
                "no-cache" => Directive::NoCache,
                _ => Directive::Unknown {
                    name: keep(name),
                    value: None,
                },
            };
        };
        let invalid = |reason: &'static str| Directive::Invalid {
            name: keep(name),
            value: keep(value),
            reason,
        };
        match lname.as_str() {
            "rate" => match parse_rate(value) {
                Some(milli) => Directive::Rate {
                    raw: keep(value),
                    milli,
                },
                None => invalid("rate is not a decimal number"),
            },
            "stream-offset" => {
                let (num, rest) = split_number_prefix(value, true);
                self.note_glued(rest);
                let mut it = num.split(':');
                match (
                    it.next().and_then(parse_u32),
                    it.next().and_then(parse_u32),
                    it.next(),
                ) {
                    (Some(high), Some(low), None) => Directive::StreamOffset { high, low },
                    _ => invalid("stream-offset is not <u32>:<u32>"),
                }
            }
            "xclientguid" => Directive::ClientGuid(ClientGuid::parse(&keep(value))),
            "features" => {
                let inner = value.trim_matches('"');
                Directive::Features(
                    inner
                        .split(',')
                        .map(|f| keep(f.trim()))
                        .filter(|f| !f.is_empty())
                        .take(MAX_DIRECTIVES)
                        .collect(),
                )
            }
            "stream-switch-entry" => {
                // Glued to other tokens on one line (not per spec): still read it.
                let list: Vec<_> = value
                    .split_whitespace()
                    .filter_map(StreamSwitchEntry::parse)
                    .take(MAX_STREAM_SWITCH_ENTRIES)
                    .collect();
                Directive::StreamSwitchEntries(list)
            }
            "xplaystrm" | "xplaynextentry" | "xstopstrm" | "version11-enabled" | "xresetstrm" => {
                let (num, rest) = split_number_prefix(value, false);
                self.note_glued(rest);
                let flag = match num {
                    "0" => false,
                    "1" => true,
                    _ => return invalid("flag is not 0 or 1"),
                };
                match lname.as_str() {
                    "xplaystrm" => Directive::PlayStream(flag),
                    "xplaynextentry" => Directive::PlayNextEntry(flag),
                    "xstopstrm" => Directive::StopStream(flag),
                    "version11-enabled" => Directive::Version11Enabled(flag),
                    _ => Directive::ResetStream(flag),
                }
            }
            "stream-time"
            | "request-context"
            | "max-duration"
            | "client-id"
            | "stream-switch-count"
            | "pipeline-request"
            | "pipeline-experiment"
            | "packet-pair-experiment"
            | "linkbw"
            | "accelbw"
            | "accelduration"
            | "timeout" => {
                let (num, rest) = split_number_prefix(value, false);
                self.note_glued(rest);
                let Some(n) = parse_u32(num) else {
                    return invalid("value is not a 32-bit decimal integer");
                };
                match lname.as_str() {
                    "stream-time" => Directive::StreamTime(n),
                    "request-context" => Directive::RequestContext(n),
                    "max-duration" => Directive::MaxDuration(n),
                    "client-id" => Directive::ClientId(n),
                    "stream-switch-count" => Directive::StreamSwitchCount(n),
                    "pipeline-request" => Directive::PipelineRequest(n),
                    "pipeline-experiment" => Directive::PipelineExperiment(n),
                    "packet-pair-experiment" => Directive::PacketPairExperiment(n),
                    "linkbw" => Directive::LinkBw(n),
                    "accelbw" => Directive::AccelBw(n),
                    "accelduration" => Directive::AccelDuration(n),
                    _ => Directive::Timeout(n),
                }
            }
            _ => Directive::Unknown {
                name: keep(name),
                value: Some(keep(value)),
            },
        }
    }

    /// Records a glued header found after a value (ffmpeg's missing CRLF).
    fn note_glued(&mut self, rest: &str) {
        if rest.is_empty() {
            return;
        }
        if let Some(h) = glued_header(rest)
            && self.glued_headers.len() < MAX_DIRECTIVES
        {
            self.glued_headers.push(h);
        }
    }

    /// Every directive, in request order.
    pub fn directives(&self) -> &[Directive] {
        &self.directives
    }

    /// Headers that were glued to the end of a Pragma line without CRLF
    /// (ffmpeg: `stream-time=0Connection: Close` gives `("Connection", "Close")`).
    pub fn glued_headers(&self) -> &[(String, String)] {
        &self.glued_headers
    }

    /// Directives dropped because a limit ([`MAX_DIRECTIVES`],
    /// [`MAX_STREAM_SWITCH_ENTRIES`]) was reached.
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    fn last<T>(&self, f: impl Fn(&Directive) -> Option<T>) -> Option<T> {
        self.directives.iter().rev().find_map(f)
    }

    /// True if a token named `name` (any case) is present, typed or not.
    pub fn has_token(&self, name: &str) -> bool {
        self.directives.iter().any(|d| match d {
            Directive::Unknown { name: n, .. } | Directive::Invalid { name: n, .. } => {
                n.eq_ignore_ascii_case(name)
            }
            Directive::StreamSwitchEntries(_) => name.eq_ignore_ascii_case("stream-switch-entry"),
            other => directive_text(other).is_some_and(|t| {
                t.split('=')
                    .next()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            }),
        })
    }

    /// `xPlayStrm=1` present.
    pub fn play_stream(&self) -> bool {
        self.last(|d| match d {
            Directive::PlayStream(v) => Some(*v),
            _ => None,
        })
        .unwrap_or(false)
    }

    /// `xPlayNextEntry=1` present.
    pub fn play_next_entry(&self) -> bool {
        self.last(|d| match d {
            Directive::PlayNextEntry(v) => Some(*v),
            _ => None,
        })
        .unwrap_or(false)
    }

    /// `version11-enabled=1` present.
    pub fn version11_enabled(&self) -> bool {
        self.last(|d| match d {
            Directive::Version11Enabled(v) => Some(*v),
            _ => None,
        })
        .unwrap_or(false)
    }

    /// `pipeline-request` value, if any.
    pub fn pipeline_request(&self) -> Option<u32> {
        self.last(|d| match d {
            Directive::PipelineRequest(v) => Some(*v),
            _ => None,
        })
    }

    /// `client-id` value, if any.
    pub fn client_id(&self) -> Option<u32> {
        self.last(|d| match d {
            Directive::ClientId(v) => Some(*v),
            _ => None,
        })
    }

    /// `request-context` value, if any.
    pub fn request_context(&self) -> Option<u32> {
        self.last(|d| match d {
            Directive::RequestContext(v) => Some(*v),
            _ => None,
        })
    }

    /// `stream-time` value, if any.
    pub fn stream_time(&self) -> Option<u32> {
        self.last(|d| match d {
            Directive::StreamTime(v) => Some(*v),
            _ => None,
        })
    }

    /// `stream-offset` as a 64-bit byte offset, if any.
    pub fn stream_offset(&self) -> Option<u64> {
        self.last(|d| match d {
            Directive::StreamOffset { high, low } => {
                Some((u64::from(*high) << 32) | u64::from(*low))
            }
            _ => None,
        })
    }

    /// `stream-switch-count` value, if any.
    pub fn stream_switch_count(&self) -> Option<u32> {
        self.last(|d| match d {
            Directive::StreamSwitchCount(v) => Some(*v),
            _ => None,
        })
    }

    /// `xClientGUID`, if any.
    pub fn client_guid(&self) -> Option<&ClientGuid> {
        self.directives.iter().rev().find_map(|d| match d {
            Directive::ClientGuid(g) => Some(g),
            _ => None,
        })
    }

    /// `features` names, if any.
    pub fn features(&self) -> Option<&[String]> {
        self.directives.iter().rev().find_map(|d| match d {
            Directive::Features(f) => Some(f.as_slice()),
            _ => None,
        })
    }

    /// All stream-switch entries from every `stream-switch-entry` token, in order.
    pub fn stream_switch_entries(&self) -> impl Iterator<Item = &StreamSwitchEntry> {
        self.directives.iter().flat_map(|d| match d {
            Directive::StreamSwitchEntries(v) => v.as_slice(),
            _ => &[],
        })
    }

    /// True if any `stream-switch-entry` token was sent.
    pub fn has_stream_switch(&self) -> bool {
        self.directives
            .iter()
            .any(|d| matches!(d, Directive::StreamSwitchEntries(_)))
    }

    /// The thinning level requested for `stream` (the last entry naming it
    /// wins), or `None` if no entry names it.
    pub fn thinning_for(&self, stream: u16) -> Option<u8> {
        self.stream_switch_entries()
            .filter(|e| e.names(stream))
            .last()
            .map(|e| e.thinning)
    }

    /// True if `stream` is selected (thinning 0 or 1) by the last entry that
    /// names it in either its hex or its decimal reading.
    pub fn selects(&self, stream: u16) -> bool {
        matches!(self.thinning_for(stream), Some(0 | 1))
    }

    /// A `Pragma:` header value for these directives, comma separated, with
    /// stream-switch entries left out (write those with
    /// [`stream_switch_line`]).
    pub fn to_line(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        for d in &self.directives {
            if let Some(s) = directive_text(d) {
                parts.push(s);
            }
        }
        parts.join(",")
    }
}

/// The value of a `Pragma: stream-switch-entry=...` line for `entries`,
/// space separated with the trailing space real players send.
pub fn stream_switch_line(entries: &[StreamSwitchEntry]) -> String {
    let mut s = String::from("stream-switch-entry=");
    for e in entries {
        s.push_str(&e.raw);
        s.push(' ');
    }
    s
}

/// The wire text of one directive (`None` for stream-switch entries, which
/// need a line of their own).
pub fn directive_text(d: &Directive) -> Option<String> {
    Some(match d {
        Directive::NoCache => "no-cache".to_owned(),
        Directive::Rate { raw, .. } => format!("rate={raw}"),
        Directive::StreamTime(v) => format!("stream-time={v}"),
        Directive::StreamOffset { high, low } => format!("stream-offset={high}:{low}"),
        Directive::RequestContext(v) => format!("request-context={v}"),
        Directive::MaxDuration(v) => format!("max-duration={v}"),
        Directive::ClientGuid(g) => format!("xClientGUID={}", g.raw),
        Directive::PlayStream(v) => format!("xPlayStrm={}", u8::from(*v)),
        Directive::PlayNextEntry(v) => format!("xPlayNextEntry={}", u8::from(*v)),
        Directive::StopStream(v) => format!("xStopStrm={}", u8::from(*v)),
        Directive::ClientId(v) => format!("client-id={v}"),
        Directive::StreamSwitchCount(v) => format!("stream-switch-count={v}"),
        Directive::StreamSwitchEntries(_) => return None,
        Directive::Version11Enabled(v) => format!("version11-enabled={}", u8::from(*v)),
        Directive::PipelineRequest(v) => format!("pipeline-request={v}"),
        Directive::PipelineExperiment(v) => format!("pipeline-experiment={v}"),
        Directive::PacketPairExperiment(v) => format!("packet-pair-experiment={v}"),
        Directive::LinkBw(v) => format!("LinkBW={v}"),
        Directive::AccelBw(v) => format!("AccelBW={v}"),
        Directive::AccelDuration(v) => format!("AccelDuration={v}"),
        Directive::Features(f) => format!("features=\"{}\"", f.join(",")),
        Directive::Timeout(v) => format!("timeout={v}"),
        Directive::ResetStream(v) => format!("xResetStrm={}", u8::from(*v)),
        Directive::Unknown { name, value } => match value {
            Some(v) => format!("{name}={v}"),
            None => name.clone(),
        },
        Directive::Invalid { name, value, .. } => format!("{name}={value}"),
    })
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
    {
        Some(&s[prefix.len()..])
    } else {
        None
    }
}

/// Splits `value` into its leading number (digits, plus `:` when
/// `allow_colon`) and the rest.
fn split_number_prefix(value: &str, allow_colon: bool) -> (&str, &str) {
    let end = value
        .bytes()
        .position(|b| !(b.is_ascii_digit() || (allow_colon && b == b':')))
        .unwrap_or(value.len());
    // "0Connection: Close" with allow_colon would never reach the colon of
    // the glued header because 'C' stops the scan first.
    (&value[..end], &value[end..])
}

fn parse_u32(s: &str) -> Option<u32> {
    // 1*10DIGIT
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u64>().ok().and_then(|v| u32::try_from(v).ok())
}

fn parse_rate(s: &str) -> Option<i32> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let (int, frac) = match body.find('.') {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => (body, ""),
    };
    if int.is_empty()
        || int.len() > 6
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 9
    {
        return None;
    }
    let whole: i32 = int.parse().ok()?;
    let mut milli = whole.checked_mul(1000)?;
    let mut scale = 100;
    for b in frac.bytes().take(3) {
        milli += i32::from(b - b'0') * scale;
        scale /= 10;
    }
    Some(if neg { -milli } else { milli })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ffmpeg_glued_line() {
        let p = Pragmas::parse_all(["no-cache,rate=1.000000,stream-time=0Connection: Close"]);
        assert_eq!(p.stream_time(), Some(0));
        assert_eq!(
            p.glued_headers(),
            &[("Connection".to_owned(), "Close".to_owned())]
        );
        assert!(matches!(
            p.directives()[1],
            Directive::Rate { milli: 1000, .. }
        ));
    }

    #[test]
    fn vlc_guid() {
        let g = ClientGuid::parse("{0xbabac001-0x0d46-0xb7ca-0x432dbc253e5c7cda}");
        assert!(g.bytes.is_some());
        let g = ClientGuid::parse("{c77e7400-738a-11d2-9add-0020af0a3278}");
        assert_eq!(
            g.bytes,
            Some([
                0x00, 0x74, 0x7e, 0xc7, 0x8a, 0x73, 0xd2, 0x11, 0x9a, 0xdd, 0x00, 0x20, 0xaf, 0x0a,
                0x32, 0x78
            ])
        );
        assert_eq!(ClientGuid::parse("{nope}").bytes, None);
    }

    #[test]
    fn spec_example_spelling() {
        let p = Pragmas::parse_all([
            "switch-stream-count=2",
            "switch-stream-entry=ffff:1:0 ffff:2:2",
        ]);
        assert_eq!(p.stream_switch_count(), Some(2));
        assert!(p.selects(1) && !p.selects(2));
    }

    #[test]
    fn rate_values() {
        assert_eq!(parse_rate("1.000000"), Some(1000));
        assert_eq!(parse_rate("-5"), Some(-5000));
        assert_eq!(parse_rate("2.5"), Some(2500));
        assert_eq!(parse_rate("x"), None);
        assert_eq!(parse_rate(""), None);
    }
}
