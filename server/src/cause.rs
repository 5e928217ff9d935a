//! What went wrong, in words: the innermost error of a chain names the cause
//! ("connection refused") where the outer ones only say what was being done.

pub fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
