//! The elaborated program: what pass 2 hands to the code generator.
//!
//! Unlike the AST, every name is resolved (a variable is a [`Var`] slot, a call names a
//! [`FuncId`]), every probe is a derived probe on one concrete probe point with its alias
//! prologues and epilogues folded in, and every variable and function has a [`Type`].

use stap_syntax::ast::{AssignOp, BinOp, IncDec, Literal, SortDir, StatOp, UnOp};
use stap_syntax::source::Span;
use std::fmt;
use std::marker::PhantomData;

/// A value type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Type {
    /// Not known (yet).
    Unknown,
    /// 64-bit signed integer.
    Long,
    /// String.
    String,
    /// Statistics aggregate (`<<<`).
    Stats,
}

impl Type {
    /// SystemTap's name for the type, as `-p2` prints it.
    pub fn name(self) -> &'static str {
        match self {
            Type::Unknown => "unknown",
            Type::Long => "long",
            Type::String => "string",
            Type::Stats => "stats",
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A typed index into an [`Arena`] (naga's `Handle<T>`): which arena it indexes is part
/// of its type, so a global's id can never index the functions.
pub struct Id<T> {
    index: u32,
    marker: PhantomData<fn() -> T>,
}

impl<T> Id<T> {
    /// The id of the `index`-th element.
    pub fn new(index: usize) -> Id<T> {
        Id {
            index: u32::try_from(index).expect("fewer than 2^32 elements"),
            marker: PhantomData,
        }
    }

    /// The element's position in its arena.
    pub fn index(self) -> usize {
        self.index as usize
    }
}

impl<T> Clone for Id<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Id<T> {}
impl<T> PartialEq for Id<T> {
    fn eq(&self, o: &Self) -> bool {
        self.index == o.index
    }
}
impl<T> Eq for Id<T> {}
impl<T> std::hash::Hash for Id<T> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.index.hash(h)
    }
}
impl<T> PartialOrd for Id<T> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for Id<T> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.index.cmp(&o.index)
    }
}
impl<T> fmt::Debug for Id<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.index)
    }
}
impl<T> fmt::Display for Id<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.index)
    }
}

/// Elements indexed by [`Id`]s.
#[derive(Clone, Debug)]
pub struct Arena<T> {
    items: Vec<T>,
}

impl<T> Default for Arena<T> {
    fn default() -> Self {
        Arena { items: Vec::new() }
    }
}

impl<T> Arena<T> {
    /// An empty arena.
    pub fn new() -> Arena<T> {
        Arena::default()
    }
    /// Adds an element; its id.
    pub fn push(&mut self, t: T) -> Id<T> {
        self.items.push(t);
        Id::new(self.items.len() - 1)
    }
    /// How many elements.
    pub fn len(&self) -> usize {
        self.items.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    /// The elements, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }
    /// The elements, in order, mutably.
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.items.iter_mut()
    }
    /// The elements with their ids.
    pub fn enumerate(&self) -> impl DoubleEndedIterator<Item = (Id<T>, &T)> + ExactSizeIterator {
        self.items.iter().enumerate().map(|(i, t)| (Id::new(i), t))
    }
    /// The elements with their ids, mutably.
    pub fn enumerate_mut(&mut self) -> impl Iterator<Item = (Id<T>, &mut T)> {
        self.items
            .iter_mut()
            .enumerate()
            .map(|(i, t)| (Id::new(i), t))
    }
    /// Every id, in order.
    pub fn ids(&self) -> impl DoubleEndedIterator<Item = Id<T>> + ExactSizeIterator {
        (0..self.items.len()).map(Id::new)
    }
    /// The element with id `id`, if there is one.
    pub fn get(&self, id: Id<T>) -> Option<&T> {
        self.items.get(id.index())
    }
    /// The id the next pushed element gets.
    pub fn next_id(&self) -> Id<T> {
        Id::new(self.items.len())
    }
    /// The elements, in order (ids are lost).
    pub fn into_vec(self) -> Vec<T> {
        self.items
    }
    /// The elements as a slice, in id order (for positional views such as a function's
    /// parameters, its first `arity` locals).
    pub fn as_slice(&self) -> &[T] {
        &self.items
    }
    /// The last element.
    pub fn last(&self) -> Option<&T> {
        self.items.last()
    }
    /// Keeps the elements `keep` marks, in order: the new id of each old one (None for
    /// those removed), and the removed elements in order.
    pub fn compact(&mut self, keep: &IdVec<T, bool>) -> (IdVec<T, Option<Id<T>>>, Vec<T>) {
        let mut remap = Vec::with_capacity(self.items.len());
        let mut kept = Vec::new();
        let mut dropped = Vec::new();
        for (i, t) in std::mem::take(&mut self.items).into_iter().enumerate() {
            if keep[Id::new(i)] {
                remap.push(Some(Id::new(kept.len())));
                kept.push(t);
            } else {
                remap.push(None);
                dropped.push(t);
            }
        }
        self.items = kept;
        (remap.into(), dropped)
    }
}

impl<T> From<Vec<T>> for Arena<T> {
    fn from(items: Vec<T>) -> Self {
        Arena { items }
    }
}

impl<T> FromIterator<T> for Arena<T> {
    fn from_iter<I: IntoIterator<Item = T>>(it: I) -> Self {
        Arena {
            items: it.into_iter().collect(),
        }
    }
}

impl<T> std::ops::Index<Id<T>> for Arena<T> {
    type Output = T;
    fn index(&self, id: Id<T>) -> &T {
        &self.items[id.index()]
    }
}

impl<T> std::ops::IndexMut<Id<T>> for Arena<T> {
    fn index_mut(&mut self, id: Id<T>) -> &mut T {
        &mut self.items[id.index()]
    }
}

impl<'a, T> IntoIterator for &'a Arena<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl<'a, T> IntoIterator for &'a mut Arena<T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter_mut()
    }
}

/// A value for each element of an arena, indexed by the element's [`Id`] (side tables:
/// which functions are used, what each one writes...).
#[derive(Clone, Debug)]
pub struct IdVec<K, V> {
    items: Vec<V>,
    marker: PhantomData<fn() -> K>,
}

impl<K, V> IdVec<K, V> {
    /// `len` copies of `v`.
    pub fn filled(len: usize, v: V) -> IdVec<K, V>
    where
        V: Clone,
    {
        vec![v; len].into()
    }
    /// How many values.
    pub fn len(&self) -> usize {
        self.items.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    /// Every id, in order.
    pub fn ids(&self) -> impl DoubleEndedIterator<Item = Id<K>> + ExactSizeIterator {
        (0..self.items.len()).map(Id::new)
    }
    /// The values, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, V> {
        self.items.iter()
    }
    /// The values with their ids.
    pub fn enumerate(&self) -> impl DoubleEndedIterator<Item = (Id<K>, &V)> + ExactSizeIterator {
        self.items.iter().enumerate().map(|(i, v)| (Id::new(i), v))
    }
}

impl<K, V> From<Vec<V>> for IdVec<K, V> {
    fn from(items: Vec<V>) -> Self {
        IdVec {
            items,
            marker: PhantomData,
        }
    }
}

impl<K, V> FromIterator<V> for IdVec<K, V> {
    fn from_iter<I: IntoIterator<Item = V>>(it: I) -> Self {
        it.into_iter().collect::<Vec<V>>().into()
    }
}

impl<K, V> std::ops::Index<Id<K>> for IdVec<K, V> {
    type Output = V;
    fn index(&self, id: Id<K>) -> &V {
        &self.items[id.index()]
    }
}

impl<K, V> std::ops::IndexMut<Id<K>> for IdVec<K, V> {
    fn index_mut(&mut self, id: Id<K>) -> &mut V {
        &mut self.items[id.index()]
    }
}

/// A global variable's id in [`Program::globals`].
pub type GlobalId = Id<Global>;
/// A function's id in [`Program::functions`].
pub type FuncId = Id<Function>;
/// A local's id in its function's or probe's `locals`.
pub type LocalId = Id<Local>;

/// A variable reference: a global, or a local slot of the enclosing function or probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Var {
    /// A global variable.
    Global(GlobalId),
    /// A local (parameters come first in a function's locals).
    Local(LocalId),
}

/// A global variable.
#[derive(Clone, Debug)]
pub struct Global {
    /// Its name as written.
    pub name: String,
    /// The value type (for arrays, the element type).
    pub ty: Type,
    /// Key types when it is an array (empty for scalars).
    pub keys: Vec<Type>,
    /// True once it is known to be an array (even if key types are not).
    pub is_array: bool,
    /// `global a[N]`.
    pub size: Option<i64>,
    /// `global a%`.
    pub wrap: bool,
    /// The histogram kept for this statistic (SystemTap allows one kind per statistic),
    /// if the program draws or indexes one.
    pub hist: Option<HistKind>,
    /// The bit shift its `@variance(s, b)` asks for (SystemTap allows one per statistic).
    pub variance_shift: Option<u8>,
    /// The initial value.
    pub init: Option<Literal>,
    /// Declared `private` (its name is scoped to its file).
    pub private: bool,
    /// Declared in a tapset.
    pub from_tapset: bool,
    /// Where it was declared.
    pub span: Span,
}

/// A local variable (or parameter) of a function or probe.
#[derive(Clone, Debug)]
pub struct Local {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// Where it first appears.
    pub span: Span,
    /// True for function parameters.
    pub param: bool,
    /// True for the variable receiving a `catch` message or `foreach` key/value.
    pub declared: bool,
}

/// A function's body.
#[derive(Clone, Debug)]
pub enum Body {
    /// Script statements.
    Script(Block),
    /// Embedded C (`%{ ... %}`), with its pragmas (`/* pure */`, `/* unprivileged */`...).
    Embedded {
        /// The code, verbatim.
        code: String,
        /// The `/* word */` pragmas found in the code.
        pragmas: Vec<String>,
    },
}

/// A function.
#[derive(Clone, Debug)]
pub struct Function {
    /// Its name as written.
    pub name: String,
    /// Number of parameters (the first locals).
    pub arity: usize,
    /// Parameters then locals.
    pub locals: Arena<Local>,
    /// Return type ([`Type::Unknown`] for functions that return nothing).
    pub ret: Type,
    /// Overload priority (`:N`, default 1).
    pub priority: i64,
    /// The body.
    pub body: Body,
    /// Declared `private`.
    pub private: bool,
    /// Defined in a tapset.
    pub from_tapset: bool,
    /// Where it is defined.
    pub span: Span,
}

/// A probe point parameter after resolution.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PointArg {
    /// A number.
    Number(i64),
    /// A string.
    String(String),
}

/// One component of a resolved probe point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PointComponent {
    /// The component's name.
    pub name: String,
    /// Its parameter.
    pub arg: Option<PointArg>,
}

/// Where a uprobe goes in a program or library: a function's entry or an SDT marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserSite {
    /// The file's path (canonical).
    pub path: String,
    /// Where the probed instruction is in the file.
    pub offset: u64,
    /// Where a marker's semaphore is in the file (0: none): the kernel counts the
    /// probes on it in each process that maps the file.
    pub semaphore: u64,
    /// A marker's or PLT entry's address in the file's own numbering (SystemTap's `pp()`
    /// there names the statement at that address); `None` for functions.
    pub statement: Option<u64>,
}

/// A concrete probe point a derived probe is attached to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbePoint {
    /// The components (`timer`, `ms(100)`).
    pub components: Vec<PointComponent>,
    /// Which of several sites with the same name this is (0 for the first): a function
    /// inlined at one call site whose caller was itself inlined into several functions
    /// has one copy in each, all named alike, as SystemTap names them.
    pub instance: u32,
}

impl fmt::Display for ProbePoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.components.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(&c.name)?;
            match &c.arg {
                Some(PointArg::Number(n)) => write!(f, "({})", n)?,
                Some(PointArg::String(s)) => write!(f, "(\"{}\")", s)?,
                None => {}
            }
        }
        Ok(())
    }
}

/// Which family a probe point belongs to (`stap-sema/src/families/` has one file per
/// family: its patterns, checks, context and runtimes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// `begin`
    Begin,
    /// `end`
    End,
    /// `error`
    Error,
    /// `never`
    Never,
    /// `timer.*` (not profile)
    Timer,
    /// `timer.profile`
    TimerProfile,
    /// `kernel.function`, `module().function`, `kernel.statement`
    KernelDwarf,
    /// `kprobe.*`
    Kprobe,
    /// `kernel.trace` / `kernel.mark`
    Tracepoint,
    /// `process.*` (user space)
    Process,
    /// `perf.*`
    Perf,
    /// `perfmon.counter("EVENT")`: a counting perf event, read by `read_counter($counter)`
    Perfmon,
    /// `procfs.*`
    Procfs,
    /// `netfilter.*`
    Netfilter,
}

/// The events `perfmon.counter("NAME")` counts: name, perf type, perf config.  A
/// counter's handle (`$counter`) is its index here.
pub const PERFMON_EVENTS: &[(&str, u32, u64)] = &[
    ("cycles", 0, 0),
    ("instructions", 0, 1),
    ("cache-references", 0, 2),
    ("cache-misses", 0, 3),
    ("branch-instructions", 0, 4),
    ("branches", 0, 4),
    ("branch-misses", 0, 5),
    ("bus-cycles", 0, 6),
    ("cpu-clock", 1, 0),
    ("task-clock", 1, 1),
    ("page-faults", 1, 2),
    ("context-switches", 1, 3),
    ("cpu-migrations", 1, 4),
];

/// Where generated code runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// A kernel module.
    Kernel,
    /// A native program (`--runtime=user`).
    User,
}

impl Family {
    /// True for probes with target variables (`$name`) of their own.
    pub fn has_target_vars(self) -> bool {
        crate::families::of(self).has_target_vars()
    }

    /// True for probes the user-space backend can run.
    pub fn user_runtime_ok(self) -> bool {
        crate::families::of(self).runs_on(Runtime::User)
    }
}

/// A timer's period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerPeriod {
    /// An hrtimer period, in nanoseconds.
    Ns(i64),
    /// A period in jiffies (`timer.jiffies`, `timer.profile`).
    Jiffies(i64),
}

/// Which process event a `process.*` probe waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessEvent {
    /// `.begin`
    Begin,
    /// `.end`
    End,
    /// `.thread.begin`
    ThreadBegin,
    /// `.thread.end`
    ThreadEnd,
    /// `.syscall`
    Syscall,
    /// `.syscall.return`
    SyscallReturn,
    /// A point inside the program (`.function`, `.statement`, `.mark`, `.plt`, `.insn`,
    /// `.data`): needs the user-space probing the runtime does not have yet.
    Code,
}

/// Which processes a `process.*` lifecycle probe watches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProcessFilter {
    /// Every user process, or, when the session has a target (`-c`/`-x`, known when it
    /// runs), the target and its descendants.
    Any,
    /// The process with this id (`process(PID)`).
    Pid(i64),
    /// Processes running this executable (`process("PATH")`, absolute when it was found).
    Path(String),
}

/// What a derived probe attaches to, validated: built once by its family in pass 2, so no
/// later pass reads a probe point's component names or units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    /// `begin(seq)`
    Begin {
        /// The sequence number (0 unless given).
        seq: i64,
    },
    /// `end(seq)`
    End {
        /// The sequence number.
        seq: i64,
    },
    /// `error(seq)`
    Error {
        /// The sequence number.
        seq: i64,
    },
    /// `never`
    Never,
    /// `timer.*`
    Timer {
        /// The period.
        period: TimerPeriod,
        /// `.randomize(n)`: up to this much either way, in the period's unit.
        randomize: i64,
        /// One timer on every CPU (`timer.profile`).
        per_cpu: bool,
    },
    /// A kprobe or kretprobe (`kernel.function`, `module().statement`, `kprobe.*`).
    Kprobe {
        /// The kprobe's symbol (`MODULE:SYMBOL` for a module's).
        symbol: String,
        /// The offset into the symbol.
        offset: u64,
        /// `.return`: a kretprobe.
        ret: bool,
        /// `.maxactive(n)`, or 0.
        maxactive: i64,
        /// `.absolute`: a raw address of the running kernel instead of the symbol.
        addr: Option<u64>,
    },
    /// `kernel.trace("NAME")`
    Tracepoint {
        /// The tracepoint.
        name: String,
    },
    /// `perf.type(T).config(C)...`
    Perf {
        /// The perf event type.
        ty: i64,
        /// Its config.
        config: i64,
        /// `.sample(n)` (default 1 000 000).
        sample: i64,
        /// A per-process form (`.process`, `.counter`) or `.hz`, which the runtime refuses.
        unsupported: bool,
    },
    /// `perfmon.counter("EVENT")`
    Perfmon {
        /// The counter's handle (index into [`PERFMON_EVENTS`]).
        handle: usize,
        /// Its perf type.
        ty: u32,
        /// Its perf config.
        config: u64,
    },
    /// `process[(target)].EVENT`
    Process {
        /// The event.
        event: ProcessEvent,
        /// Which processes.
        filter: ProcessFilter,
    },
    /// A uprobe or uretprobe: `process("PATH").function("NAME")[.call|.return]`.
    Uprobe {
        /// Where it goes.
        site: UserSite,
        /// `.return`: a uretprobe.
        ret: bool,
    },
    /// `procfs[("PATH")].read|write`
    Procfs {
        /// The path under `/proc/systemtap/MODULE` (`command` unless given).
        path: String,
        /// A write probe (else a read probe).
        write: bool,
        /// `.maxsize(n)`: the most bytes a read probe's `$value` holds (0: the default).
        maxsize: i64,
        /// `.umask(n)`: permission bits taken from the file's mode (-1: none given).
        umask: i64,
    },
    /// `netfilter.hook("H").pf("PF")[.priority("P")]`
    Netfilter {
        /// The hook's number (`NF_INET_LOCAL_IN` is 1), as C: a number, or under `-g`
        /// any C identifier the script named.
        hook: String,
        /// The protocol family's number (`NFPROTO_IPV4` is 2), as C (the same way).
        pf: String,
        /// The hook's priority (0 unless given), as C (the same way).
        priority: String,
    },
}

/// A probe on one concrete point, with alias bodies folded into its body.
#[derive(Clone, Debug)]
pub struct Probe {
    /// The concrete point.
    pub point: ProbePoint,
    /// Its family.
    pub family: Family,
    /// What it attaches to.
    pub kind: ProbeKind,
    /// The points as the user wrote them (for `pp()` and the `-p2` listing).
    pub written: String,
    /// The one point of those this probe derives from, as written (for `pn()`).
    pub written_point: String,
    /// The outermost alias it came through, as matched (for `-l`/`-L`), if any.
    pub alias_point: Option<ProbePoint>,
    /// `if (cond)` of the user's point, if any.
    pub condition: Option<Expr>,
    /// Locals of the handler.
    pub locals: Arena<Local>,
    /// The handler: alias prologues, the user's body, alias epilogues.
    pub body: Block,
    /// Index of the user probe it derives from (probes of one `probe` share it).
    pub origin: usize,
    /// Where the user's probe is.
    pub span: Span,
}

/// An embedded-C block at file level.
#[derive(Clone, Debug)]
pub struct Embed {
    /// The code.
    pub code: String,
    /// Where it is.
    pub span: Span,
}

/// The whole elaborated program.
#[derive(Clone, Debug, Default)]
pub struct Program {
    /// Global variables.
    pub globals: Arena<Global>,
    /// Functions.
    pub functions: Arena<Function>,
    /// Derived probes.
    pub probes: Vec<Probe>,
    /// File-level embedded C of every included file.
    pub embeds: Vec<Embed>,
}

/// `{ statements }`
#[derive(Clone, Debug, Default)]
pub struct Block {
    /// The statements.
    pub stmts: Vec<Stmt>,
    /// Where it is.
    pub span: Span,
}

/// A statement.
#[derive(Clone, Debug)]
pub struct Stmt {
    /// What it is.
    pub kind: StmtKind,
    /// Where it is.
    pub span: Span,
}

/// A `foreach` loop over an array or histogram.
#[derive(Clone, Debug)]
pub struct Foreach {
    /// What is iterated: an array global or local, or a histogram expression.
    pub source: Expr,
    /// Key variables with optional sort directions.
    pub keys: Vec<(Var, Option<SortDir>)>,
    /// The variable receiving each value.
    pub value: Option<Var>,
    /// Sort by value (and with which statistic for stats arrays).
    pub value_sort: Option<(SortDir, Option<StatOp>)>,
    /// Key filters (None is `*`).
    pub slice: Option<Vec<Option<Expr>>>,
    /// `limit N`.
    pub limit: Option<Expr>,
    /// The body.
    pub body: Box<Stmt>,
}

/// What a statement is.
#[derive(Clone, Debug)]
pub enum StmtKind {
    /// `;`
    Null,
    /// `{ ... }`
    Block(Block),
    /// An expression for its effect.
    Expr(Expr),
    /// `if`
    If(Expr, Box<Stmt>, Option<Box<Stmt>>),
    /// `while`
    While(Expr, Box<Stmt>),
    /// `for`
    For(Option<Expr>, Option<Expr>, Option<Expr>, Box<Stmt>),
    /// `foreach`
    Foreach(Foreach),
    /// `return`
    Return(Option<Expr>),
    /// `delete`
    Delete(Expr),
    /// `break`
    Break,
    /// `continue`
    Continue,
    /// `next`
    Next,
    /// `try { } catch (v) { }`
    Try(Block, Option<Var>, Block),
}

/// An expression with its type.
#[derive(Clone, Debug)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Its type (filled in by inference).
    pub ty: Type,
    /// Where it is.
    pub span: Span,
}

/// A built-in printing function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrintKind {
    /// `print`, `println`, `sprint`, `sprintln`
    Print {
        /// Ends with a newline.
        newline: bool,
        /// Returns the string instead of printing.
        to_string: bool,
    },
    /// `printf`, `sprintf`
    Format {
        /// Returns the string instead of printing.
        to_string: bool,
    },
    /// `printd`, `printdln`, `sprintd`, `sprintdln`
    Delimited {
        /// Ends with a newline.
        newline: bool,
        /// Returns the string instead of printing.
        to_string: bool,
    },
}

/// What an expression is.
#[derive(Clone, Debug)]
pub enum ExprKind {
    /// A literal.
    Literal(Literal),
    /// A scalar variable.
    Var(Var),
    /// An array element (`a[k]`) or histogram bucket.
    Index(Box<Expr>, Vec<Option<Expr>>),
    /// A whole array used as a value (only as `foreach`/`delete`/`in` operand).
    Array(Var),
    /// `[k] in a`
    In(Vec<Option<Expr>>, Box<Expr>),
    /// A call of a script or tapset function.
    Call(FuncId, Vec<Expr>),
    /// A printing function.
    Print(PrintKind, Vec<Expr>),
    /// `l op r`
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `op e`
    Unary(UnOp, Box<Expr>),
    /// `++e`/`--e` (pre) and `e++`/`e--` (post)
    IncDec {
        /// Which.
        op: IncDec,
        /// True for the postfix form.
        post: bool,
        /// The variable or element.
        operand: Box<Expr>,
    },
    /// Assignment.
    Assign(AssignOp, Box<Expr>, Box<Expr>),
    /// `c ? a : b`
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `@count(s)` ...
    Stat(StatOp, Box<Expr>),
    /// `@hist_*(s)`
    Hist(HistKind, Box<Expr>),
    /// A target variable, cast or autocast.
    Target(Box<TargetExpr>),
    /// `@defined(e)` already decided.
    Defined(bool),
    /// `@entry(e)`
    Entry(Box<Expr>),
    /// `@perf("name")`
    Perf(String),
    /// `@const("NAME")`
    Const(String),
    /// `%{ code %}` as a value.
    Embedded(String),
}

/// Which histogram, with its (literal) bucket parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistKind {
    /// `@hist_linear(s, lo, hi, step)`
    Linear {
        /// Lowest bucket.
        lo: i64,
        /// Highest bucket.
        hi: i64,
        /// Bucket width.
        step: i64,
    },
    /// `@hist_log(s)`
    Log,
}

/// The most buckets a linear histogram may have (SystemTap's bound).
pub const HIST_LINEAR_MAX_BUCKETS: i128 = 1_000_000;

impl HistKind {
    /// A linear histogram's buckets between `lo` and `hi`, without the underflow and
    /// overflow buckets; computed without overflow, for any parameters.
    pub fn linear_buckets(lo: i64, hi: i64, step: i64) -> i128 {
        if step <= 0 || hi < lo {
            return 0;
        }
        (hi as i128 - lo as i128) / step as i128 + 1
    }

    /// The runtime's bucket count: the linear buckets plus underflow and overflow (0 for
    /// `@hist_log`, whose count is the runtime's own).  Validated IR keeps it in range.
    pub fn runtime_buckets(&self) -> i64 {
        match *self {
            HistKind::Linear { lo, hi, step } => (Self::linear_buckets(lo, hi, step) + 2) as i64,
            HistKind::Log => 0,
        }
    }
}

/// A target-variable access, resolved by the kernel resolver in later passes.
#[derive(Clone, Debug)]
pub struct TargetExpr {
    /// What is accessed.
    pub base: TargetBase,
    /// `->member` and `[index]` steps.
    pub components: Vec<TargetComponent>,
    /// `&`
    pub addressof: bool,
    /// `$`/`$$` pretty printing (0, 1 or 2).
    pub pretty: u8,
    /// For `$name` in a kernel probe: what the kernel resolver made of it (an error is
    /// reported only if the expression survives elision).
    pub resolved: Option<Result<ResolvedTarget, String>>,
}

/// A target variable resolved against the kernel's types: where its value starts, the
/// steps from there to the value the script reads, and what that value is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedTarget {
    /// Where the value starts.
    pub source: TargetSource,
    /// The steps, in order, on a 64-bit value that is a number or an address.
    pub ops: Vec<TargetOp>,
    /// What the script gets.
    pub result: TargetResult,
    /// The C type of the value (for `-L` and messages).
    pub c_type: String,
    /// For `$var$`: the members of the struct the value is (or points to), in SystemTap's
    /// `{.a=1, .b="x", .p=0x..., .s={...}}` layout (empty for other values).
    pub pretty: Vec<PrettyField>,
    /// For `$var$$`: the same with nested structs shown too (three levels).
    pub pretty_deep: Vec<PrettyField>,
}

/// One piece of a pretty-printed struct: text, then (unless [`PrettyKind::Text`]) a member
/// read with `ops` from the struct's address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrettyField {
    /// The text before the value (`{.name=`, `, .name=`, or closing braces).
    pub text: String,
    /// From the struct's address to the member's value.
    pub ops: Vec<TargetOp>,
    /// How the value is shown.
    pub kind: PrettyKind,
}

/// How a pretty-printed member is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrettyKind {
    /// Text only.
    Text,
    /// A number, in decimal.
    Number,
    /// A pointer, in hex.
    Pointer,
    /// A char array, quoted.
    String {
        /// The array's length.
        max: u32,
    },
}

/// Where a resolved target variable's value starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetSource {
    /// The function's n-th parameter (0-based) at entry, by the calling convention (in a
    /// `.return` probe: as saved at entry).
    Param(u32),
    /// The function's return value (`$return`).
    Return,
    /// The tracepoint's n-th argument (0-based).
    TracepointArg(u32),
    /// `$$parms` and friends: `name=value` pairs, each a parameter shown in hex.
    Pairs(Vec<(String, TargetSource)>),
    /// A value of a type narrower than 64 bits: its low `size` bytes, sign-extended when
    /// `signed` (a `$$parms` entry: `int` -1 is `0xffffffffffffffff`, as in SystemTap).
    Narrowed {
        /// The full register or argument.
        src: Box<TargetSource>,
        /// Bytes kept.
        size: u8,
        /// Sign-extend.
        signed: bool,
    },
    /// The value of a `@cast`'s first operand: the address of an object of the cast type.
    Value,
    /// DWARF register `n` (x86-64 numbering) at the probed instruction.
    DwarfReg(u16),
    /// A constant DWARF gives as the value.
    Const(i64),
    /// A netfilter hook's verdict (`$verdict`): what the hook returns, assignable under `-g`.
    Verdict,
    /// A procfs probe's `$value`: what a write probe received (read), or what a read probe
    /// returns (assigned, or appended to with `.=`).
    ProcfsValue,
    /// A string known when translating (an SDT marker's `$$name` and `$$provider`).
    Text(String),
    /// A value computed by steps from a source: a `$$parms` entry of an SDT marker whose
    /// argument is in memory.
    Operand {
        /// Where it starts.
        src: Box<TargetSource>,
        /// The steps (ending in a load or a narrowing).
        ops: Vec<TargetOp>,
    },
}

/// An arithmetic step of a DWARF location expression ([`TargetOp::Arith`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOp {
    /// `&`
    And,
    /// `|`
    Or,
    /// `^`
    Xor,
    /// `*`
    Mul,
    /// `<<`
    Shl,
    /// `>>`, logical
    Shr,
    /// `>>`, arithmetic
    Shra,
    /// unary `-`
    Neg,
    /// unary `~`
    Not,
}

/// One step of a [`ResolvedTarget`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetOp {
    /// Keeps the low `size` bytes, sign-extending when `signed`.
    Narrow {
        /// Bytes kept.
        size: u8,
        /// Sign-extend.
        signed: bool,
    },
    /// Adds a constant (a member's offset).
    Add(i64),
    /// Adds the value of component `component`'s index expression times `scale`.
    AddIndex {
        /// Which `[expr]` of the target expression.
        component: usize,
        /// The element size.
        scale: u64,
    },
    /// Reads `size` bytes at the address, fault-safely, sign-extending when `signed`.
    Load {
        /// Bytes read.
        size: u8,
        /// Sign-extend.
        signed: bool,
    },
    /// Applies a DWARF location's arithmetic: `value = value OP k` (`k` unused by the
    /// unary operations).
    Arith {
        /// The operation.
        op: ArithOp,
        /// Its constant operand.
        k: i64,
    },
    /// Adds DWARF register `reg` times `scale` (an SDT operand's index register).
    AddReg {
        /// The register (x86-64 DWARF numbering).
        reg: u16,
        /// Its multiplier.
        scale: u8,
    },
    /// Keeps bits `shift..shift+bits` of the value (a bitfield).
    Bits {
        /// Lowest bit.
        shift: u8,
        /// Width.
        bits: u8,
        /// Sign-extend.
        signed: bool,
    },
}

/// What a resolved target variable gives the script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetResult {
    /// A number (integers, enums, pointers).
    Long,
    /// The string at the address, at most `max` bytes (char arrays).
    String {
        /// The array's length.
        max: u32,
    },
    /// A struct, union or array: only its address (`&`) can be used; the message says why
    /// its value cannot.
    Aggregate(String),
}

/// The base of a [`TargetExpr`].
#[derive(Clone, Debug)]
pub enum TargetBase {
    /// `$name`, `$$vars` ...
    Var(String),
    /// `@cast(expr, "type", "module")`
    Cast {
        /// The pointer.
        expr: Box<Expr>,
        /// The type.
        ty: String,
        /// The module.
        module: Option<String>,
    },
    /// `@var("name", "module")`
    AtVar {
        /// The variable.
        name: String,
        /// The module.
        module: Option<String>,
    },
    /// An autocast value.
    Auto(Box<Expr>),
}

/// One step of a [`TargetExpr`].
#[derive(Clone, Debug)]
pub enum TargetComponent {
    /// `->name`
    Member(String),
    /// `[expr]`
    Index(Expr),
}
