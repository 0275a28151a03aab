#[tickslab::main]
fn main() {}
