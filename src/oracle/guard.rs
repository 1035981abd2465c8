//! tract panics on some malformed graphs (shape rules that index with an
//! attribute or a constant unchecked: a `Squeeze` axis out of range, found
//! by the oracle fuzz smoke run, and more of the kind). thaw cannot patch
//! tract, and a precheck can only cover what is visible without shapes, so
//! every call into tract's preparation and run goes through [`catch`]: a
//! panic there becomes an error naming the step, instead of ending the
//! process.
//!
//! A panic hook runs before unwinding, and the command line's (and
//! libFuzzer's) ends the process there. [`catch`] therefore installs, once,
//! a hook that wraps the one in place: on a thread inside [`catch`] it only
//! records the message and lets the panic unwind to `catch_unwind`; on every
//! other thread, and outside [`catch`], it calls the previous hook.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

thread_local! {
    static GUARDED: Cell<bool> = const { Cell::new(false) };
    static MESSAGE: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

fn install() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if GUARDED.with(Cell::get) {
                let at = info
                    .location()
                    .map(|l| format!(" (at {}:{})", l.file(), l.line()))
                    .unwrap_or_default();
                let text = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".into());
                MESSAGE.with(|m| *m.borrow_mut() = Some(format!("{text}{at}")));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `f`; a panic inside it is returned as its message.
pub(super) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install();
    let outer = GUARDED.with(|g| g.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(outer));
    result.map_err(|_| {
        MESSAGE
            .with(|m| m.borrow_mut().take())
            .unwrap_or_else(|| "a panic".into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_becomes_its_message_and_outside_still_panics() {
        let r: Result<(), String> = catch(|| {
            let v: Vec<u8> = vec![];
            let i = v.len() + 3;
            let _ = v[i];
        });
        let msg = r.unwrap_err();
        assert!(msg.contains("index out of bounds"), "{msg}");
        assert!(msg.contains("guard.rs"), "{msg}");
        assert_eq!(catch(|| 7), Ok(7));
        // Outside `catch` a panic is still a panic.
        let outside = std::panic::catch_unwind(|| panic!("plain"));
        assert!(outside.is_err());
    }
}
