//! The abstract syntax tree of one SystemTap file.
//!
//! Every node carries a [`Span`].  The tree follows SystemTap's own staptree: a file holds
//! embedded-C blocks, globals, probe aliases, probes and functions; probes and functions
//! hold statements; statements hold expressions.

use crate::source::Span;

/// One parsed file: the user script or a tapset.
#[derive(Clone, Debug, Default)]
pub struct File {
    /// The file's name (as given on the command line or the tapset path).
    pub name: String,
    /// Top-level `%{ ... %}` blocks.
    pub embeds: Vec<Embed>,
    /// `global` declarations.
    pub globals: Vec<Global>,
    /// Probe aliases (`probe a = b { }` and `probe a += b { }`).
    pub aliases: Vec<ProbeAlias>,
    /// Probes.
    pub probes: Vec<Probe>,
    /// Functions.
    pub functions: Vec<Function>,
}

/// An identifier with its location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it is.
    pub span: Span,
}

/// A block of embedded C: `%{ ... %}`.
#[derive(Clone, Debug)]
pub struct Embed {
    /// The code between the delimiters, verbatim.
    pub code: String,
    /// Where the whole block is.
    pub span: Span,
}

/// A literal value: a number or a string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Literal {
    /// A 64-bit integer.
    Number(i64),
    /// A string, in canonical escaped form (see [`crate::lexer::canonical_string`]).
    String(String),
}

/// A `global` declaration.
#[derive(Clone, Debug)]
pub struct Global {
    /// The variable.
    pub name: Ident,
    /// Declared `private`.
    pub private: bool,
    /// `global a%`: the array wraps around instead of overflowing.
    pub wrap: bool,
    /// `global a[N]`: the array's capacity.
    pub size: Option<i64>,
    /// `global a = 1`: the initial value.
    pub init: Option<Literal>,
    /// The whole declaration.
    pub span: Span,
}

/// A declared type: `:long` or `:string`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeName {
    /// `long`
    Long,
    /// `string`
    String,
}

/// A function parameter.
#[derive(Clone, Debug)]
pub struct Param {
    /// Its name.
    pub name: Ident,
    /// Its declared type, if any.
    pub ty: Option<TypeName>,
}

/// A function's body: script statements or embedded C.
#[derive(Clone, Debug)]
pub enum FunctionBody {
    /// `{ ... }`
    Block(Block),
    /// `%{ ... %}`
    Embedded(Embed),
}

/// A `function` definition.
#[derive(Clone, Debug)]
pub struct Function {
    /// Its name.
    pub name: Ident,
    /// Declared `private`.
    pub private: bool,
    /// Declared return type, if any.
    pub ret: Option<TypeName>,
    /// Parameters.
    pub params: Vec<Param>,
    /// `:N` overload priority, if given.
    pub priority: Option<i64>,
    /// The body.
    pub body: FunctionBody,
    /// The whole definition.
    pub span: Span,
}

/// One component of a probe point: `kernel`, `function("foo")`, `*`, `sys_*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Component {
    /// The name, possibly with `*` wildcards.
    pub name: String,
    /// The literal parameter, if any.
    pub arg: Option<Literal>,
    /// Where it is.
    pub span: Span,
}

/// A probe point: dotted components with optional `?`, `!` and `if (cond)`.
#[derive(Clone, Debug)]
pub struct ProbePoint {
    /// The components.
    pub components: Vec<Component>,
    /// `?`: no error if the point resolves to nothing.
    pub optional: bool,
    /// `!`: optional, and stops trying further points once this one resolves.
    pub sufficient: bool,
    /// `if (cond)`: the probe fires only when cond is true.
    pub condition: Option<Expr>,
    /// Where it is.
    pub span: Span,
}

/// A `probe` definition.
#[derive(Clone, Debug)]
pub struct Probe {
    /// The points it probes.
    pub points: Vec<ProbePoint>,
    /// Declared `private` (only meaningful for aliases; kept for completeness).
    pub private: bool,
    /// The handler.
    pub body: Block,
    /// The `probe` keyword through the probe points.
    pub span: Span,
}

/// A probe alias: `probe name = points { prologue }` or `probe name += points { epilogue }`.
#[derive(Clone, Debug)]
pub struct ProbeAlias {
    /// The names being defined.
    pub names: Vec<ProbePoint>,
    /// `+=`: the body runs after the user's handler.
    pub epilogue: bool,
    /// Declared `private`.
    pub private: bool,
    /// What the alias expands to.
    pub points: Vec<ProbePoint>,
    /// The prologue (`=`) or epilogue (`+=`).
    pub body: Block,
    /// `probe a = b { prologue }, { epilogue }`: an epilogue as well.
    pub also_epilogue: Option<Block>,
    /// The `probe` keyword through the target points.
    pub span: Span,
}

/// `{ statements }`
#[derive(Clone, Debug)]
pub struct Block {
    /// The statements.
    pub stmts: Vec<Stmt>,
    /// From `{` to `}`.
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

/// Sort direction in `foreach`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortDir {
    /// `+`: ascending.
    Asc,
    /// `-`: descending.
    Desc,
}

/// A `foreach` loop.
#[derive(Clone, Debug)]
pub struct Foreach {
    /// `v = [k] in a`: the variable receiving each value.
    pub value: Option<Ident>,
    /// The key variables, each with its optional sort direction.
    pub keys: Vec<(Ident, Option<SortDir>)>,
    /// True when the keys were written in brackets.
    pub bracketed: bool,
    /// The array (a symbol) or histogram (`@hist_*`) iterated over.
    pub array: Expr,
    /// `a[k, *]`: key filters (None is `*`).
    pub slice: Option<Vec<Option<Expr>>>,
    /// `a@count+`: the statistic the value sort uses.
    pub stat: Option<StatOp>,
    /// `a+`/`a-`: sort by value.
    pub value_sort: Option<SortDir>,
    /// `limit N`.
    pub limit: Option<Expr>,
    /// The loop body.
    pub body: Box<Stmt>,
}

/// What a statement is.
#[derive(Clone, Debug)]
pub enum StmtKind {
    /// `;`
    Null,
    /// `{ ... }`
    Block(Block),
    /// An expression evaluated for its effect.
    Expr(Expr),
    /// `if (c) s else s`
    If {
        /// The condition.
        cond: Expr,
        /// Taken when true.
        then: Box<Stmt>,
        /// Taken when false.
        otherwise: Option<Box<Stmt>>,
    },
    /// `while (c) s`
    While {
        /// The condition.
        cond: Expr,
        /// The body.
        body: Box<Stmt>,
    },
    /// `for (init; cond; incr) s`
    For {
        /// Run once first.
        init: Option<Expr>,
        /// Loop while true (absent: forever).
        cond: Option<Expr>,
        /// Run after each iteration.
        incr: Option<Expr>,
        /// The body.
        body: Box<Stmt>,
    },
    /// `foreach (...) s`
    Foreach(Foreach),
    /// `return` or `return e`
    Return(Option<Expr>),
    /// `delete e`
    Delete(Expr),
    /// `break`
    Break,
    /// `continue`
    Continue,
    /// `next`
    Next,
    /// `try { } catch (msg) { }`
    Try {
        /// The guarded block.
        body: Block,
        /// The variable receiving the error message.
        var: Option<Ident>,
        /// The handler.
        handler: Block,
    },
}

/// Binary operators (arithmetic, bitwise, comparison, string).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `<<`
    Shl,
    /// `>>`
    Shr,
    /// `&`
    BitAnd,
    /// `|`
    BitOr,
    /// `^`
    BitXor,
    /// `&&`
    And,
    /// `||`
    Or,
    /// `.`
    Concat,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `=~`
    Match,
    /// `!~`
    NotMatch,
}

impl BinOp {
    /// The operator's spelling.
    pub fn as_str(self) -> &'static str {
        use BinOp::*;
        match self {
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Mod => "%",
            Shl => "<<",
            Shr => ">>",
            BitAnd => "&",
            BitOr => "|",
            BitXor => "^",
            And => "&&",
            Or => "||",
            Concat => ".",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            Eq => "==",
            Ne => "!=",
            Match => "=~",
            NotMatch => "!~",
        }
    }
}

/// Assignment operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignOp {
    /// `=`
    Assign,
    /// `<<<`: add a value to a statistic.
    Aggregate,
    /// `op=` for the binary operator.
    Compound(BinOp),
}

impl AssignOp {
    /// The operator's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AssignOp::Assign => "=",
            AssignOp::Aggregate => "<<<",
            AssignOp::Compound(op) => match op {
                BinOp::Add => "+=",
                BinOp::Sub => "-=",
                BinOp::Mul => "*=",
                BinOp::Div => "/=",
                BinOp::Mod => "%=",
                BinOp::Shl => "<<=",
                BinOp::Shr => ">>=",
                BinOp::BitAnd => "&=",
                BinOp::BitOr => "|=",
                BinOp::BitXor => "^=",
                BinOp::Concat => ".=",
                _ => "?=",
            },
        }
    }
}

/// Prefix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    /// `-`
    Neg,
    /// `+`
    Plus,
    /// `!`
    Not,
    /// `~`
    BitNot,
}

impl UnOp {
    /// The operator's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            UnOp::Neg => "-",
            UnOp::Plus => "+",
            UnOp::Not => "!",
            UnOp::BitNot => "~",
        }
    }
}

/// `++` or `--`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncDec {
    /// `++`
    Incr,
    /// `--`
    Decr,
}

impl IncDec {
    /// The operator's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            IncDec::Incr => "++",
            IncDec::Decr => "--",
        }
    }
}

/// Statistic extractors: `@count(s)` and friends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatOp {
    /// `@count`
    Count,
    /// `@sum`
    Sum,
    /// `@min`
    Min,
    /// `@max`
    Max,
    /// `@avg`
    Avg,
    /// `@variance`, with the bit shift of `@variance(s, b)` when given (0 to 62).
    Variance(Option<u8>),
}

impl StatOp {
    /// The operator's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StatOp::Count => "@count",
            StatOp::Sum => "@sum",
            StatOp::Min => "@min",
            StatOp::Max => "@max",
            StatOp::Avg => "@avg",
            StatOp::Variance(_) => "@variance",
        }
    }

    /// The extractor named `name` (with its `@`).
    pub fn from_name(name: &str) -> Option<StatOp> {
        Some(match name {
            "@count" => StatOp::Count,
            "@sum" => StatOp::Sum,
            "@min" => StatOp::Min,
            "@max" => StatOp::Max,
            "@avg" => StatOp::Avg,
            "@variance" => StatOp::Variance(None),
            _ => return None,
        })
    }
}

/// A histogram of a statistic.
#[derive(Clone, Debug)]
pub enum Hist {
    /// `@hist_linear(s, lo, hi, step)`
    Linear {
        /// Lowest bucket.
        lo: Box<Expr>,
        /// Highest bucket.
        hi: Box<Expr>,
        /// Bucket width.
        step: Box<Expr>,
    },
    /// `@hist_log(s)`
    Log,
}

/// One step of a target-variable access.
#[derive(Clone, Debug)]
pub enum TargetComponent {
    /// `->name` (a member; keywords allowed).
    Member(Ident),
    /// `[expr]`
    Index(Expr),
}

/// A target-variable access: `$var->f[2]$`, `@cast(...)->f`, `@var(...)`, or an autocast.
#[derive(Clone, Debug)]
pub struct Target {
    /// What is being accessed.
    pub base: TargetBase,
    /// `->member` and `[index]` steps.
    pub components: Vec<TargetComponent>,
    /// `&`: the address instead of the value.
    pub addressof: bool,
    /// `$` (1) or `$$` (2) pretty-printing suffix.
    pub pretty: u8,
}

/// The base of a [`Target`].
#[derive(Clone, Debug)]
pub enum TargetBase {
    /// `$name`, `$$vars`, `$$parms`, `$$locals`, `$$return` (the name includes the `$`s).
    Var(String),
    /// `@cast(expr, "type" [, "module"])`
    Cast {
        /// The pointer.
        expr: Box<Expr>,
        /// The type name.
        ty: String,
        /// The module holding the type, if given.
        module: Option<String>,
    },
    /// `@var("name[@file]" [, "module"])`
    AtVar {
        /// The variable (and CU file) name.
        name: String,
        /// The module, if given.
        module: Option<String>,
    },
    /// Any other value followed by target components (SystemTap's autocast).
    Auto(Box<Expr>),
}

/// An expression.
#[derive(Clone, Debug)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is.
    pub span: Span,
}

/// What an expression is.
#[derive(Clone, Debug)]
pub enum ExprKind {
    /// A number or string literal.
    Literal(Literal),
    /// A variable.
    Symbol(String),
    /// `a[i, j]`
    Index {
        /// The array (a symbol) or histogram.
        base: Box<Expr>,
        /// The keys (None is `*`, allowed where a slice is: `delete`, `foreach`).
        indexes: Vec<Option<Expr>>,
    },
    /// `[i, *] in a`
    In {
        /// The keys (None is `*`).
        keys: Vec<Option<Expr>>,
        /// The array.
        array: Box<Expr>,
    },
    /// `f(args)` (including the printing functions).
    Call {
        /// The function name.
        name: Ident,
        /// The arguments.
        args: Vec<Expr>,
    },
    /// `l op r`
    Binary {
        /// The operator.
        op: BinOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `op e`
    Unary {
        /// The operator.
        op: UnOp,
        /// The operand.
        operand: Box<Expr>,
    },
    /// `++e` / `--e`
    PreIncDec {
        /// The operator.
        op: IncDec,
        /// The operand.
        operand: Box<Expr>,
    },
    /// `e++` / `e--`
    PostIncDec {
        /// The operator.
        op: IncDec,
        /// The operand.
        operand: Box<Expr>,
    },
    /// `l = r`, `l += r`, `s <<< v` ...
    Assign {
        /// The operator.
        op: AssignOp,
        /// The target.
        lhs: Box<Expr>,
        /// The value.
        rhs: Box<Expr>,
    },
    /// `c ? a : b`
    Ternary {
        /// The condition.
        cond: Box<Expr>,
        /// Value when true.
        then: Box<Expr>,
        /// Value when false.
        otherwise: Box<Expr>,
    },
    /// `@count(s)` ...
    Stat {
        /// The extractor.
        op: StatOp,
        /// The statistic.
        operand: Box<Expr>,
    },
    /// `@hist_linear(...)` / `@hist_log(...)`
    Hist {
        /// Which histogram.
        hist: Hist,
        /// The statistic.
        operand: Box<Expr>,
    },
    /// A target variable or cast.
    Target(Box<Target>),
    /// `@defined(e)`
    Defined(Box<Expr>),
    /// `@entry(e)`
    Entry(Box<Expr>),
    /// `@perf("name")`
    Perf(String),
    /// `@probewrite(var)`: whether the probe's handler assigns `var`.
    ProbeWrite(Ident),
    /// `@const("NAME")`: a constant of the kernel's C headers (guru mode or tapsets).
    Const(String),
    /// `%{ code %}` used as a value.
    Embedded(String),
}

impl Expr {
    /// An expression of `kind` at `span`.
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr { kind, span }
    }
}
