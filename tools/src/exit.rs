//! Exit codes and one-line error messages of the `wmpush` binary.

use std::fmt;

/// What kind of failure ended the program; each has its own exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// A check failed (`demo --check`) or an unexpected internal error: exit 1.
    Failed,
    /// Bad command line or URL: exit 2.
    Usage,
    /// Unreadable or malformed input: exit 3.
    Input,
    /// Cannot connect, or the connection broke: exit 4.
    Connection,
    /// The server wants credentials we do not have or rejected them: exit 5.
    Auth,
    /// The server refused (404, 409, 503...): exit 6.
    Refused,
}

impl Failure {
    /// The process exit code.
    pub fn code(self) -> i32 {
        match self {
            Failure::Failed => 1,
            Failure::Usage => 2,
            Failure::Input => 3,
            Failure::Connection => 4,
            Failure::Auth => 5,
            Failure::Refused => 6,
        }
    }

    /// What the user should do next.
    pub fn hint(self) -> &'static str {
        match self {
            Failure::Failed => "run again with -v for details",
            Failure::Usage => "see `wmpush --help` or `wmpush <command> --help`",
            Failure::Input => "check the input file (try `wmpush inspect FILE`)",
            Failure::Connection => {
                "check that the server is running and the host and port are right"
            }
            Failure::Auth => "give --user and --password-env with valid credentials",
            Failure::Refused => {
                "check the publishing point name, the server's limits, and that no other encoder is pushing to it"
            }
        }
    }
}

/// An error with its exit code.
#[derive(Debug)]
pub struct CliError {
    /// Kind and exit code.
    pub kind: Failure,
    /// One line saying what went wrong.
    pub message: String,
}

impl CliError {
    /// A new error.
    pub fn new(kind: Failure, message: impl Into<String>) -> CliError {
        CliError {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.kind.hint())
    }
}

impl std::error::Error for CliError {}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> CliError {
        match e.downcast::<CliError>() {
            Ok(c) => c,
            Err(e) => CliError::new(Failure::Failed, format!("{e:#}")),
        }
    }
}
