//! What went wrong resolving: one artifact's [`Problem`], the [`ResolveError`] naming it,
//! and the sorted [`ResolveFailures`] of a run.

use std::collections::BTreeMap;
use std::fmt;

use crate::lock::Kind;
use crate::net::{NetError, Unreachable};

/// What went wrong resolving one artifact.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("{0}")]
    Message(String),
}

impl Problem {
    pub fn msg(message: impl Into<String>) -> Problem {
        Problem::Message(message.into())
    }
}

/// A resolution failure, naming the artifact and its constraint (left out when the
/// problem already shows it, as a `url` artifact's URL: each thing is said once).
#[derive(Debug, thiserror::Error)]
pub struct ResolveError {
    pub kind: Kind,
    pub name: String,
    pub requested: String,
    pub problem: Problem,
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let problem = self.problem.to_string();
        write!(f, "cannot resolve {} `{}`", self.kind, self.name)?;
        // A `url` artifact asks for a URL the problem names already.
        let url_in_problem = self.requested.contains("://") && problem.contains(&self.requested);
        if !url_in_problem {
            write!(f, " ({})", self.requested)?;
        }
        write!(f, ": {problem}")
    }
}

impl ResolveError {
    /// Why the network refused this artifact, when another attempt could not help.
    pub fn unreachable(&self) -> Option<Unreachable> {
        match &self.problem {
            Problem::Net(NetError::Unreachable { cause, .. }) => Some(*cause),
            problem => Unreachable::named_in(&problem.to_string()),
        }
    }
}

/// All failures of one run, sorted, so the report is stable. When most of them are the
/// same network failure, the report ends with one line naming it and what to do.
#[derive(Debug)]
pub struct ResolveFailures(pub Vec<ResolveError>);

impl ResolveFailures {
    /// The network failure shared by more than half of the failures, with its count.
    pub fn common_cause(&self) -> Option<(Unreachable, usize)> {
        let mut counts: BTreeMap<Unreachable, usize> = BTreeMap::new();
        for failure in &self.0 {
            if let Some(cause) = failure.unreachable() {
                *counts.entry(cause).or_default() += 1;
            }
        }
        counts
            .into_iter()
            .max_by_key(|(_, count)| *count)
            .filter(|(_, count)| *count * 2 > self.0.len())
    }
}

impl fmt::Display for ResolveFailures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, failure) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            // Problems quote upstream text; none of it may drive the terminal.
            write!(
                f,
                "{}",
                crate::lock::values::escape_message(&failure.to_string())
            )?;
        }
        if let Some((cause, count)) = self.common_cause() {
            let likely = match cause {
                Unreachable::HostNotFound => {
                    "this machine is offline or resolves names only through a proxy"
                }
                Unreachable::NoRoute => {
                    "this machine is offline or reaches the internet only through a proxy"
                }
                Unreachable::ConnectionRefused => {
                    "a firewall or a proxy stands between this machine and the upstreams"
                }
                Unreachable::Certificate => {
                    "a proxy intercepts TLS, or the upstream's certificate is wrong"
                }
            };
            write!(
                f,
                "\n{count} of {} failed with `{cause}`: likely {likely}. Set HTTPS_PROXY for a proxy, \
                 or point `lock` at mirrors with `--sources FILE` or MODELBENCH_SOURCES \
                 (README, \"Mirrors and proxies\").",
                self.0.len()
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ResolveFailures {}
