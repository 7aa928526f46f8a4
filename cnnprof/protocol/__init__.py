"""How a latency is measured, whatever runs the model: warm-up until stable, then timed runs
until ``runs``, ``min_time`` or the deadline (`runs`), and several models measured interleaved
round by round (`interleave`). Each runtime (torch eager in `cnnprof.empirical`, ONNX Runtime in
`cnnprof.deploy`) gives a function that times one run; the protocol decides how many runs, so
every runtime is timed by the same code. No torch, no onnx."""
