//! Which tapset files a session needs: pass 1 parses only those, so a script's parse and
//! elaboration time does not grow with the size of the library.
//!
//! A quick lexical scan (no parse) indexes what each library file defines: its functions,
//! its globals, and the first component of each probe alias it defines (`syscall` for
//! `probe syscall.open = ...`).  Starting from the user's scripts, every identifier a
//! selected file mentions selects the files that define it, until nothing new is selected.
//! Macro libraries (`.stpm`) are always selected: their macros are visible everywhere.
//! Only the embedded library (which `build.rs` indexes) is selected from: files from `-I`
//! directories or `SYSTEMTAP_TAPSET` are always parsed, as SystemTap parses every tapset
//! (so an error in one is reported whether or not the script uses it), and their
//! identifiers select from the embedded library like the user's.
//! The scan over-approximates (an identifier in a string or an unrelated local selects a
//! file too), which costs time only: a file that defines something the session uses is
//! always selected.  A probe point whose first component has a wildcard (`*.open`, `**`)
//! can name any alias, so it selects every file.

use crate::tapset_scan::{scan, Scan};
use crate::tapsets::TapsetFile;
use std::collections::{HashMap, HashSet};

/// The index of a library: what each file defines and mentions.
pub struct Index<'a> {
    files: &'a [TapsetFile],
    scans: Vec<Scan<'a>>,
    by_name: HashMap<&'a str, Vec<usize>>,
}

impl<'a> Index<'a> {
    /// Scans every file of `files`.
    pub fn new(files: &'a [TapsetFile]) -> Index<'a> {
        let scans: Vec<Scan<'a>> = files
            .iter()
            .map(|t| match t.index {
                Some((defines, mentions)) => Scan {
                    defines: defines.to_vec(),
                    mentions: mentions.to_vec(),
                    wildcard_point: false,
                },
                None => scan(&t.text),
            })
            .collect();
        let mut by_name: HashMap<&'a str, Vec<usize>> = HashMap::new();
        for (i, s) in scans.iter().enumerate() {
            for d in &s.defines {
                by_name.entry(d).or_default().push(i);
            }
        }
        Index {
            files,
            scans,
            by_name,
        }
    }

    /// Which files the session needs (true at their index): every macro library, every
    /// file not indexed at build time, and the `.stp` files the roots' identifiers reach (see the module documentation).  `roots`
    /// are the user's scripts and anything else that is always parsed (the positional
    /// arguments a probe point may name, `-l` patterns as probe points).
    pub fn needed(&self, roots: &[&str]) -> Vec<bool> {
        let root_scans: Vec<Scan<'_>> = roots.iter().map(|r| scan(r)).collect();
        let everything = root_scans.iter().any(|s| s.wildcard_point);
        // Parsed: every macro library and unindexed file.  Reached: what a file mentions
        // selects more (the roots, unindexed files, and every file a reached name is
        // defined in; a macro library's names count once one of its macros is used).
        let mut chosen: Vec<bool> = self
            .files
            .iter()
            .map(|t| everything || t.is_macro_file() || t.index.is_none())
            .collect();
        let mut reached: Vec<bool> = self.files.iter().map(|t| t.index.is_none()).collect();
        let mut seen: HashSet<&str> = HashSet::new();
        let mut work: Vec<&str> = Vec::new();
        for s in &root_scans {
            work.extend(s.mentions.iter().copied());
        }
        for (f, _) in reached.iter().enumerate().filter(|(_, r)| **r) {
            work.extend(self.scans[f].mentions.iter().copied());
        }
        while let Some(name) = work.pop() {
            if !seen.insert(name) {
                continue;
            }
            for &f in self.by_name.get(name).map(|v| v.as_slice()).unwrap_or(&[]) {
                if !reached[f] {
                    reached[f] = true;
                    chosen[f] = true;
                    work.extend(self.scans[f].mentions.iter().copied());
                }
            }
        }
        chosen
    }
}

/// `library` without the files `keep` leaves out, in their order.
pub fn keep(library: Vec<TapsetFile>, keep: &[bool]) -> Vec<TapsetFile> {
    library
        .into_iter()
        .zip(keep)
        .filter(|(_, k)| **k)
        .map(|(t, _)| t)
        .collect()
}

/// [`Index::needed`] and [`keep`] in one (for the tests).
#[cfg(test)]
pub fn select(roots: &[&str], library: Vec<TapsetFile>) -> Vec<TapsetFile> {
    let mask = Index::new(&library).needed(roots);
    keep(library, &mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file indexed as build.rs indexes the embedded library.
    fn file(name: &str, text: &str) -> TapsetFile {
        let leaked: &'static str = Box::leak(text.to_string().into_boxed_str());
        let s = crate::tapset_scan::scan(leaked);
        TapsetFile {
            name: name.into(),
            text: text.into(),
            index: Some((s.defines.leak(), s.mentions.leak())),
        }
    }

    fn names(v: &[TapsetFile]) -> Vec<&str> {
        v.iter().map(|t| t.name.as_str()).collect()
    }

    #[test]
    fn selects_what_the_script_reaches() {
        let lib = vec![
            file("a.stp", "function fa() { return fb() }"),
            file("b.stp", "function fb() { return 1 } global gb, gc"),
            file(
                "c.stp",
                "probe fam.one = kernel.function(\"x\") { v = fc() }",
            ),
            file("d.stp", "function fc() %{ fa() /* not script */ %}"),
            file("e.stp", "// fa fb\nfunction unused() { return \"fc\" }"),
            file("m.stpm", "@define m %( 1 %)"),
        ];
        let got = select(&["probe begin { print(fa()) }"], lib.clone());
        assert_eq!(names(&got), ["a.stp", "b.stp", "m.stpm"]);
        let got = select(&["probe fam.* { print(gc) }"], lib.clone());
        assert_eq!(names(&got), ["b.stp", "c.stp", "d.stp", "m.stpm"]);
        let got = select(&["probe *.one {}"], lib.clone());
        assert_eq!(got.len(), 6);
        // A file of -I DIR (not indexed at build time) is always parsed, and what it
        // mentions selects from the library.
        let mut with_user = lib;
        with_user.push(TapsetFile {
            name: "dir/u.stp".into(),
            text: "function u() { return fc() }".into(),
            index: None,
        });
        let got = select(&["probe begin {}"], with_user);
        assert_eq!(names(&got), ["d.stp", "m.stpm", "dir/u.stp"]);
    }

    #[test]
    fn a_macro_selects_what_its_body_mentions_once_used() {
        let lib = vec![
            file("m.stpm", "@define mac(x) %( fz(@x) %)"),
            file("z.stp", "function fz(x) { return x }"),
        ];
        let got = select(&["probe begin { print(@mac(1)) }"], lib.clone());
        assert_eq!(names(&got), ["m.stpm", "z.stp"]);
        let got = select(&["probe begin { print(1) }"], lib);
        assert_eq!(names(&got), ["m.stpm"]);
    }

    #[test]
    fn a_probe_with_a_condition_is_no_alias() {
        let s = crate::tapset_scan::scan("probe timer.s(1) if (x == 1) { } probe p.q = r.s { }");
        assert_eq!(s.defines, ["p"]);
    }
}
