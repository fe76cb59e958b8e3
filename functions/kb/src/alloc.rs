//! Allocator tuning. The embedder allocates and frees large tensors at every layer; with
//! memory returned to the OS at once, a quarter of its time went to page faults. Keeping
//! freed memory (mimalloc's purge delay -1) removes that cost. The model's thread count is
//! fixed here too, before the runtime's threads start (`fix_thread_count`).

/// `mi_option_purge_delay` in mimalloc's option enum (v2 and v3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

pub fn tune() {
    #[allow(unsafe_code)]
    // SAFETY: mi_option_set only stores an integer in mimalloc's option table; it is called
    // once, before any other thread exists.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
    }
    #[allow(unsafe_code)]
    // SAFETY: called once, before any other thread exists.
    unsafe {
        kb_shared::adapters::candle_embedder::fix_thread_count();
    }
}
