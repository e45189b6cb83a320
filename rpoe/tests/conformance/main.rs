//! Conformance twins: each module rebuilds the sessions of one POE 1.37
//! script in `conformance/perl/` and checks that rpoe prints the same trace
//! as the recorded `NN_name.expected` (see `conformance/README.md`).
//!
//! Differences that come from the kernel are listed in `KERNEL_ISSUES.md`
//! beside this file; those twins are left failing on purpose.

#[macro_use]
mod common;

#[path = "01_start_stop_order.rs"]
mod s01_start_stop_order;
#[path = "02_post_yield_call.rs"]
mod s02_post_yield_call;
#[path = "04_delay_order.rs"]
mod s04_delay_order;
#[path = "06_timer_api_returns.rs"]
mod s06_timer_api_returns;
#[path = "07_child_create_lose.rs"]
mod s07_child_create_lose;
#[path = "19_select_read_write.rs"]
mod s19_select_read_write;
#[path = "20_select_pause_resume.rs"]
mod s20_select_pause_resume;
#[path = "25_run_returns.rs"]
mod s25_run_returns;
#[path = "26_call_reentrancy.rs"]
mod s26_call_reentrancy;
#[path = "27_dynamic_states.rs"]
mod s27_dynamic_states;
#[path = "28_kernel_stop.rs"]
mod s28_kernel_stop;
