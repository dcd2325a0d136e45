//! Sluice's validation kernels: plain loops over Arrow column buffers, no allocation, no
//! dependencies. Everything here is safe Rust and tested natively with `cargo test`; the only
//! `unsafe` lives in `ffi.rs`, where raw pointers from JavaScript become slices.
// no_std where it ships (wasm32); native builds (cargo test, clippy) link std for the harness.
// Nothing here uses std: the wasm32 build fails if anything starts to.
#![cfg_attr(target_arch = "wasm32", no_std)]

pub mod aml;
pub mod cipher;
pub mod codes;
pub mod column;
pub mod dict;
pub mod fields;
pub mod iban;
pub mod modulus;
pub mod sanctions;
pub mod validate;

#[cfg(target_arch = "wasm32")]
mod ffi;

#[cfg(all(target_arch = "wasm32", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}
