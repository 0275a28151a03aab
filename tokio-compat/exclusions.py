"""tokio's test files that cannot apply to tickslab, each with the reason.

A file listed here is left out of the rates (and is not compiled). Everything else in
tokio's `tests/` folder counts as applicable: a file that fails because tickslab lacks an
item, refuses multi-thread flavors at compile time, or names a type that is `!Send` by design
stays in the denominator, so the rate says how far a renamed tokio test suite gets.
"""

UNSTABLE = "needs `--cfg tokio_unstable` (unstable API, not compiled by tokio's default test run)"
URING = "tokio_unstable io-uring file backend (tokio internals)"
TASKDUMP = "tokio_unstable taskdump (tokio::runtime::dump, task tracing internals)"
TRACING = "tokio_unstable `tracing` instrumentation of tokio internals"
EMSCRIPTEN = "emscripten target only"
WINDOWS = "Windows only"
WASM = "wasm32 target only"
FREEBSD = "FreeBSD AIO only"
MULTI = "multi-thread scheduler only (worker threads, work stealing)"

EXCLUDED = {
    "_require_full.rs": "build guard: checks the test crate's own `full` feature, tests nothing",
    "dump.rs": TASKDUMP,
    "task_trace_self.rs": TASKDUMP,
    "task_trace_wake.rs": TASKDUMP,
    "fs_uring.rs": URING,
    "fs_uring_cancel_open.rs": URING,
    "fs_uring_completed_then_dropped_before_repoll.rs": URING,
    "fs_uring_file_read.rs": URING,
    "fs_uring_no_io.rs": URING,
    "fs_uring_read.rs": URING,
    "fs_uring_rename.rs": URING,
    "fs_uring_runtime_shutdown.rs": URING,
    "fs_uring_statx.rs": URING,
    "fs_uring_statx_fd_leak_test.rs": URING,
    "fs_open_options_windows.rs": WINDOWS,
    "fs_symlink_dir_windows.rs": WINDOWS,
    "fs_symlink_file_windows.rs": WINDOWS,
    "net_named_pipe.rs": WINDOWS + " (named pipes)",
    "io_emscripten.rs": EMSCRIPTEN,
    "rt_emscripten_block_on.rs": EMSCRIPTEN,
    "rt_emscripten_jspi.rs": EMSCRIPTEN,
    "rt_multi_thread_emscripten.rs": EMSCRIPTEN,
    "sync_emscripten_blocking.rs": EMSCRIPTEN,
    "task_emscripten.rs": EMSCRIPTEN,
    "time_wasm.rs": WASM,
    "io_poll_aio.rs": FREEBSD,
    "signal_info.rs": "BSD, macOS and illumos only (SIGINFO); empty on Linux",
    "process_raw_handle.rs": WINDOWS + " (process raw handles)",
    "rt_threaded.rs": MULTI,
    "rt_busy_tick.rs": MULTI + " (3 of its 4 tests build a multi-thread runtime; max_io_events_per_busy_tick)",
    "rt_worker_index.rs": MULTI + " (worker_index of multi-thread workers)",
    "rt_blocking_thread_exhaust.rs": MULTI + " (blocking pool exhaustion under a multi-thread runtime)",
    "rt_metrics.rs": "runtime metrics (`Handle::metrics`, tokio scheduler internals; listed out of scope in the brief)",
    "rt_unstable_metrics.rs": UNSTABLE + "; runtime metrics",
    "rt_unstable_eager_driver_handoff.rs": MULTI + " (driver handoff between two workers; the fix itself is tokio_unstable)",
    "rt_poll_callbacks.rs": UNSTABLE + " (on_before_task_poll hooks)",
    "task_builder.rs": UNSTABLE + " (task::Builder)",
    "task_hooks.rs": UNSTABLE + " (task spawn/terminate hooks)",
    "task_yield_now.rs": UNSTABLE + " (yield_now under the unstable LocalRuntime checks)",
    "time_alt.rs": UNSTABLE + " (alternative timer wheel, multi-thread)",
    "tracing_sync.rs": TRACING,
    "tracing_task.rs": TRACING,
    "tracing_time.rs": TRACING,
}
