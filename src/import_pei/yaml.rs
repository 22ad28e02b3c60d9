//! The PeiDocker config as a tree of YAML nodes that keep their line numbers, so every
//! warning can name the line it is about.

use anyhow::{Result, bail};
use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

#[derive(Debug, Clone)]
pub(super) enum Node {
    Null(usize),
    Scalar(String, usize),
    Seq(Vec<Node>, usize),
    Map(Vec<(String, usize, Node)>, usize),
}

impl Node {
    pub(super) fn line(&self) -> usize {
        match self {
            Node::Null(l) | Node::Scalar(_, l) | Node::Seq(_, l) | Node::Map(_, l) => *l,
        }
    }

    pub(super) fn scalar(&self) -> Option<&str> {
        match self {
            Node::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    pub(super) fn is_null(&self) -> bool {
        matches!(self, Node::Null(_))
    }

    pub(super) fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries, _) => entries.iter().find(|(k, _, _)| k == key).map(|e| &e.2),
            _ => None,
        }
    }

    pub(super) fn entries(&self) -> &[(String, usize, Node)] {
        match self {
            Node::Map(entries, _) => entries,
            _ => &[],
        }
    }

    pub(super) fn bool(&self) -> Option<bool> {
        match self.scalar()? {
            "true" | "True" | "TRUE" | "yes" | "on" => Some(true),
            "false" | "False" | "FALSE" | "no" | "off" => Some(false),
            _ => None,
        }
    }
}

fn convert(node: &MarkedYaml) -> Node {
    let line = node.span.start.line();
    match &node.data {
        YamlData::Value(Scalar::Null) => Node::Null(line),
        YamlData::Value(Scalar::Boolean(b)) => Node::Scalar(b.to_string(), line),
        YamlData::Value(Scalar::Integer(i)) => Node::Scalar(i.to_string(), line),
        YamlData::Value(Scalar::FloatingPoint(f)) => Node::Scalar(f.to_string(), line),
        YamlData::Value(Scalar::String(s)) => Node::Scalar(s.to_string(), line),
        YamlData::Representation(s, _, _) => Node::Scalar(s.to_string(), line),
        YamlData::Sequence(items) => Node::Seq(items.iter().map(convert).collect(), line),
        YamlData::Mapping(map) => Node::Map(
            map.iter()
                .map(|(k, v)| {
                    let key = match convert(k) {
                        Node::Scalar(s, _) => s,
                        _ => String::new(),
                    };
                    (key, k.span.start.line(), convert(v))
                })
                .collect(),
            line,
        ),
        YamlData::Tagged(_, inner) => convert(inner),
        YamlData::Alias(_) | YamlData::BadValue => Node::Null(line),
    }
}

pub(super) fn parse_yaml(file: &str, text: &str) -> Result<Node> {
    let documents = MarkedYaml::load_from_str(text).map_err(|err| {
        anyhow::anyhow!(
            "{file}:{}:{}: not valid YAML: {}",
            err.marker().line(),
            err.marker().col() + 1,
            err.info()
        )
    })?;
    match documents.first() {
        Some(doc) => Ok(convert(doc)),
        None => bail!("{file} is empty"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_lines_are_one_based() {
        let node = parse_yaml("t.yml", "a:\n  b: 1\n  c:\n    - x\n    - |\n      y\n").unwrap();
        let a = node.get("a").unwrap();
        assert_eq!(a.get("b").unwrap().line(), 2);
        let Node::Seq(items, _) = a.get("c").unwrap() else {
            panic!("a sequence")
        };
        assert_eq!(items[0].line(), 4);
        assert_eq!(items[1].scalar(), Some("y\n"));
    }
}
