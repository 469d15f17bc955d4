//! Encoder authentication for `wmpush serve`: an Apache htdigest file
//! (`user:realm:HA1`, HA1 = MD5(user:realm:password)).
//!
//! Only the file is read here. Challenges and verification (Digest MD5 with
//! qop=auth, and Basic checked against the same HA1) are push-protocol's
//! [`ServerAuth`](push_protocol::auth::ServerAuth), inside its `PushServer`,
//! which gets every user as a [`Credential::Ha1`](push_protocol::auth::Credential::Ha1).

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context as _;
use md5::{Digest as _, Md5};
use push_protocol::auth::{ClientAuth, parse_challenge};

/// Users from an htdigest file.
#[derive(Debug)]
pub struct AuthFile {
    realm: String,
    users: HashMap<String, String>,
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
        })
    }

    /// An htdigest line for `user`/`password` (what `htdigest` writes).
    pub fn line(user: &str, realm: &str, password: &str) -> String {
        format!(
            "{user}:{realm}:{}",
            md5_hex(&format!("{user}:{realm}:{password}"))
        )
    }

    /// The realm the users were read for.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Every user and its HA1 (lowercase hex).
    pub fn users(&self) -> impl Iterator<Item = (&str, &str)> {
        self.users.iter().map(|(u, h)| (u.as_str(), h.as_str()))
    }
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
    let challenge = parse_challenge(challenge).ok()?;
    let mut rng = |buf: &mut [u8]| rand::fill(buf);
    Some(ClientAuth::new(challenge).authorization(user, password, method, uri, &mut rng))
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
    fn users_of_the_realm_only() {
        let f = file();
        let users: Vec<_> = f.users().collect();
        assert_eq!(
            users,
            vec![("alice", md5_hex("alice:wmpush:secret").as_str())]
        );
        assert_eq!(f.realm(), "wmpush");
    }

    #[test]
    fn answers_both_schemes() {
        let basic = answer_challenge("Basic realm=\"wmpush\"", "alice", "secret", "POST", "/x")
            .expect("basic");
        assert_eq!(
            basic,
            push_protocol::auth::basic_authorization("alice", "secret")
        );
        let digest = answer_challenge(
            "Digest realm=\"wmpush\", nonce=\"abc\", qop=\"auth\", algorithm=MD5",
            "alice",
            "secret",
            "POST",
            "/live",
        )
        .expect("digest");
        assert!(digest.starts_with("Digest username=\"alice\""), "{digest}");
        assert!(digest.contains("uri=\"/live\"") && digest.contains("nc=00000001"));
        assert_eq!(answer_challenge("Negotiate", "a", "b", "POST", "/"), None);
    }

    #[test]
    fn bad_files_are_rejected() {
        assert!(AuthFile::parse("alice:wmpush:xyz\n", "wmpush").is_err());
        assert!(AuthFile::parse("nonsense\n", "wmpush").is_err());
        assert!(AuthFile::parse(&AuthFile::line("a", "r", "p"), "wmpush").is_err());
    }
}
