//! modelbench's entry point: parse arguments, run the command, map the outcome to an
//! exit code (0 ok, 1 failure, 2 usage; clap exits with 2 on its own).

use clap::Parser;

fn main() {
    let cli = modelbench::cli::Cli::parse();
    if let Err(err) = modelbench::cli::run(cli) {
        // The whole cause chain on one line, each cause once. Errors quote upstream and
        // lock text: no control character of theirs reaches the terminal raw.
        let message = modelbench::lock::values::escape_message(&modelbench::cli::report(&err));
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}
