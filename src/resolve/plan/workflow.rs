//! Requests from the spec's `[workflow]` table: the pins of the emitted GitHub workflow
//! (the checkout action and modelbench itself), resolved as `git` refs.

use crate::lock::Kind;
use crate::resolve::git::{
    CHECKOUT_NAME, CHECKOUT_REPOSITORY, GitRef, GitRequest, MODELBENCH_NAME,
};
use crate::resolve::request::{Detail, Request};
use crate::spec::Spec;

/// One request per pin of the spec's `[workflow]` table (none without it). A commit is
/// the same for every platform: the requests name none, so a platform change leaves
/// these pins alone.
pub fn requests(spec: &Spec) -> Vec<Request> {
    let Some(workflow) = &spec.workflow else {
        return Vec::new();
    };
    let checkout = workflow.checkout.as_ref().map(|constraint| {
        (
            CHECKOUT_NAME,
            CHECKOUT_REPOSITORY.to_string(),
            GitRef::Tag(constraint.get_ref().clone()),
            "workflow.checkout",
        )
    });
    let modelbench = workflow.modelbench.as_ref().map(|source| {
        let reference = match (&source.branch, &source.tag) {
            (Some(branch), _) => GitRef::Branch(branch.get_ref().clone()),
            // Validated with the spec: exactly one of the two.
            (None, tag) => GitRef::Tag(
                tag.as_ref()
                    .map(|t| t.get_ref().clone())
                    .unwrap_or_default(),
            ),
        };
        (
            MODELBENCH_NAME,
            source.git.get_ref().clone(),
            reference,
            "workflow.modelbench",
        )
    });
    checkout
        .into_iter()
        .chain(modelbench)
        .map(|(name, repository, reference, path)| Request {
            kind: Kind::Git,
            name: name.to_string(),
            requested: reference.requested(),
            detail: Detail::Git(GitRequest {
                repository,
                reference,
            }),
            platforms: Vec::new(),
            origin: super::origin(spec, path, Kind::Git, name),
        })
        .collect()
}
