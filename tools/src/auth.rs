//! Encoder authentication for `wmpush serve`: an Apache htdigest file
//! (`user:realm:HA1`, HA1 = MD5(user:realm:password)) serving both Digest
//! (RFC 2617, MD5, qop=auth) and Basic (MS-WMHTTP 3.2.5.1 step 5: plain HTTP
//! access authentication; Windows encoders offer Digest, Basic works when challenged).

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::Mutex;

use anyhow::Context as _;
use base64::Engine as _;
use md5::{Digest as _, Md5};

/// Most outstanding Digest nonces remembered.
const MAX_NONCES: usize = 4096;

/// Users from an htdigest file.
#[derive(Debug)]
pub struct AuthFile {
    realm: String,
    users: HashMap<String, String>,
    nonces: Mutex<VecDeque<String>>,
}

fn md5_hex(s: &str) -> String {
    let d = Md5::digest(s.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

impl AuthFile {
    /// Reads an htdigest file and keeps the users of `realm`.
    pub fn load(path: &Path, realm: &str) -> anyhow::Result<AuthFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read auth file {}", path.display()))?;
        AuthFile::parse(&text, realm).with_context(|| format!("in auth file {}", path.display()))
    }

    /// Parses htdigest text (`user:realm:HA1` per line, `#` comments).
    pub fn parse(text: &str, realm: &str) -> anyhow::Result<AuthFile> {
        let mut users = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut f = line.splitn(3, ':');
            let (Some(u), Some(r), Some(ha1)) = (f.next(), f.next(), f.next()) else {
                anyhow::bail!("line {}: expected user:realm:HA1", i + 1);
            };
            if ha1.len() != 32 || !ha1.bytes().all(|b| b.is_ascii_hexdigit()) {
                anyhow::bail!("line {}: HA1 must be 32 hex digits", i + 1);
            }
            if r == realm {
                users.insert(u.to_owned(), ha1.to_ascii_lowercase());
            }
        }
        if users.is_empty() {
            anyhow::bail!("no users for realm {realm:?}");
        }
        Ok(AuthFile {
            realm: realm.to_owned(),
            users,
            nonces: Mutex::new(VecDeque::new()),
        })
    }

    /// An htdigest line for `user`/`password` (what `htdigest` writes).
    pub fn line(user: &str, realm: &str, password: &str) -> String {
        format!(
            "{user}:{realm}:{}",
            md5_hex(&format!("{user}:{realm}:{password}"))
        )
    }

    /// The `WWW-Authenticate` header values for a 401: Digest first, then Basic.
    pub fn challenges(&self) -> Vec<String> {
        let nonce = format!("{:032x}", rand::random::<u128>());
        {
            let mut n = self.nonces.lock().unwrap_or_else(|e| e.into_inner());
            n.push_back(nonce.clone());
            while n.len() > MAX_NONCES {
                n.pop_front();
            }
        }
        vec![
            format!(
                "Digest realm=\"{}\", nonce=\"{nonce}\", qop=\"auth\", algorithm=MD5",
                self.realm
            ),
            format!("Basic realm=\"{}\"", self.realm),
        ]
    }

    /// Checks an `Authorization` value for `method` and `uri`; the user name when valid.
    pub fn verify(&self, authorization: &str, method: &str) -> Option<String> {
        let (scheme, rest) = authorization.trim().split_once(' ')?;
        if scheme.eq_ignore_ascii_case("basic") {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()?;
            let text = String::from_utf8(raw).ok()?;
            let (user, password) = text.split_once(':')?;
            let ha1 = self.users.get(user)?;
            let got = md5_hex(&format!("{user}:{}:{password}", self.realm));
            return (constant_time_eq(&got, ha1)).then(|| user.to_owned());
        }
        if !scheme.eq_ignore_ascii_case("digest") {
            return None;
        }
        let p = parse_params(rest);
        let user = p.get("username")?;
        let ha1 = self.users.get(user.as_str())?;
        if p.get("realm").map(String::as_str) != Some(self.realm.as_str()) {
            return None;
        }
        let nonce = p.get("nonce")?;
        let known = self
            .nonces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|n| n == nonce);
        if !known {
            return None;
        }
        let uri = p.get("uri")?;
        let ha2 = md5_hex(&format!("{method}:{uri}"));
        let expected = match p.get("qop").map(String::as_str) {
            Some("auth") => md5_hex(&format!(
                "{ha1}:{nonce}:{}:{}:auth:{ha2}",
                p.get("nc")?,
                p.get("cnonce")?
            )),
            None => md5_hex(&format!("{ha1}:{nonce}:{ha2}")),
            Some(_) => return None,
        };
        constant_time_eq(&expected, &p.get("response")?.to_ascii_lowercase()).then(|| user.clone())
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Parses `k=v, k2="v 2"` parameter lists.
fn parse_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((k, after)) = rest.split_once('=') else {
            break;
        };
        let key = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (&q[..end], &q[end + 1..]),
                None => (q, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        out.insert(key, value.trim().to_owned());
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

/// Client side: the `Authorization` value answering `challenge` (a
/// `WWW-Authenticate` value) for `user`/`password`, `method` and `uri`.
pub fn answer_challenge(
    challenge: &str,
    user: &str,
    password: &str,
    method: &str,
    uri: &str,
) -> Option<String> {
    let (scheme, rest) = challenge.trim().split_once(' ')?;
    if scheme.eq_ignore_ascii_case("basic") {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        return Some(format!("Basic {token}"));
    }
    if !scheme.eq_ignore_ascii_case("digest") {
        return None;
    }
    let p = parse_params(rest);
    let realm = p.get("realm")?;
    let nonce = p.get("nonce")?;
    let ha1 = md5_hex(&format!("{user}:{realm}:{password}"));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    let cnonce = format!("{:016x}", rand::random::<u64>());
    let nc = "00000001";
    let response = md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    let mut v = format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", qop=auth, nc={nc}, cnonce=\"{cnonce}\", response=\"{response}\", algorithm=MD5"
    );
    if let Some(o) = p.get("opaque") {
        v.push_str(&format!(", opaque=\"{o}\""));
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> AuthFile {
        let text = format!(
            "# users\n{}\n{}\n",
            AuthFile::line("alice", "wmpush", "secret"),
            AuthFile::line("bob", "other", "x")
        );
        AuthFile::parse(&text, "wmpush").expect("valid")
    }

    #[test]
    fn htdigest_line_matches_apache_format() {
        // `htdigest` for user "a", realm "r", password "p": MD5("a:r:p").
        assert_eq!(
            AuthFile::line("a", "r", "p"),
            format!("a:r:{}", md5_hex("a:r:p"))
        );
        assert_eq!(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn basic_right_and_wrong_password() {
        let f = file();
        let ok = answer_challenge("Basic realm=\"wmpush\"", "alice", "secret", "POST", "/x")
            .expect("basic");
        assert_eq!(f.verify(&ok, "POST").as_deref(), Some("alice"));
        let bad = answer_challenge("Basic realm=\"wmpush\"", "alice", "nope", "POST", "/x")
            .expect("basic");
        assert_eq!(f.verify(&bad, "POST"), None);
        let other_realm =
            answer_challenge("Basic realm=\"wmpush\"", "bob", "x", "POST", "/x").expect("basic");
        assert_eq!(f.verify(&other_realm, "POST"), None);
    }

    #[test]
    fn digest_round_trip_and_unknown_nonce() {
        let f = file();
        let ch = f.challenges();
        let ok = answer_challenge(&ch[0], "alice", "secret", "POST", "/live").expect("digest");
        assert_eq!(f.verify(&ok, "POST").as_deref(), Some("alice"));
        assert_eq!(f.verify(&ok, "GET"), None, "method is covered");
        let bad = answer_challenge(&ch[0], "alice", "wrong", "POST", "/live").expect("digest");
        assert_eq!(f.verify(&bad, "POST"), None);
        let forged = ok.replace(&parse_params(&ch[0][7..])["nonce"], "0000");
        assert_eq!(f.verify(&forged, "POST"), None);
    }

    #[test]
    fn bad_files_are_rejected() {
        assert!(AuthFile::parse("alice:wmpush:xyz\n", "wmpush").is_err());
        assert!(AuthFile::parse("nonsense\n", "wmpush").is_err());
        assert!(AuthFile::parse(&AuthFile::line("a", "r", "p"), "wmpush").is_err());
    }
}
