//! The repository's LICENSE is the licence every crate declares.

use std::path::Path;

#[test]
fn the_license_file_matches_every_crates_license_field() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let license = std::fs::read_to_string(root.join("LICENSE")).expect("a LICENSE at the repository's root");
    assert!(license.starts_with("MIT License\n"), "LICENSE is not the MIT licence");
    assert!(license.contains("Permission is hereby granted, free of charge"), "LICENSE is not the whole MIT text");
    let workspace = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    assert!(workspace.lines().any(|l| l.trim() == r#"license = "MIT""#), "the workspace declares MIT");
    for krate in [
        "streammon-core",
        "streammon-redis",
        "streammon-http",
        "streammon-notify",
        "streammon-cli",
        "benches",
        "examples",
    ] {
        let manifest = std::fs::read_to_string(root.join(krate).join("Cargo.toml")).expect("a crate manifest");
        let field =
            manifest.lines().find(|l| l.starts_with("license")).unwrap_or_else(|| panic!("{krate}: no license"));
        assert!(field.contains("license.workspace = true") || field.contains(r#""MIT""#), "{krate}: {field}");
    }
}
