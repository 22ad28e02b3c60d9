//! The only ways a value enters an emitted file. Lock fields come from upstreams and
//! pull requests (issue #16): even one that slipped past the lock's own checks must stay
//! data here. Each target language gets one function:
//!
//! - shell: [`shell_word`] (a word as is when it has only inert characters, else
//!   single-quoted) and [`command`] (a line of such words);
//! - Dockerfile: [`run`] (a `RUN` of quoted commands), [`instruction`] (any other one)
//!   and [`comment`] (control characters escaped, so a comment stays one line);
//! - line-based tables (`artifacts.tsv`, `bins.txt`, …): [`field`] and [`url_field`];
//! - TOML: [`toml_string`] and [`toml_key`], written by the `toml` serializer;
//! - paths, in the build context and in the image: [`component`] and [`relative_path`].
//!
//! JSON is written by `serde_json` where it is made.

use std::borrow::Cow;
use std::fmt::Write as _;

use toml_writer::{ToTomlKey, ToTomlValue};

/// A value that cannot be written where emit was asked to write it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{}` {reason}", escaped(value))]
pub struct UnsafeValue {
    pub value: String,
    pub reason: &'static str,
}

fn unsafe_value(value: &str, reason: &'static str) -> UnsafeValue {
    UnsafeValue {
        value: value.to_string(),
        reason,
    }
}

/// `text` with control characters (newlines, escape sequences, NUL, …) spelled as Rust
/// escapes: printable on a terminal and in a comment, and unambiguous.
pub fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

const CONTROL: &str =
    "has a control character (newline, NUL, escape, …): refused in every emitted file";

/// Characters that mean nothing to a POSIX shell anywhere in a word (not at its start
/// either: emitted lines never start with a value, so `=` cannot make an assignment).
fn inert(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c)
}

/// One shell word meaning exactly `value`: as is when every character is inert, else
/// single-quoted (a `'` becomes `'\''`). Control characters are refused: a newline would
/// end a Dockerfile line and NUL cannot be in a shell string.
pub fn shell_word(value: &str) -> Result<Cow<'_, str>, UnsafeValue> {
    if value.chars().any(char::is_control) {
        return Err(unsafe_value(value, CONTROL));
    }
    if !value.is_empty() && value.chars().all(inert) {
        return Ok(Cow::Borrowed(value));
    }
    Ok(Cow::Owned(format!("'{}'", value.replace('\'', r"'\''"))))
}

/// A shell command line: every word through [`shell_word`].
pub fn command<S: AsRef<str>>(words: &[S]) -> Result<String, UnsafeValue> {
    let quoted: Vec<Cow<str>> = words
        .iter()
        .map(|w| shell_word(w.as_ref()))
        .collect::<Result<_, _>>()?;
    Ok(quoted.join(" "))
}

/// A Dockerfile `RUN` of one or more commands joined by `&&`, one per line. Each word is
/// a [`shell_word`], so the only line breaks are these continuations.
pub fn run<S: AsRef<str>>(commands: &[Vec<S>]) -> Result<String, UnsafeValue> {
    let lines: Vec<String> = commands
        .iter()
        .map(|words| command(words))
        .collect::<Result<_, _>>()?;
    Ok(format!("RUN {}\n", lines.join(" \\\n && ")))
}

/// A Dockerfile instruction other than `RUN` (`FROM`, `ARG`, `EXPOSE`, …): its arguments
/// must not hold a control character or a line continuation, so it is one line and one
/// instruction.
pub fn instruction(keyword: &str, arguments: &str) -> Result<String, UnsafeValue> {
    if arguments.chars().any(char::is_control) {
        return Err(unsafe_value(arguments, CONTROL));
    }
    if arguments.ends_with('\\') || arguments.ends_with('`') {
        return Err(unsafe_value(
            arguments,
            "ends with a Dockerfile line continuation",
        ));
    }
    Ok(format!("{keyword} {arguments}\n"))
}

/// A one-line comment (`# text`) for a Dockerfile, shell script or TOML file: control
/// characters are escaped, so the comment cannot end early and start an instruction.
pub fn comment(text: &str) -> String {
    format!("# {}\n", escaped(text))
}

/// A field of a tab-separated table or a line of a one-per-line list, as the emitted
/// scripts read them (`IFS=<tab> read -r`, `awk -F '\t'`): no tab, newline or other
/// control character, so it stays one field of one line.
pub fn field(value: &str) -> Result<&str, UnsafeValue> {
    if value.chars().any(char::is_control) {
        return Err(unsafe_value(value, CONTROL));
    }
    Ok(value)
}

/// A URL field of `artifacts.tsv`: a [`field`] without whitespace (the fetch script
/// splits the URL list on spaces).
pub fn url_field(value: &str) -> Result<&str, UnsafeValue> {
    let value = field(value)?;
    if value.is_empty() || value.chars().any(char::is_whitespace) {
        return Err(unsafe_value(
            value,
            "is empty or has whitespace: it must be one word",
        ));
    }
    Ok(value)
}

/// A TOML string meaning exactly `value`, one line (basic or literal, as the encoder
/// chooses; newlines and control characters escaped).
pub fn toml_string(value: &str) -> String {
    toml_writer::TomlStringBuilder::new(value)
        .as_basic()
        .to_toml_value()
}

/// A TOML key: bare when the name allows one, else a quoted key.
pub fn toml_key(name: &str) -> String {
    name.to_toml_key()
}

/// One path component: a file or directory name that stays in its directory (not empty,
/// `.` or `..`, no `/`, no control character).
pub fn component(name: &str) -> Result<&str, UnsafeValue> {
    if name.is_empty() || name == "." || name == ".." {
        return Err(unsafe_value(
            name,
            "is not a file name (empty, `.` or `..`)",
        ));
    }
    if name.contains('/') || name.contains('\\') {
        return Err(unsafe_value(name, "is not a single path component"));
    }
    field(name)
}

/// A relative path made of [`component`]s joined by `/`: it stays under whatever root it
/// is joined to (the `--out` directory, a directory in the image).
pub fn relative_path(path: &str) -> Result<&str, UnsafeValue> {
    for part in path.split('/') {
        component(part).map_err(|_| {
            unsafe_value(
                path,
                "is not a relative path of plain names (it could leave its directory)",
            )
        })?;
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `sh` makes of `line`: the words `printf` receives, one per output line.
    fn sh_words(line: &str) -> Vec<String> {
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s\\n' {line}"))
            .output()
            .expect("sh runs");
        assert!(output.status.success(), "{line}: {output:?}");
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn inert_words_are_written_as_they_are() {
        for word in [
            "0.5.0",
            "bun-v1.4.5",
            "linux/amd64",
            "a_b@c%d+e=f:g,h.i/j-k",
        ] {
            assert_eq!(shell_word(word).unwrap(), word);
        }
    }

    #[test]
    fn hostile_words_reach_the_shell_as_one_word() {
        let hostile = [
            "0.1.0;touch$IFS/x;#",
            "$(touch /x)",
            "`touch /x`",
            "it's",
            "'",
            "''",
            "a b",
            "\"quoted\"",
            "*",
            "~root",
            "a\\b",
            "#comment",
            "",
            "x&&y|z>w<v",
            "-n",
        ];
        for value in hostile {
            let word = shell_word(value).unwrap();
            assert_eq!(
                sh_words(&word),
                vec![value.to_string()],
                "{value:?} → {word}"
            );
        }
        let line = command(&["check", "it's", "$(x)", ""]).unwrap();
        assert_eq!(line, r"check 'it'\''s' '$(x)' ''");
        assert_eq!(sh_words(&line), ["check", "it's", "$(x)", ""]);
    }

    #[test]
    fn newlines_nul_and_escapes_are_refused_in_shell_words() {
        for value in [
            "1.0\nRUN touch /x",
            "1.0\r",
            "a\0b",
            "\u{1b}]0;title\u{7}",
            "\u{85}",
        ] {
            let error = shell_word(value).unwrap_err();
            assert_eq!(error.value, value);
            assert!(!error.to_string().contains('\n'), "{error}");
        }
        assert!(run(&[vec!["sh", "x\ny"]]).is_err());
    }

    #[test]
    fn run_joins_commands_with_continuations_only() {
        let text = run(&[vec!["sh", "a b"], vec!["sh", "c"]]).unwrap();
        assert_eq!(text, "RUN sh 'a b' \\\n && sh c\n");
    }

    #[test]
    fn instructions_stay_one_line() {
        assert_eq!(
            instruction("FROM", "a@sha256:00").unwrap(),
            "FROM a@sha256:00\n"
        );
        assert!(instruction("FROM", "a\nRUN touch /x").is_err());
        assert!(instruction("FROM", "a \\").is_err());
        assert_eq!(
            comment("v1\nRUN touch /x\u{1b}[31m"),
            "# v1\\nRUN touch /x\\u{1b}[31m\n"
        );
    }

    #[test]
    fn fields_refuse_separators() {
        assert_eq!(field("sha256:ab").unwrap(), "sha256:ab");
        assert!(field("a\tb").is_err());
        assert!(field("a\nb").is_err());
        assert!(url_field("https://h/a b").is_err());
        assert!(url_field("").is_err());
        assert_eq!(url_field("https://h/a?b=c").unwrap(), "https://h/a?b=c");
    }

    #[test]
    fn toml_values_parse_back_to_themselves() {
        for value in [
            "plain",
            "h1234_0",
            "\", channel = \"https://evil\" } #",
            "a'b\"c\\d",
            "line\nbreak\u{0}nul",
            "]]\n[envs.x]",
        ] {
            let text = format!("{} = {}\n", toml_key(value), toml_string(value));
            let table: toml::Table = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(table.len(), 1, "{text}");
            assert_eq!(table[value].as_str(), Some(value), "{text}");
        }
        assert_eq!(toml_string("h1234_0"), "\"h1234_0\"");
        assert_eq!(toml_key("ruamel.yaml"), "\"ruamel.yaml\"");
        assert_eq!(toml_key("numpy"), "numpy");
    }

    #[test]
    fn paths_stay_under_their_root() {
        assert_eq!(component("linux-64").unwrap(), "linux-64");
        for bad in ["", ".", "..", "../x", "a/b", "a\\b", "a\nb", "a\0b"] {
            assert!(component(bad).is_err(), "{bad:?}");
        }
        assert!(relative_path("installation/stage-1/conda/linux-64/repodata.json").is_ok());
        for bad in ["/etc/passwd", "a/../../x", "a//b", "a/./b", "a/", "..", ""] {
            assert!(relative_path(bad).is_err(), "{bad:?}");
        }
    }
}
