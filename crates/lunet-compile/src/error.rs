//! The errors of the back end and of a compiled [`crate::Program`]'s methods. Input the
//! compiler refuses is a [`crate::Diagnostic`]; these are the rest. (A leaf: virtual
//! registers and labels are named by number, so the passes import this file and not the
//! other way round.)

/// Why [`crate::Program::patch_map_fds`] or [`crate::Program::count_verdicts`] failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProgramError {
    /// Maps the program loads were given no fd (by name, each once).
    #[error("no fd for map(s) {}", .0.join(", "))]
    MissingFds(Vec<String>),
    /// A map load recorded in [`crate::Program::maps`] is past the program's end.
    #[error("map load {0} is past the program")]
    MapLoadPastEnd(usize),
    /// The counters' key needs 8 more bytes of stack than the hook leaves.
    #[error("counting verdicts needs 8 more bytes of stack than the hook's {0} (512 at most)")]
    NoStackForCounters(usize),
    /// An exit too far from the epilogue for a jump.
    #[error("counting verdicts: an exit farther than 32767 instructions from the end")]
    ExitTooFar,
}

/// Why liveness, dead code removal, register allocation or emission failed: a hook too
/// large for the program's limits, or a compiler bug. The pipeline reports either as an
/// internal [`crate::Diagnostic`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodegenError {
    #[error("the hook is too large to allocate registers ({blocks} blocks, {values} values)")]
    TooLargeToAllocate { blocks: usize, values: usize },
    /// More values live at once than the registers and the stack slots can hold.
    #[error(
        "more than {slots} values are live at once: the hook needs more than 512 bytes of stack"
    )]
    OutOfSlots { slots: usize },
    #[error("spill of a value not in a register")]
    SpillNotInRegister,
    /// A virtual register the emitter met that the allocator placed nowhere.
    #[error("v{0} has no location")]
    NoLocation(u32),
    #[error("the hook needs {0} bytes of stack (512 at most)")]
    StackTooLarge(usize),
    #[error("label L{0} was never placed")]
    LabelNotPlaced(u32),
    #[error("a jump farther than 32767 instructions")]
    JumpTooFar,
    #[error("the program has more than a million instructions")]
    TooManyInstructions,
    #[error("a dynptr slice in a program that is not for netfilter")]
    NotNetfilter,
}
