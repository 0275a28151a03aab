//! Channels: same-thread (`oneshot`, `mpsc`) and cross-thread (game thread <-> runtime).
