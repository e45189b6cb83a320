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
#[path = "09_detach.rs"]
mod s09_detach;
#[path = "10_alias.rs"]
mod s10_alias;
#[path = "11_refcount.rs"]
mod s11_refcount;
#[path = "13_default.rs"]
mod s13_default;
#[path = "14_signal_tree.rs"]
mod s14_signal_tree;
#[path = "15_os_signals.rs"]
mod s15_os_signals;
#[path = "16_die_exceptions.rs"]
mod s16_die_exceptions;
#[path = "17_sig_child.rs"]
mod s17_sig_child;
#[path = "18_postback_callback.rs"]
mod s18_postback_callback;
#[path = "19_select_read_write.rs"]
mod s19_select_read_write;
#[path = "20_select_pause_resume.rs"]
mod s20_select_pause_resume;
#[path = "22_wheel_readwrite_line.rs"]
mod s22_wheel_readwrite_line;
#[path = "23_filter_line_edges.rs"]
mod s23_filter_line_edges;
#[path = "25_run_returns.rs"]
mod s25_run_returns;
#[path = "26_call_reentrancy.rs"]
mod s26_call_reentrancy;
#[path = "27_dynamic_states.rs"]
mod s27_dynamic_states;
#[path = "28_kernel_stop.rs"]
mod s28_kernel_stop;
#[cfg(feature = "process")]
#[path = "31_wheel_run.rs"]
mod s31_wheel_run;
#[path = "33_component_tcp.rs"]
mod s33_component_tcp;
#[path = "34_listen_accept_socketfactory.rs"]
mod s34_listen_accept_socketfactory;
#[path = "35_followtail.rs"]
mod s35_followtail;
#[path = "41_queue_priority.rs"]
mod s41_queue_priority;
#[path = "42_timer_ids_adjust.rs"]
mod s42_timer_ids_adjust;
#[path = "43_remove_all_then_stop.rs"]
mod s43_remove_all_then_stop;
#[path = "44_stop_hands_children_up.rs"]
mod s44_stop_hands_children_up;
#[path = "45_detach_myself_later.rs"]
mod s45_detach_myself_later;
#[path = "46_gc_sweep_order.rs"]
mod s46_gc_sweep_order;
#[path = "47_stop_cannot_post.rs"]
mod s47_stop_cannot_post;
#[path = "48_post_holds_sender.rs"]
mod s48_post_holds_sender;
#[path = "49_watcher_holds_session.rs"]
mod s49_watcher_holds_session;
#[path = "50_sig_vs_sig_child_lifetime.rs"]
mod s50_sig_vs_sig_child_lifetime;
#[path = "51_signal_to_kernel.rs"]
mod s51_signal_to_kernel;
#[path = "52_sig_replace_remove.rs"]
mod s52_sig_replace_remove;
#[path = "53_sig_handled_saves_all.rs"]
mod s53_sig_handled_saves_all;
#[path = "54_idle_zombie_refcount.rs"]
mod s54_idle_zombie_refcount;
#[path = "55_die_in_call.rs"]
mod s55_die_in_call;
#[path = "56_die_in_stop.rs"]
mod s56_die_in_stop;
#[path = "57_callback_postback_release.rs"]
mod s57_callback_postback_release;
#[path = "58_sig_child_two.rs"]
mod s58_sig_child_two;
#[path = "59_run_one_timeslice_end.rs"]
mod s59_run_one_timeslice_end;
#[path = "60_state_late_binding.rs"]
mod s60_state_late_binding;
#[path = "61_call_missing_handler.rs"]
mod s61_call_missing_handler;
#[path = "62_yield_interleave_rounds.rs"]
mod s62_yield_interleave_rounds;
#[path = "63_id_lookups.rs"]
mod s63_id_lookups;
#[path = "64_filter_list_bytes.rs"]
mod s64_filter_list_bytes;
#[path = "65_filter_list_stacked.rs"]
mod s65_filter_list_stacked;
#[path = "66_caller_state_file_line.rs"]
mod s66_caller_state_file_line;
#[path = "67_session_options.rs"]
mod s67_session_options;
#[path = "68_die_origin.rs"]
mod s68_die_origin;
#[path = "69_stop_all_then_free.rs"]
mod s69_stop_all_then_free;
#[path = "70_stop_then_free.rs"]
mod s70_stop_then_free;
#[path = "71_wheel_errstr.rs"]
mod s71_wheel_errstr;
#[path = "72_wheel_event_rename.rs"]
mod s72_wheel_event_rename;
#[path = "73_select_expedite.rs"]
mod s73_select_expedite;
#[path = "74_readwrite_flushed_order.rs"]
mod s74_readwrite_flushed_order;
#[path = "75_wheel_event_rename_more.rs"]
mod s75_wheel_event_rename_more;
#[path = "76_server_tcp_listener.rs"]
mod s76_server_tcp_listener;
