async fn f() {
    tickslab::select! {}
}

fn main() {}
