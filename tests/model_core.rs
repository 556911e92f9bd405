//! The model test in-process: the same random operations, harness and
//! reference model as `model_mount.rs`, applied straight to the filesystem
//! core (`flickrfs::fs::unmounted_core`, no kernel; the kernel's own path
//! checks done by `model/vfs.rs`) in a world on tmpfs, so that a run can
//! be a hundred times longer. CI runs 10,000 steps; `FLICKRFS_MODEL_CASES=250`
//! runs 100,000.

#[path = "model/generators.rs"]
mod generators;
#[path = "model/harness.rs"]
mod harness;
#[path = "model/reference.rs"]
mod reference;
#[path = "model/vfs.rs"]
mod vfs;
#[path = "common/mount.rs"]
mod world;

use harness::*;

#[test]
fn random_operations_on_the_core_match_the_model() {
    random_runs::<OnCore>(25, 400);
}
