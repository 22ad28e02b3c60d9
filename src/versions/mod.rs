//! Version grammars and orderings shared by the lock (which checks every locked value
//! against its kind's grammar) and the resolvers (which choose versions by them). Pure
//! and dependency-free, below both: the lock must not import a resolver.

pub mod debian;
pub mod node_semver;
