"""Stage ③ by running: build spec networks as nn.Modules, construct outside models, count what
torch dispatches, time forward passes, measure device peaks. The only package that imports torch;
the API reaches it through `cnnprof.api.sources` alone."""
