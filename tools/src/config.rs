//! `wmpush serve` settings: command-line flags plus an optional TOML file
//! (see `tools/examples/wmpush.toml` for every key, commented).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;

use crate::point::PointSettings;

/// Server-wide limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Open connections at once; newcomers beyond get 503.
    pub max_connections: usize,
    /// Players at once over all points.
    pub max_players: usize,
    /// Publishing points at once (creation beyond gives 503).
    pub max_points: usize,
    /// Push sessions (push-ids) at once.
    pub max_sessions: usize,
    /// Time allowed for a request head (against slow clients).
    pub head_timeout: Duration,
    /// Largest `$H`/`$C` header accepted from an encoder, bytes.
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            max_players: 1000,
            max_points: 64,
            max_sessions: 64,
            head_timeout: Duration::from_secs(10),
            max_header_bytes: 65_531,
        }
    }
}

/// Named settings a publishing point is created from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// Pushes to a missing point may create it from this template.
    pub allow_create: bool,
    /// Users (from the auth file) allowed to push; `None` = every authenticated user.
    pub push_users: Option<Vec<String>>,
    /// Players at once.
    pub max_players: usize,
    /// Highest File Properties Maximum Bitrate accepted from an encoder, bits/s.
    pub max_bitrate: Option<u32>,
    /// Late-joiner buffer ("fast start"), bytes.
    pub backlog_bytes: usize,
    /// Archive pushes to this point (needs `--archive-dir`).
    pub archive: bool,
    /// A push session with no data for this long is ended (MS-WMHTTP Idle timer).
    pub idle_timeout: Duration,
    /// A second encoder takes the point over instead of getting 409.
    pub takeover: bool,
    /// Publishing point URLs (`http://host:port/point`) of downstream servers
    /// this point pushes to (through push-sink's PushSink).
    pub relay: Vec<String>,
}

impl Default for Template {
    fn default() -> Self {
        Template {
            allow_create: true,
            push_users: None,
            max_players: 100,
            max_bitrate: None,
            backlog_bytes: 8 * 1024 * 1024,
            archive: false,
            idle_timeout: Duration::from_secs(60),
            takeover: false,
            relay: Vec::new(),
        }
    }
}

impl Template {
    /// Point settings for a point made from this template.
    pub fn point_settings(&self, template_name: Option<&str>, auto_destroy: bool) -> PointSettings {
        PointSettings {
            max_players: self.max_players,
            backlog_bytes: self.backlog_bytes,
            auto_destroy,
            template: template_name.map(str::to_owned),
        }
    }

    /// True when `user` may push (`None` = anonymous, allowed only without a user list).
    pub fn may_push(&self, user: Option<&str>) -> bool {
        match (&self.push_users, user) {
            (None, _) => true,
            (Some(list), Some(u)) => list.iter().any(|x| x == u),
            (Some(_), None) => false,
        }
    }
}

/// Everything `wmpush serve` runs with.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Listening address.
    pub listen: SocketAddr,
    /// Authentication realm (must match the htdigest file's realm).
    pub realm: String,
    /// Let non-loopback encoders push without credentials.
    pub allow_anonymous_push: bool,
    /// Archive folder.
    pub archive_dir: Option<PathBuf>,
    /// Limits.
    pub limits: Limits,
    /// The template used when a push names none.
    pub default_template: Template,
    /// Named templates.
    pub templates: HashMap<String, Template>,
    /// Points declared up front: name and template name.
    pub points: Vec<(String, Option<String>)>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            realm: "wmpush".to_owned(),
            allow_anonymous_push: false,
            archive_dir: None,
            limits: Limits::default(),
            default_template: Template::default(),
            templates: HashMap::new(),
            points: Vec::new(),
        }
    }
}

impl ServeConfig {
    /// The template called `name`, or the default one.
    pub fn template(&self, name: Option<&str>) -> Option<&Template> {
        match name {
            None => Some(&self.default_template),
            Some(n) => self.templates.get(n),
        }
    }

    /// Points declared in the file, with their settings.
    pub fn declared_points(&self) -> Vec<(String, PointSettings)> {
        self.points
            .iter()
            .map(|(name, t)| {
                let tpl = self
                    .template(t.as_deref())
                    .unwrap_or(&self.default_template);
                (name.clone(), tpl.point_settings(t.as_deref(), false))
            })
            .collect()
    }

    /// Reads a TOML file over the defaults.
    pub fn load(path: &Path) -> anyhow::Result<ServeConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        ServeConfig::parse(&text).with_context(|| format!("in config file {}", path.display()))
    }

    /// Parses TOML text over the defaults.
    pub fn parse(text: &str) -> anyhow::Result<ServeConfig> {
        let file: ConfigFile = toml::from_str(text)?;
        let mut c = ServeConfig::default();
        if let Some(s) = file.server {
            if let Some(l) = s.listen {
                c.listen = l
                    .parse()
                    .with_context(|| format!("server.listen {l:?} is not ADDR:PORT"))?;
            }
            if let Some(r) = s.realm {
                c.realm = r;
            }
            if let Some(a) = s.allow_anonymous_push {
                c.allow_anonymous_push = a;
            }
            if let Some(d) = s.archive_dir {
                c.archive_dir = Some(d);
            }
            let l = &mut c.limits;
            set(&mut l.max_connections, s.max_connections);
            set(&mut l.max_players, s.max_players);
            set(&mut l.max_points, s.max_points);
            set(&mut l.max_sessions, s.max_sessions);
            if let Some(t) = s.header_timeout_secs {
                l.head_timeout = Duration::from_secs(t);
            }
        }
        if let Some(t) = file.default_template {
            c.default_template = t.into_template()?;
        }
        for (name, t) in file.templates {
            c.templates.insert(name, t.into_template()?);
        }
        for p in file.points {
            if let Some(t) = &p.template
                && !c.templates.contains_key(t)
            {
                anyhow::bail!(
                    "point {:?} names template {t:?}, which is not defined",
                    p.name
                );
            }
            let name = p.name.trim_start_matches('/').to_owned();
            if name.is_empty() || name.starts_with('_') || name.contains(['?', ' ', '\\']) {
                anyhow::bail!("point name {:?} is not usable in a URL path", p.name);
            }
            c.points.push((name, p.template));
        }
        Ok(c)
    }
}

fn set<T>(slot: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *slot = v;
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    server: Option<ServerSection>,
    default_template: Option<TemplateFile>,
    #[serde(default)]
    templates: HashMap<String, TemplateFile>,
    #[serde(default)]
    points: Vec<PointFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerSection {
    listen: Option<String>,
    realm: Option<String>,
    allow_anonymous_push: Option<bool>,
    archive_dir: Option<PathBuf>,
    max_connections: Option<usize>,
    max_players: Option<usize>,
    max_points: Option<usize>,
    max_sessions: Option<usize>,
    header_timeout_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateFile {
    allow_create: Option<bool>,
    push_users: Option<Vec<String>>,
    max_players: Option<usize>,
    max_bitrate: Option<u32>,
    backlog_bytes: Option<usize>,
    archive: Option<bool>,
    idle_timeout_secs: Option<u64>,
    takeover: Option<bool>,
    relay: Option<Vec<String>>,
}

impl TemplateFile {
    fn into_template(self) -> anyhow::Result<Template> {
        let mut t = Template::default();
        set(&mut t.allow_create, self.allow_create);
        t.push_users = self.push_users;
        set(&mut t.max_players, self.max_players);
        t.max_bitrate = self.max_bitrate;
        set(&mut t.backlog_bytes, self.backlog_bytes);
        set(&mut t.archive, self.archive);
        set(&mut t.takeover, self.takeover);
        if let Some(r) = self.relay {
            for url in &r {
                if !url.starts_with("http://") || url.len() < 9 {
                    anyhow::bail!("relay target {url:?} must be http://host[:port]/point");
                }
            }
            t.relay = r;
        }
        if let Some(s) = self.idle_timeout_secs {
            if s == 0 {
                anyhow::bail!("idle_timeout_secs must be at least 1");
            }
            t.idle_timeout = Duration::from_secs(s);
        }
        Ok(t)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PointFile {
    name: String,
    template: Option<String>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_documented_example_parses() {
        let c =
            ServeConfig::parse(include_str!("../examples/wmpush.toml")).expect("example parses");
        let live = c.templates.get("live").expect("template live");
        assert_eq!(live.max_players, 200);
        assert_eq!(live.idle_timeout, Duration::from_secs(60));
        assert_eq!(c.points, vec![("live".to_owned(), Some("live".to_owned()))]);
        assert_eq!(c.limits.max_sessions, 64);
    }

    use super::*;

    #[test]
    fn example_config_parses() {
        let text = include_str!("../examples/wmpush.toml");
        let c = ServeConfig::parse(text).expect("example is valid");
        assert!(c.templates.contains_key("live"));
        assert!(c.points.iter().any(|(n, _)| n == "live"));
    }

    #[test]
    fn unknown_key_is_an_error() {
        let e = ServeConfig::parse("[server]\nlisten_addr = \"x\"\n").expect_err("typo");
        assert!(format!("{e:#}").contains("listen_addr"), "{e:#}");
    }

    #[test]
    fn point_with_undefined_template_is_an_error() {
        let e =
            ServeConfig::parse("[[points]]\nname = \"a\"\ntemplate = \"nope\"\n").expect_err("bad");
        assert!(format!("{e:#}").contains("nope"));
    }

    #[test]
    fn push_users_restrict() {
        let t = Template {
            push_users: Some(vec!["alice".into()]),
            ..Template::default()
        };
        assert!(t.may_push(Some("alice")));
        assert!(!t.may_push(Some("bob")));
        assert!(!t.may_push(None));
        assert!(Template::default().may_push(None));
    }
}
