//! The DWARF reader against the VM tier's test module (tests/vm/stapmod), built here with
//! the installed kernel's Kbuild, so with -g.

use stap_kdata::btf::Kind;
use stap_kdata::dwarf::{ModuleDwarf, VarLoc};
use std::path::PathBuf;
use std::process::Command;

fn build_test_module() -> (tempfile::TempDir, PathBuf) {
    let kver = std::fs::read_dir("/usr/lib/modules")
        .expect("install linux-headers-amd64")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|k| PathBuf::from(format!("/usr/lib/modules/{}/build", k)).is_dir())
        .max()
        .expect("no kernel headers: install linux-headers-amd64");
    let dir = tempfile::tempdir().unwrap();
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vm/stapmod");
    for f in ["stapmod_test.c", "Kbuild"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let st = Command::new("make")
        .args(["-s", "-C", &format!("/usr/lib/modules/{}/build", kver)])
        .arg(format!("M={}", dir.path().display()))
        .arg("modules")
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let ko = dir.path().join("stapmod_test.ko");
    (dir, ko)
}

fn marked_line() -> u64 {
    let src = include_str!("../../tests/vm/stapmod/stapmod_test.c");
    src.lines()
        .position(|l| l.contains("STAPMOD_LINE"))
        .unwrap() as u64
        + 1
}

#[test]
fn reads_functions_types_lines_and_locations_of_a_module() {
    let (_dir, ko) = build_test_module();
    let m = ModuleDwarf::load(&ko).unwrap();
    assert_eq!(m.name, "stapmod_test");

    let f = m
        .functions
        .iter()
        .find(|f| f.name == "stapmod_handle")
        .expect("stapmod_handle has code");
    assert!(f.high > f.low);
    // GCC may have cloned it (stapmod_handle.isra.0): the symbol is found by address.
    let (sym, off) = m.symbol_at(f.low).unwrap();
    assert!(sym.starts_with("stapmod_handle"), "{sym}");
    assert_eq!(off, 0);
    // $req: a pointer to struct stapmod_req with its members.
    let req = f.vars.iter().find(|v| v.name == "req").unwrap();
    assert!(req.param);
    let p = m.types.get(m.types.strip(req.ty));
    assert_eq!(p.kind, Kind::Ptr);
    let st = m.types.get(m.types.strip(p.ty));
    assert_eq!(st.name, "stapmod_req");
    let Kind::Struct { members, .. } = &st.kind else {
        panic!("{:?}", st)
    };
    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["id", "len", "name"]);
    assert_eq!(members[1].bit_offset, 64);
    assert!(matches!(m.var_location(f, req, f.low), Ok(VarLoc::Reg(5))));
    // The marked line has code in the function, and the local `sum` is somewhere there.
    let line = marked_line();
    let rows: Vec<_> = m
        .lines
        .iter()
        .filter(|l| l.file.ends_with("stapmod_test.c") && l.line == line)
        .filter(|l| f.low <= l.addr && l.addr < f.high)
        .collect();
    assert!(!rows.is_empty(), "no line {line} in {:?}", m.lines);
    let sum = f.vars.iter().find(|v| v.name == "sum").unwrap();
    assert!(!sum.param);
    let pc = rows.iter().map(|l| l.addr).min().unwrap();
    let loc = m.var_location(f, sum, pc);
    assert!(loc.is_ok(), "{loc:?}");
    // The inlined copy of stapmod_scale, at its call site in stapmod_write.
    let call = include_str!("../../tests/vm/stapmod/stapmod_test.c")
        .lines()
        .position(|l| l.contains("STAPMOD_CALL"))
        .unwrap() as u64
        + 1;
    let inl = m
        .functions
        .iter()
        .find(|f| f.name == "stapmod_scale")
        .expect("an inlined copy of stapmod_scale");
    let (file, line) = inl.inlined_at.as_ref().unwrap();
    assert!(file.ends_with("stapmod_test.c"), "{file}");
    assert_eq!(*line, call);
}
