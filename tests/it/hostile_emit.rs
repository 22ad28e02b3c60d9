//! Emit against a hostile lock (issue #16 item 7): no value in a lock can add a shell
//! command, a Dockerfile instruction, a TOML key or a table line, or put a file outside
//! `--out`. The lock is a real one (the lint project: base image, tools, apt, a release,
//! a url file), then every kind of string field in it is replaced, in memory and bypassing
//! the lock's own checks, by each of a set of attacks; each entry is resealed (its checksum
//! is recomputable by anyone) and emitted. Emit must either refuse, or write files whose
//! structure is the untouched lock's: the same Dockerfile instructions, the same commands
//! with the same number of arguments when the shell runs the `RUN` steps and the
//! self-checks (with every command stubbed and nothing else on PATH), the same TOML shape
//! and the same table lines and fields.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use modelbench::emit::{self, EmitInputs, Emitted};
use modelbench::lock::Lock;
use modelbench::spec::LoadedSpec;

use crate::support::project::Project;
use crate::support::world::World;

/// What an attacker puts in a version, a name, a file name, a URL, a platform, …
const ATTACKS: &[&str] = &[
    "0.1.0;touch pwned;#",
    "$(touch pwned)",
    "`touch pwned`",
    "1.0' ; touch pwned ; '",
    "1.0\" ; touch pwned ; \"",
    "1.0\nRUN touch pwned",
    "1.0\r\nRUN touch pwned",
    "1.0 \\\n && touch pwned",
    "../../pwned",
    "a b&&touch pwned",
    "x\ty\tz",
    "\u{1b}]0;title\u{7}",
    "h1_0\", channel = \"https://evil.example\" } #",
    "x]\n[envs.evil]",
    "*",
    "nul\0byte",
];

#[test]
fn hostile_lock_values_cannot_add_commands_instructions_or_keys() {
    let project = Project::new();
    let world = World::start();
    crate::lint::emitted_context(&project, &world);
    attack(&project);
}

/// pixi-global.toml, packages.tsv and the local channel's paths.
#[test]
fn hostile_conda_values_cannot_add_commands_or_toml_keys() {
    let fixture = crate::conda::fixture();
    let project = crate::conda::locked_and_emitted(&fixture, r#"["jq", "yq"]"#);
    attack(&project);
}

/// package-lock.json, bun.lock, bins.txt and the self-check's `check_command` lines.
#[test]
fn hostile_npm_values_cannot_add_commands_or_keys() {
    let (project, _upstreams) = crate::npm_build::locked_npm_globals();
    attack(&project);
}

/// Attack every field of the project's lock (see the module doc). Each attack is compared
/// with a benign value in the same field (`zzbenign`): both change the same memberships
/// (a platform no longer matched, a file no longer shared), so their emitted files must
/// have the same structure; only characters differ.
fn attack(project: &Project) {
    let spec = LoadedSpec::load(&project.path("specs/test.toml")).expect("the spec loads");
    let lock_text = std::fs::read_to_string(project.lock_path()).unwrap();
    let lock = Lock::parse(&project.lock_path(), &lock_text).expect("the lock parses");
    emit_lock(&spec, &lock).expect("the untouched lock emits");
    let sandbox = crate::support::temp_dir();

    let original = serde_json::to_value(&lock).unwrap();
    let mut fields = Vec::new();
    string_fields(&original, &mut Vec::new(), &mut fields);
    assert!(fields.len() > 10, "too few fields to attack: {fields:?}");

    let (mut refused, mut emitted, mut untyped) = (0, 0, 0);
    for field in &fields {
        let name = field.join(".");
        let Some(benign) = with_value(&original, field, "zzbenign") else {
            untyped += ATTACKS.len();
            continue;
        };
        let benign = emit_lock(&spec, &benign).map(|files| Shape::of(&files, sandbox.path()));
        for attack in ATTACKS {
            // A field whose type refuses the value never reaches emit: that is a pass.
            let Some(hostile) = with_value(&original, field, attack) else {
                untyped += 1;
                continue;
            };
            match emit_lock(&spec, &hostile) {
                Err(_) => refused += 1,
                Ok(files) => {
                    emitted += 1;
                    let context = format!("{name} = {attack:?}");
                    if attack.contains(char::is_control) {
                        for (path, file) in &files.files {
                            let text = String::from_utf8_lossy(&file.bytes);
                            assert!(
                                !text.contains(attack),
                                "{context}: written raw into `{path}`"
                            );
                        }
                    }
                    let expected = benign.as_ref().unwrap_or_else(|e| {
                        panic!("{context}: emitted, but the benign value was refused: {e}")
                    });
                    Shape::of(&files, sandbox.path()).assert_same(expected, &context);
                }
            }
            assert!(
                !sandbox.path().join("pwned").exists(),
                "a command ran: {name} = {attack:?}"
            );
        }
    }
    eprintln!(
        "{} fields × {} attacks: {refused} refused by emit, {emitted} emitted with the benign value's structure, {untyped} refused by the lock's types",
        fields.len(),
        ATTACKS.len()
    );
    assert!(refused > 0 && emitted > 0, "both outcomes must occur");
}

/// The lock with one field replaced and every entry resealed, or `None` when the field's
/// type refuses the value.
fn with_value(original: &serde_json::Value, field: &[String], text: &str) -> Option<Lock> {
    let mut value = original.clone();
    *pointer_mut(&mut value, field) = serde_json::Value::String(text.to_string());
    let mut lock = serde_json::from_value::<Lock>(value).ok()?;
    for artifact in &mut lock.artifacts {
        artifact.seal();
    }
    Some(lock)
}

fn emit_lock(spec: &LoadedSpec, lock: &Lock) -> Result<Emitted, emit::EmitError> {
    let bytes = lock.to_bytes();
    let inputs = EmitInputs {
        lock_path: "lock/test/bench.lock",
        lock_bytes: &bytes,
        home: None,
        locked: false,
        sources: None,
    };
    emit::emit(spec, lock, &inputs)
}

/// The JSON pointer of every string leaf, one per field kind: every artifact, but in an
/// array inside one only the first element (the others are the same kind of field).
fn string_fields(value: &serde_json::Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match value {
        serde_json::Value::String(_) => out.push(at.clone()),
        serde_json::Value::Array(items) => {
            let all = at.len() == 1;
            for (index, item) in items
                .iter()
                .enumerate()
                .take(if all { usize::MAX } else { 1 })
            {
                at.push(index.to_string());
                string_fields(item, at, out);
                at.pop();
            }
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                at.push(key.clone());
                string_fields(item, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn pointer_mut<'a>(value: &'a mut serde_json::Value, at: &[String]) -> &'a mut serde_json::Value {
    let pointer: String = at
        .iter()
        .map(|p| format!("/{}", p.replace('~', "~0").replace('/', "~1")))
        .collect();
    value.pointer_mut(&pointer).expect("the field exists")
}

/// The structure of a build context, with every value left out: per file, its kind and
/// shape, sorted (a value may change a file's name or its place in a sorted list).
#[derive(Debug, PartialEq)]
struct Shape(Vec<String>);

impl Shape {
    fn of(emitted: &Emitted, sandbox: &Path) -> Shape {
        let mut files = Vec::new();
        for (path, file) in &emitted.files {
            for part in path.split('/') {
                assert!(
                    !part.is_empty()
                        && part != "."
                        && part != ".."
                        && !part.contains(char::is_control),
                    "emitted path `{path:?}` leaves the build context"
                );
            }
            let text = String::from_utf8(file.bytes.clone()).expect("emitted files are text");
            let kind = path.rsplit('/').next().unwrap().rsplit('.').next().unwrap();
            let shape = if path.ends_with("Dockerfile") {
                dockerfile_shape(&text, sandbox)
            } else if path.ends_with("self-check.sh") {
                script_shape(&text, sandbox)
            } else if kind == "toml" {
                let table: toml::Table = text
                    .parse()
                    .unwrap_or_else(|e| panic!("`{path}` is not TOML: {e}\n{text}"));
                toml_shape(&toml::Value::Table(table))
            } else if kind == "json" {
                let value: serde_json::Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("`{path}` is not JSON: {e}"));
                json_shape(&value)
            } else if kind == "tsv" || kind == "txt" || kind == "lock" {
                // Lines and fields as the scripts read them (bun.lock: its lines).
                let mut lines: Vec<String> = text
                    .lines()
                    .map(|l| l.split('\t').count().to_string())
                    .collect();
                lines.sort();
                lines.join(",")
            } else {
                String::new()
            };
            files.push(format!("{kind}: {shape}"));
        }
        files.sort();
        Shape(files)
    }

    fn assert_same(&self, expected: &Shape, context: &str) {
        if self != expected {
            let ours: BTreeSet<&String> = self.0.iter().collect();
            let theirs: BTreeSet<&String> = expected.0.iter().collect();
            panic!(
                "{context}: the structure differs from the benign value's\nonly here: {:#?}\nonly there: {:#?}",
                ours.difference(&theirs).collect::<Vec<_>>(),
                theirs.difference(&ours).collect::<Vec<_>>()
            );
        }
    }
}

/// A Dockerfile's instructions (keyword list) and what its `RUN` steps run.
fn dockerfile_shape(text: &str, sandbox: &Path) -> String {
    let mut keywords = Vec::new();
    let mut runs = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut instruction = line.to_string();
        while instruction.ends_with('\\') {
            // Docker joins a continued line with the next, dropping `\` and the newline.
            instruction.pop();
            instruction.push_str(lines.next().expect("a continuation has a next line"));
        }
        let keyword = instruction.split_whitespace().next().unwrap().to_string();
        if keyword == "RUN" {
            runs.push(instruction["RUN ".len()..].to_string());
        }
        keywords.push(keyword);
    }
    let mut script = String::new();
    for run in runs {
        script.push_str(&run);
        script.push('\n');
    }
    format!(
        "{}\n{}",
        keywords.join(" "),
        stubbed_calls(&script, sandbox)
    )
}

/// A self-check script's calls: its library is replaced by stubs.
fn script_shape(text: &str, sandbox: &Path) -> String {
    let script: String = text
        .lines()
        .filter(|l| !l.starts_with(". "))
        .map(|l| format!("{l}\n"))
        .collect();
    stubbed_calls(&script, sandbox)
}

/// Run `script` with `sh` where every command it may call is a function that logs its
/// name and argument count, and PATH is empty: each call is logged, anything else fails.
fn stubbed_calls(script: &str, sandbox: &Path) -> String {
    let check = Command::new("sh")
        .arg("-n")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert!(check.status.success(), "not valid sh: {script}");
    let stubs: String = [
        "sh",
        "mkdir",
        "ln",
        "check_file",
        "check_version",
        "check_command",
        "check_debs",
        "check_dpkg_unchanged",
        "check_no_proxy",
        "check_apt_mirror",
        "check_python_import",
        "check_gpu",
        "check_conda_envs",
        "check_conda_exposed",
        "selfcheck_begin",
        "selfcheck_end",
    ]
    .iter()
    .map(|name| format!("{name}() {{ echo \"{name} $#\"; }}\n"))
    .collect();
    let full =
        format!("{stubs}selfcheck_platform() {{ echo linux/amd64; }}\nPATH=/nonexistent\n{script}");
    let output = Command::new("/bin/sh")
        .arg("-c")
        .arg(&full)
        .current_dir(sandbox)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.is_empty(),
        "the script ran something else: {stderr}\n{script}"
    );
    let mut calls: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    calls.sort();
    calls.join("\n")
}

/// Tables by their number of entries and the shapes of their values (keys left out).
fn toml_shape(value: &toml::Value) -> String {
    match value {
        toml::Value::Table(table) => {
            let mut children: Vec<String> = table.values().map(toml_shape).collect();
            children.sort();
            format!("{{{}}}", children.join(","))
        }
        toml::Value::Array(items) => {
            format!(
                "[{}]",
                items.iter().map(toml_shape).collect::<Vec<_>>().join(",")
            )
        }
        toml::Value::String(_) => "s".into(),
        other => other.type_str().into(),
    }
}

fn json_shape(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Object(map) => {
            let mut children: Vec<String> = map.values().map(json_shape).collect();
            children.sort();
            format!("{{{}}}", children.join(","))
        }
        serde_json::Value::Array(items) => {
            format!(
                "[{}]",
                items.iter().map(json_shape).collect::<Vec<_>>().join(",")
            )
        }
        serde_json::Value::String(_) => "s".into(),
        other => if other.is_number() { "n" } else { "b" }.into(),
    }
}

/// The self-check library pastes a command name into a login shell's command line
/// (`command -v NAME`): names that are not plain are reported, never run, whatever wrote
/// the self-check or `exposed.tsv`.
#[test]
fn self_check_refuses_to_run_names_that_are_not_plain() {
    let sandbox = crate::support::temp_dir();
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("installation/common/self-check-lib.sh");
    std::fs::write(
        sandbox.path().join("exposed.tsv"),
        "env\tok-name\nenv\tx;touch pwned-exposed\n",
    )
    .unwrap();
    // as_user runs the command line in a plain shell here, in the sandbox.
    let script = format!(
        ". '{}'\nas_user() {{ sh -c \"$2\"; }}\nselfcheck_begin\n\
         check_command root 'x;touch pwned' pkg\n\
         check_command root '$(touch pwned)' pkg\n\
         check_conda_exposed root exposed.tsv\n\
         echo \"failed=$selfcheck_failed\"\n",
        lib.display()
    );
    let output = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(sandbox.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!sandbox.path().join("pwned").exists(), "{stdout}");
    assert!(!sandbox.path().join("pwned-exposed").exists(), "{stdout}");
    assert_eq!(
        stdout.matches("not a plain command name").count(),
        3,
        "{stdout}"
    );
    assert!(
        stdout.contains("failed=4"),
        "three refusals and `ok-name` not found: {stdout}"
    );
}
