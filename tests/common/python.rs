//! Python packages from PyPI for the tests and benchmarks that drive the
//! emulator with third-party clients: each gets a virtual environment under
//! Cargo's target folder, made once (`python3 -m venv`, `pip install`). A
//! machine without Python 3 and venv, or without PyPI, fails here with the
//! reason: the callers never skip silently.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The venv's `python` with `requirement` (`name==version`) installed;
/// `module` is what must import afterwards.
pub fn python_with(requirement: &str, module: &str) -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("py-{}", requirement.replace("==", "-")));
    let python = venv.join("bin").join("python");
    let imports = |py: &Path| {
        Command::new(py)
            .args(["-c", &format!("import {module}")])
            .status()
            .is_ok_and(|s| s.success())
    };
    if python.exists() && imports(&python) {
        return python;
    }
    let run = |cmd: &mut Command, what: &str| {
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("{what}: cannot run it: {e}"));
        assert!(
            out.status.success(),
            "{what} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(
        Command::new("python3").arg("-m").arg("venv").arg(&venv),
        &format!(
            "python3 -m venv (Python 3 with venv is needed to install {requirement} from PyPI)"
        ),
    );
    run(
        Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            requirement,
        ]),
        &format!("pip install {requirement} (from PyPI)"),
    );
    assert!(
        imports(&python),
        "{requirement} installed but `import {module}` fails"
    );
    python
}
