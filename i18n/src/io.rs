//! The operating system's reasons (`No such file or directory (os error
//! 2)`) in the user's language, for both binaries.

use std::io;

use crate::{msg, Message};

/// An I/O error as a message: the system's reason (`No such file or
/// directory (os error 2)`) in the user's language when it is a common
/// one, anything before it (a path) as it is. `Display` stays the
/// error's own English text.
pub fn io_message(e: &io::Error) -> Message {
    let text = e.to_string();
    let reasons = [
        (1, msg!("Operation not permitted")),
        (2, msg!("No such file or directory")),
        (13, msg!("Permission denied")),
        (16, msg!("Device or resource busy")),
        (17, msg!("File exists")),
        (20, msg!("Not a directory")),
        (21, msg!("Is a directory")),
        (28, msg!("No space left on device")),
        (30, msg!("Read-only file system")),
        (39, msg!("Directory not empty")),
        (40, msg!("Too many levels of symbolic links")),
        (98, msg!("Address already in use")),
        (99, msg!("Cannot assign requested address")),
    ];
    for (code, reason) in reasons {
        let tail = format!("{reason} (os error {code})");
        if let Some(prefix) = text.strip_suffix(&tail) {
            return msg!(
                "{prefix}{reason} (os error {code})",
                prefix = prefix,
                reason = reason,
                code = code
            );
        }
    }
    msg!("{error}", error = text)
}
