//! modelbench's entry point: parse arguments, run the command, map the outcome to an
//! exit code (0 ok, 1 failure, 2 usage; clap exits with 2 on its own).

use clap::Parser;

fn main() {
    tune_allocator();
    let cli = modelbench::cli::Cli::parse();
    if let Err(err) = modelbench::cli::run(cli) {
        // The whole cause chain on one line, each cause once. Errors quote upstream and
        // lock text: no control character of theirs reaches the terminal raw.
        let message = modelbench::lock::values::escape_message(&modelbench::cli::report(&err));
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

/// A fixed mmap threshold for glibc's malloc. By default glibc raises the threshold to
/// the size of each large block freed (up to 32 MiB) and its trim threshold to twice
/// that: once a 16 MiB download buffer is freed, every list below that size comes from
/// the heap and what is freed there stays resident. An apt lock of Debian trixie builds
/// lists of a few MiB after such downloads; with the threshold fixed at 1 MiB its peak
/// RSS is 13 MiB lower at the same wall time (`benches/apt_lock`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    // SAFETY: mallopt only sets a malloc parameter; it runs first, before any other
    // thread exists or allocates.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}
