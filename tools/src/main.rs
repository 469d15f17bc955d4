//! The `wmpush` command line.

fn main() {
    eprintln!("wmpush: not implemented yet");
    std::process::exit(2);
}
