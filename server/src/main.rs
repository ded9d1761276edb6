fn main() {
    eprintln!("alma-ext-server: not implemented yet");
    std::process::exit(1);
}
