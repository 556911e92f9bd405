//! What the model test's random operations range over (the contents a copy
//! may write, the user's files `ln -s` may point at) and how they are
//! drawn: proptest strategies that look at the model's state, so that most
//! operations aim at names that exist (a photo to move, a set to write
//! into) instead of failing with `ENOENT`. [`Machine`] is the
//! proptest-state-machine reference: it generates sequences and shrinks a
//! failing one to a short list of operations.

use proptest::prelude::*;
use proptest::sample::select;
use proptest_state_machine::ReferenceStateMachine;

use crate::reference::*;
use crate::world::jpeg_bytes;

/// The contents the test writes and links, by index.
pub fn contents() -> Vec<Content> {
    let jpeg = |len, seed| Content {
        bytes: jpeg_bytes(len, seed),
        media: true,
    };
    vec![
        jpeg(700, 1),
        jpeg(1500, 2),
        jpeg(3000, 3),
        jpeg(5000, 4),
        jpeg(64 * 1024 + 3, 5),
        Content {
            bytes: b"not a photo\n".to_vec(),
            media: false,
        },
        Content {
            bytes: Vec::new(),
            media: false,
        },
        // only ever in the user's own files (two files, same bytes)
        jpeg(2222, 77),
    ]
}
/// Contents a `cp` may write (indices into `contents()`).
pub const CREATE_CONTENTS: usize = 7;
/// The user's files `ln -s` may point at: content index of each.
pub const SOURCES: [usize; 5] = [0, 2, 5, 7, 7];

/// A folder: the account folder, mostly a set that exists, now and then
/// the pool or any set name (one that may not exist).
fn folder(m: &Model) -> BoxedStrategy<Folder> {
    let existing: Vec<usize> = m.sets.keys().copied().collect();
    let any = (0..SETS.len()).prop_map(Folder::Set);
    if existing.is_empty() {
        prop_oneof![3 => Just(Folder::Root), 2 => Just(Folder::Pool), 6 => any].boxed()
    } else {
        prop_oneof![
            3 => Just(Folder::Root),
            6 => select(existing).prop_map(Folder::Set),
            2 => Just(Folder::Pool),
            1 => any,
        ]
        .boxed()
    }
}

/// The (folder, name) of every entry the model lists.
fn entries(m: &Model) -> Vec<(Folder, usize)> {
    let mut have = Vec::new();
    for (i, n) in NAMES.iter().enumerate() {
        if m.root.contains_key(*n) {
            have.push((Folder::Root, i));
        }
        for (&s, e) in &m.sets {
            if e.contains_key(*n) {
                have.push((Folder::Set(s), i));
            }
        }
        if m.pool.contains_key(*n) {
            have.push((Folder::Pool, i));
        }
    }
    have
}

/// An existing entry most of the time, else anything.
fn entry(m: &Model) -> BoxedStrategy<(Folder, usize)> {
    let anything = (folder(m), 0..NAMES.len());
    let have = entries(m);
    if have.is_empty() {
        anything.boxed()
    } else {
        prop_oneof![85 => select(have), 15 => anything].boxed()
    }
}

/// An entry to write into: a third of the time, when there is one, an
/// entry still referring to a user's file (copy-on-write is the rarer case).
fn write_target(m: &Model) -> BoxedStrategy<(Folder, usize)> {
    let borrowed: Vec<(Folder, usize)> = entries(m)
        .into_iter()
        .filter(|&(f, i)| {
            let p = m.entries(f).expect("listed folder")[NAMES[i]];
            let path = m.photos[&p].path.as_ref();
            path.is_some_and(|path| m.sources.iter().any(|(s, _)| s == path))
        })
        .collect();
    if borrowed.is_empty() {
        entry(m)
    } else {
        prop_oneof![33 => select(borrowed), 67 => entry(m)].boxed()
    }
}

/// One operation, drawn with the weights of a busy user's session.
pub fn op(m: &Model) -> BoxedStrategy<Op> {
    let name = 0..NAMES.len();
    let set = 0..SETS.len();
    let content = 0..CREATE_CONTENTS;
    let source = 0..SOURCES.len();
    let external = prop_oneof![
        3 => (folder(m), name.clone(), source.clone())
            .prop_map(|(dir, name, source)| Ext::AddFile { dir, name, source }),
        4 => (entry(m), folder(m), name.clone()).prop_map(|((from, name), to, to_name)| {
            Ext::Rename { from, name, to, to_name }
        }),
        2 => entry(m).prop_map(|(dir, name)| Ext::Unlink { dir, name }),
        1 => set.clone().prop_map(|set| Ext::Mkdir { set }),
    ];
    let setxattr = (
        entry(m),
        select(vec![Attr::Title, Attr::Tags, Attr::Privacy]),
    )
        .prop_flat_map(|((dir, name), attr)| {
            (0..attr.values().len()).prop_map(move |value| Op::SetXattr {
                dir,
                name,
                attr,
                value,
            })
        });
    prop_oneof![
        22 => (folder(m), name.clone(), content.clone())
            .prop_map(|(dir, name, content)| Op::Create { dir, name, content }),
        8 => (folder(m), name.clone(), source)
            .prop_map(|(dir, name, source)| Op::Symlink { dir, name, source }),
        12 => (entry(m), folder(m), name.clone()).prop_map(|((from, name), to, to_name)| {
            Op::Link { from, name, to, to_name }
        }),
        20 => (entry(m), folder(m), name).prop_map(|((from, name), to, to_name)| {
            Op::Rename { from, name, to, to_name }
        }),
        12 => entry(m).prop_map(|(dir, name)| Op::Unlink { dir, name }),
        7 => set.clone().prop_map(|set| Op::Mkdir { set }),
        4 => set.clone().prop_map(|set| Op::Rmdir { set }),
        3 => (set.clone(), set).prop_map(|(set, to)| Op::RenameSet { set, to }),
        10 => (write_target(m), content)
            .prop_map(|((dir, name), content)| Op::Overwrite { dir, name, content }),
        5 => (write_target(m), 0..TAILS.len())
            .prop_map(|((dir, name), tail)| Op::Append { dir, name, tail }),
        5 => (write_target(m), 0..=4usize)
            .prop_map(|((dir, name), quarters)| Op::Truncate { dir, name, quarters }),
        // about 6% of the steps: a change by another catalog connection
        8 => external.prop_map(Op::External),
        12 => setxattr,
    ]
    .boxed()
}

/// The model as a proptest-state-machine reference: its state drives
/// generation; the harness keeps its own copy to check against.
pub struct Machine;

/// The reference state: the model, shown briefly (a failure prints it).
#[derive(Clone)]
pub struct GenState(pub Model);

impl std::fmt::Debug for GenState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "model: {} photos, sets {:?}",
            self.0.photos.len(),
            self.0.sets.keys().collect::<Vec<_>>()
        )
    }
}

/// The model generation starts from (the user's files under made-up paths:
/// generation only needs which photo came from which file).
pub fn initial_model() -> Model {
    let sources = SOURCES
        .iter()
        .enumerate()
        .map(|(i, &c)| (std::path::PathBuf::from(format!("/user{i}")), c))
        .collect();
    Model::new(contents(), sources)
}

impl ReferenceStateMachine for Machine {
    type State = GenState;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<GenState> {
        Just(GenState(initial_model())).boxed()
    }

    fn transitions(state: &GenState) -> BoxedStrategy<Op> {
        op(&state.0)
    }

    fn apply(mut state: GenState, op: &Op) -> GenState {
        let _ = state.0.apply(*op);
        state
    }
}
