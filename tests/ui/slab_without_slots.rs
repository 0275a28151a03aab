#[tickslab::main(slab(size = 512))]
async fn main() {}
