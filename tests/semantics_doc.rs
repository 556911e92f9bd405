//! SEMANTICS.md cannot drift from the mount: every `console` block of its
//! "Examples" section runs here, as written, on a real FUSE mount in a
//! fresh temporary world, and each command's output must be exactly the
//! lines the document shows under it.
//!
//! A block is a scenario: lines starting with `$ ` are commands (run by
//! bash with `$M` the mount, `$P` a folder of the user's own photos
//! `beach.jpg` and `dunes.jpg` outside the library, `$L` alice's library
//! folder holding `sunset.jpg`, `$D` alice's default folder); the lines
//! after a command, up to the next one, are its standard output. Every
//! command must succeed (an example showing a refusal pipes it through
//! `grep -o`).

#[path = "common/mount.rs"]
mod harness;

use harness::*;

const DOC: &str = include_str!("../SEMANTICS.md");

/// One command of an example and the output the document promises.
struct Step {
    command: String,
    output: Vec<String>,
}

/// One `console` block: its line in the document and its steps.
struct Example {
    line: usize,
    steps: Vec<Step>,
}

/// The `console` blocks after the "## Examples" heading.
fn examples(doc: &str) -> Vec<Example> {
    let mut out = Vec::new();
    let mut in_section = false;
    let mut current: Option<Example> = None;
    for (i, line) in doc.lines().enumerate() {
        if line.starts_with("## ") {
            in_section = line.trim() == "## Examples";
            continue;
        }
        if !in_section {
            continue;
        }
        match (&mut current, line.trim_end()) {
            (None, "```console") => {
                current = Some(Example {
                    line: i + 1,
                    steps: Vec::new(),
                })
            }
            (Some(_), "```") => out.extend(current.take()),
            (Some(ex), l) => match l.strip_prefix("$ ") {
                Some(cmd) => ex.steps.push(Step {
                    command: cmd.to_string(),
                    output: Vec::new(),
                }),
                None => match ex.steps.last_mut() {
                    Some(step) => step.output.push(l.to_string()),
                    None => panic!("SEMANTICS.md:{}: output before any command", i + 1),
                },
            },
            (None, _) => {}
        }
    }
    assert!(
        current.is_none(),
        "SEMANTICS.md: a console block is not closed"
    );
    out
}

fn run(ex: &Example) {
    let w = World::new();
    let a = w.add_alice();
    w.user_photo("beach.jpg", 40_000, 1);
    w.user_photo("dunes.jpg", 30_000, 2);
    std::fs::create_dir_all(w.library()).expect("mkdir library");
    std::fs::write(w.library().join("sunset.jpg"), jpeg_bytes(35_000, 3)).expect("write");
    let mut o = w.options();
    o.libraries.insert(
        a.id,
        std::sync::Arc::new(flickrfs::library::Library::new(
            vec![w.library()],
            vec![w.mnt.clone()],
        )),
    );
    let m = w.mount_with(o);
    for step in &ex.steps {
        let out = w.sh(&step.command);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "SEMANTICS.md:{}: `{}` failed: {}",
            ex.line,
            step.command,
            String::from_utf8_lossy(&out.stderr)
        );
        let got: Vec<&str> = stdout.lines().collect();
        assert_eq!(
            got, step.output,
            "SEMANTICS.md:{}: `{}` printed something else than the document says",
            ex.line, step.command
        );
    }
    m.unmount();
}

#[test]
fn every_example_in_semantics_md_runs_as_written() {
    let all = examples(DOC);
    // the section exists and says something: a parser finding nothing
    // must not pass
    assert!(all.len() >= 8, "only {} examples found", all.len());
    for ex in &all {
        assert!(
            !ex.steps.is_empty(),
            "SEMANTICS.md:{}: empty block",
            ex.line
        );
        run(ex);
    }
}

#[test]
fn the_example_parser_reads_commands_and_outputs() {
    let doc = "## Other\n```console\n$ ignored\n```\n## Examples\ntext\n```console\n$ echo a\na\n$ true\n```\n";
    let ex = examples(doc);
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0].line, 7);
    assert_eq!(ex[0].steps.len(), 2);
    assert_eq!(ex[0].steps[0].command, "echo a");
    assert_eq!(ex[0].steps[0].output, vec!["a"]);
    assert!(ex[0].steps[1].output.is_empty());
}
