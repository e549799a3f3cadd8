//! The user-space files a kernel module names and unwinds user stacks through: for each,
//! its loadable segments, its function symbols and its call frame rows, read from the ELF
//! file by stap-kdata and written into the module by codegen (as tables the runtime's
//! unwinder walks while the probe runs).

/// One user-space ELF file (program or shared library) of the session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserModule {
    /// Its canonical path: how the runtime finds it (by inode) and how frames name it.
    pub path: String,
    /// Its size when it was read: the runtime checks the file it finds is still that long.
    pub size: u64,
    /// The `PT_LOAD` segments: file offset, address, size in the file.
    pub segments: Vec<(u64, u64, u64)>,
    /// Function symbols by address, one name an address: address, size (to the next
    /// symbol), name.
    pub symbols: Vec<(u64, u64, String)>,
    /// Call frame rows by address, each in force up to the next one's start.
    pub frames: Vec<FrameRow>,
}

/// From `start`, how to find the caller's frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameRow {
    /// The first address the row covers (an address in the file, not a file offset).
    pub start: u64,
    /// Where the canonical frame address (the caller's stack pointer) is.
    pub cfa: Cfa,
    /// Where the caller's frame pointer (`%rbp`) was saved, from the CFA; `None` when
    /// it still holds the caller's value.
    pub rbp_at: Option<i32>,
}

/// The canonical frame address of a row; the return address is always just below it
/// (x86-64's call pushes it there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cfa {
    /// `%rsp` plus an offset.
    Rsp(i32),
    /// `%rbp` plus an offset.
    Rbp(i32),
    /// The outermost frame (`_start`: its return address is undefined).
    Outermost,
    /// No rule the unwinder follows (a gap between functions, or an expression).
    Unknown,
}
