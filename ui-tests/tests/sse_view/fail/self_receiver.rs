use sse_runtime::prelude::*;

struct Clock;

impl Clock {
    #[sse_view("/time")]
    async fn time(&self, sse: &mut Sse) {
        sse.add_message("time", "now");
    }
}

fn main() {}
