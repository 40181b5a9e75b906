//! The `paper_trader` command line: everything lives in the library (`paper_trader::cli`), so
//! a program with its own strategy kinds gets the same commands (`examples/custom_strategy`).

/// mimalloc, not the system allocator: a replay allocates on three threads (records and
/// parse buffers on the read-ahead thread, outputs and quotes on the engine's, batches on the
/// journal's), where glibc's malloc took its slow paths (sizes past its thread cache, blocks
/// freed by another thread than the one that allocated them): malloc and free were 4-5% of the
/// engine's and the read-ahead thread's instructions. Built without transparent huge pages
/// (`no_thp`), and freed pages are returned at once (`main`): peak RSS stays where glibc's
/// was. No output depends on where a block lies.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

extern "C" {
    /// mimalloc's `mi_option_set` (`mimalloc.h`; the library is linked by the crate).
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// `mi_option_purge_delay` in `mimalloc.h`'s option enum (the same index in v2 and v3).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

fn main() -> std::process::ExitCode {
    // Purge freed pages without delay: with mimalloc's default (1 s) a short replay kept ~5 MiB
    // more resident at its peak than with glibc.
    // SAFETY: sets a plain integer option, before any other thread exists.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    paper_trader::cli::main()
}
